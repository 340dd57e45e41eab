package gc

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/datalfs/datalfs/s3store"
	"github.com/datalfs/datalfs/transfer"
	"github.com/datalfs/datalfs/transfer/storetest"
)

// push runs the real transfer agent over one upload request for data.
func push(t *testing.T, s *s3store.Store, data []byte, oid string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "obj")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	a := &transfer.Agent{Open: func(context.Context, string, string) (*transfer.Target, error) {
		return &transfer.Target{Store: s, TempDir: dir}, nil
	}}
	req, _ := json.Marshal(map[string]any{"event": "upload", "oid": oid, "size": len(data), "path": path})
	in := `{"event":"init","operation":"upload","remote":"origin"}` + "\n" + string(req) + "\n"
	var out bytes.Buffer
	if err := a.Serve(context.Background(), strings.NewReader(in), &out); err != nil || strings.Contains(out.String(), `"error"`) {
		t.Fatalf("push: %v %s", err, out.String())
	}
}

// TestPushRelyingOnOldObjectThenStaleGC is the interleaving of issue 11:
// a push finds an object already stored, long ago, and skips it; gc then
// runs from a clone that has not fetched that push, so nothing it sees
// refers to the object, which is far past the grace period. gc must keep
// it. Without the push's marker (the control) the same object is garbage.
func TestPushRelyingOnOldObjectThenStaleGC(t *testing.T) {
	ctx := context.Background()
	const day = 24 * time.Hour
	const grace = 30 * day
	for _, pushed := range []bool{true, false} {
		name := map[bool]string{true: "pushed", false: "control, no push"}[pushed]
		t.Run(name, func(t *testing.T) {
			srv, loc, s := memStore(ctx, t)
			data, oid := storetest.Object(1000, 31)
			srv.Put(t, "bucket", loc.Key(oid), data) // stored by an old push
			srv.Advance(100 * day)
			if pushed {
				push(t, s, data, oid) // finds it stored (by HEAD or a refused conditional PUT): sends only the marker
				head, err := srv.Client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bucket"), Key: aws.String(loc.Key(oid))})
				if err != nil {
					t.Fatal(err)
				}
				if age := s3store.ServerTime(head.ResultMetadata).Sub(aws.ToTime(head.LastModified)); age < 99*day {
					t.Fatalf("the object is %v old after the push, want 100 days: the push rewrote it instead of marking it", age)
				}
				if keys := srv.Keys(t, "bucket", "repo/datalfs/in-use/"); len(keys) != 1 {
					t.Fatalf("in-use markers after the push: %q, want one for %s", keys, oid)
				}
			}
			srv.Advance(grace - 2*time.Hour) // gc runs near the end of the push's grace window
			plan, err := MakePlan(ctx, s, Refs{}, grace)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range Delete(ctx, s, plan, 4) {
				if d.Err != nil {
					t.Fatal(d.Err)
				}
			}
			_, statErr := s.Stat(ctx, oid)
			if pushed && statErr != nil {
				t.Fatalf("gc from a stale clone deleted an object a push relied on %v before (grace %v): %v", grace-2*time.Hour, grace, statErr)
			}
			if !pushed && statErr == nil {
				t.Fatal("control: an unreferenced object past the grace period was kept")
			}
			if !pushed {
				return
			}
			// Once the marker too is past the grace period, both go.
			srv.Advance(4 * time.Hour)
			plan, err = MakePlan(ctx, s, Refs{}, grace)
			if err != nil {
				t.Fatal(err)
			}
			if len(plan.Garbage) != 1 || len(plan.StaleMarkers) != 1 {
				t.Fatalf("later plan: %d garbage, %d stale markers; want 1 and 1", len(plan.Garbage), len(plan.StaleMarkers))
			}
			Delete(ctx, s, plan, 4)
			if keys := srv.Keys(t, "bucket", ""); len(keys) != 0 {
				t.Errorf("bucket after the later gc holds %q, want nothing", keys)
			}
		})
	}
}

// TestPushDuringGC: a push that relies on an old object after gc listed the
// bucket (listing a large bucket takes minutes) but before gc deletes it:
// gc looks at the object again right before deleting it, and keeps it.
func TestPushDuringGC(t *testing.T) {
	ctx := context.Background()
	srv, loc, s := memStore(ctx, t)
	data, oid := storetest.Object(1000, 32)
	srv.Put(t, "bucket", loc.Key(oid), data)
	srv.Advance(100 * 24 * time.Hour)
	plan, err := MakePlan(ctx, s, Refs{}, 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Garbage) != 1 {
		t.Fatalf("plan has %d garbage, want the old object", len(plan.Garbage))
	}
	push(t, s, data, oid) // between gc's listing and its deletion
	got := Delete(ctx, s, plan, 4)
	if len(got) != 1 || !got[0].InUse || got[0].Err != nil {
		t.Errorf("Delete = %+v, want the object kept as in use", got)
	}
	if _, err := s.Stat(ctx, oid); err != nil {
		t.Fatalf("gc deleted an object a push relied on while gc ran: %v", err)
	}
}
