package s3store_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/datalfs/datalfs/internal/mems3"
	"github.com/datalfs/datalfs/s3store"
)

func newObjects(t *testing.T, srv *mems3.Server) *s3store.Objects {
	t.Helper()
	opts := s3store.DefaultOptions()
	opts.MaxAttempts = 3
	opts.MaxBackoff = 1 // no wait between attempts
	st, err := s3store.New(context.Background(), s3store.Location{Bucket: "data", Endpoint: srv.URL}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return st.Objects()
}

// cutBody answers a GET with the full Content-Length but only the first
// half of the object, then drops the connection.
func cutBody(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Header().Set("ETag", `"whole-etag"`)
	w.WriteHeader(http.StatusOK)
	w.Write(body[:len(body)/2])
	w.(http.Flusher).Flush()
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

// TestObjectReaderResumes: a body cut short is continued from the byte it
// stopped at, pinned to the same ETag, and the caller reads every byte once.
func TestObjectReaderResumes(t *testing.T) {
	srv := mems3.Start(t, "data")
	data := bytes.Repeat([]byte("0123456789abcdef"), 64<<10/16)
	srv.Put(t, "data", "a/obj", data)
	var mu sync.Mutex
	var ifMatch []string
	gets := 0
	srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/a/obj") {
			return false
		}
		mu.Lock()
		defer mu.Unlock()
		gets++
		ifMatch = append(ifMatch, r.Header.Get("If-Match"))
		if gets == 1 {
			cutBody(w, data)
			return true
		}
		return false
	})
	o := newObjects(t, srv)
	r, err := o.Open(context.Background(), "a/obj", "")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes, not the object's %d", len(got), len(data))
	}
	if ranges := srv.Ranges(); len(ranges) != 1 || ranges[0] != "bytes="+strconv.Itoa(len(data)/2)+"-" {
		t.Errorf("ranged GETs %q, want one from the cut", ranges)
	}
	if len(ifMatch) != 2 || ifMatch[1] != `"whole-etag"` {
		t.Errorf("If-Match headers %q, want the first answer's ETag on the resumed GET", ifMatch)
	}
}

// TestObjectReaderChanged: an object overwritten between two parts of a
// download is an error, never a file spliced from two versions.
func TestObjectReaderChanged(t *testing.T) {
	srv := mems3.Start(t, "data")
	data := bytes.Repeat([]byte("x"), 64<<10)
	srv.Put(t, "data", "a/obj", data)
	gets := 0
	srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/a/obj") {
			return false
		}
		gets++
		switch {
		case gets == 1:
			cutBody(w, data)
		case r.Header.Get("If-Match") != "":
			w.WriteHeader(http.StatusPreconditionFailed)
		default:
			w.WriteHeader(http.StatusInternalServerError)
		}
		return true
	})
	r, err := newObjects(t, srv).Open(context.Background(), "a/obj", "")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, err = io.ReadAll(r)
	if err == nil || !strings.Contains(err.Error(), "changed while it was read") {
		t.Fatalf("read = %v, want an error saying the object changed", err)
	}
}

// TestObjectReaderGivesUp: a body that breaks on every attempt ends in a
// BodyError after the store's number of attempts, however many bytes each
// attempt brought.
func TestObjectReaderGivesUp(t *testing.T) {
	srv := mems3.Start(t, "data")
	data := bytes.Repeat([]byte("y"), 64<<10)
	srv.Put(t, "data", "a/obj", data)
	gets := 0
	srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/a/obj") {
			return false
		}
		gets++
		w.Header().Set("Content-Length", "100000")
		w.WriteHeader(http.StatusOK)
		w.Write(data[:100])
		w.(http.Flusher).Flush()
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			conn.Close()
		}
		return true
	})
	r, err := newObjects(t, srv).Open(context.Background(), "a/obj", "")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, err = io.ReadAll(r)
	var be *s3store.BodyError
	if !errors.As(err, &be) || be.Attempts != 3 {
		t.Fatalf("read = %v, want a BodyError after 3 attempts", err)
	}
	if gets != 3 {
		t.Errorf("%d GETs, want 3", gets)
	}
}

// TestObjectsNotFound: a missing object and a missing version are
// ErrNoSuchObject, for Head and Open alike.
func TestObjectsNotFound(t *testing.T) {
	srv := mems3.Start(t, "data")
	o := newObjects(t, srv)
	ctx := context.Background()
	if _, err := o.Head(ctx, "nope", ""); !errors.Is(err, s3store.ErrNoSuchObject) {
		t.Errorf("Head of a missing key = %v, want ErrNoSuchObject", err)
	}
	if _, err := o.Open(ctx, "nope", ""); !errors.Is(err, s3store.ErrNoSuchObject) {
		t.Errorf("Open of a missing key = %v, want ErrNoSuchObject", err)
	}
}
