package transfer_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/datalfs/datalfs/s3store"
	"github.com/datalfs/datalfs/transfer"
	"github.com/datalfs/datalfs/transfer/storetest"
)

// slowCompleteStore moves every byte at once, then waits for its server
// (a multipart completion) for several stall timeouts, saying so with
// progress(0) until done is closed.
type slowCompleteStore struct {
	transfer.Store
	done <-chan struct{}
}

func (slowCompleteStore) Stat(context.Context, string) (int64, error) {
	return 0, fmt.Errorf("missing: %w", fs.ErrNotExist)
}

func (s slowCompleteStore) Upload(ctx context.Context, _ string, size int64, _ io.ReaderAt, progress func(int64)) error {
	progress(size)
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			progress(0)
		}
	}
}

// TestUploadWaitingIsNotStalled: an upload whose bytes have all moved and
// that waits for the server's answer longer than the stall timeout, saying
// it is alive, is not given up.
func TestUploadWaitingIsNotStalled(t *testing.T) {
	r := newRig(t)
	data, oid := storetest.Object(100, 3)
	done := make(chan struct{})
	stall := 500 * time.Millisecond                 // fifty ticks: no scheduler delay fakes a stall
	time.AfterFunc(4*stall, func() { close(done) }) // the server answers at last
	a := &transfer.Agent{Open: func(context.Context, string, string) (*transfer.Target, error) {
		return &transfer.Target{Store: slowCompleteStore{done: done}, TempDir: r.tempDir, StallTimeout: stall}, nil
	}}
	in := initUpload + "\n" + req(map[string]any{"event": "upload", "oid": oid, "size": 100, "path": r.file(t, "o", data)}) + "\n"
	var out bytes.Buffer
	if err := a.Serve(context.Background(), strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), `"error"`) {
		t.Fatalf("an upload waiting for its completion was given up: %s", out.String())
	}
}

// TestUploadMarksOldObjectInUse: a push that finds an object stored long
// ago sends nothing but an in-use marker for gc; when the marker may not be
// written it uploads the object again, which refreshes it as well.
func TestUploadMarksOldObjectInUse(t *testing.T) {
	for _, denied := range []bool{false, true} {
		t.Run(map[bool]string{false: "marker written", true: "marker refused"}[denied], func(t *testing.T) {
			r := newRig(t)
			data, oid := storetest.Object(3000, 4)
			r.srv.Put(t, "bucket", r.loc.Key(oid), data)
			r.srv.Advance(48 * time.Hour)
			if denied {
				r.srv.Intercept(func(w http.ResponseWriter, q *http.Request) bool {
					if q.Method == http.MethodPut && strings.Contains(q.URL.Path, "/datalfs/") {
						w.WriteHeader(http.StatusForbidden)
						io.WriteString(w, `<Error><Code>AccessDenied</Code></Error>`)
						return true
					}
					return false
				})
			}
			before := r.srv.Requests("PUT")
			got, err := r.serve(t, initUpload, req(map[string]any{"event": "upload", "oid": oid, "size": 3000, "path": r.file(t, "o", data)}))
			if err != nil || got[len(got)-1]["error"] != nil {
				t.Fatalf("push: %v %v", err, got)
			}
			marker := "repo/datalfs/in-use/" + oid
			keys := r.srv.Keys(t, "bucket", "")
			hasMarker := len(keys) == 2 && keys[0] == marker
			if !denied && (!hasMarker || r.srv.Requests("PUT")-before != 1) {
				t.Errorf("bucket holds %q after %d PUTs; want the object and its marker %s, from 1 PUT", keys, r.srv.Requests("PUT")-before, marker)
			}
			if denied && (hasMarker || r.srv.Requests("PUT")-before != 2) {
				t.Errorf("marker refused: bucket holds %q after %d PUTs; want the object sent again (2 PUTs: the refused marker and the object)", keys, r.srv.Requests("PUT")-before)
			}
			// A second push right after finds both fresh: nothing more.
			before = r.srv.Requests("PUT")
			if _, err := r.serve(t, initUpload, req(map[string]any{"event": "upload", "oid": oid, "size": 3000, "path": r.file(t, "o", data)})); err != nil {
				t.Fatal(err)
			}
			if n := r.srv.Requests("PUT") - before; n != 0 {
				t.Errorf("a push right after sent %d PUTs, want 0", n)
			}
		})
	}
}

// TestConditionalUploadMarksOldObjectInUse: when the conditional PUT finds
// the object already stored (412), the push relies on it just as when a
// HEAD finds it, so an old object gets its in-use marker for gc too.
func TestConditionalUploadMarksOldObjectInUse(t *testing.T) {
	r := newRig(t)
	data, oid := storetest.Object(3000, 5)
	r.srv.Put(t, "bucket", r.loc.Key(oid), data)
	r.srv.Advance(48 * time.Hour)
	a := &transfer.Agent{
		Open: func(ctx context.Context, op, remote string) (*transfer.Target, error) {
			s, err := s3store.New(ctx, r.loc, s3store.DefaultOptions())
			if err != nil {
				return nil, err
			}
			return &transfer.Target{Store: s, TempDir: r.tempDir}, nil // conditional PUT not hidden
		},
		ProgressInterval: time.Hour,
	}
	t.Setenv("XDG_CACHE_HOME", t.TempDir()) // the conditional-write verdict is cached per user
	var out bytes.Buffer
	in := initUpload + "\n" + req(map[string]any{"event": "upload", "oid": oid, "size": 3000, "path": r.file(t, "o", data)}) + "\n"
	if err := a.Serve(context.Background(), strings.NewReader(in), &out); err != nil || strings.Contains(out.String(), `"error"`) {
		t.Fatalf("push: %v %s", err, out.String())
	}
	keys := r.srv.Keys(t, "bucket", "repo/")
	if len(keys) != 2 || keys[0] != "repo/datalfs/in-use/"+oid {
		t.Errorf("bucket holds %q; want the object and its in-use marker", keys)
	}
}
