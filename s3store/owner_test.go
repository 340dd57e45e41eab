package s3store_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/datalfs/datalfs/internal/mems3"
	"github.com/datalfs/datalfs/s3store"
	"github.com/datalfs/datalfs/transfer"
	"github.com/datalfs/datalfs/transfer/storetest"
)

// isCreate reports a CreateMultipartUpload request.
func isCreate(r *http.Request) bool {
	return r.Method == http.MethodPost && r.URL.Query().Has("uploads")
}

// isComplete reports a CompleteMultipartUpload request.
func isComplete(r *http.Request) bool {
	return r.Method == http.MethodPost && r.URL.Query().Has("uploadId")
}

func accessDenied(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(http.StatusForbidden)
	io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`)
}

// objectIs fails the test unless the bucket holds data under oid.
func objectIs(t *testing.T, srv *mems3.Server, s *s3store.Store, oid string, data []byte) {
	t.Helper()
	out, err := srv.Client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("bucket"), Key: aws.String(s.Location().Key(oid))})
	if err != nil {
		t.Fatalf("get %s: %v", oid, err)
	}
	defer out.Body.Close()
	got, err := io.ReadAll(out.Body)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("stored object differs from the file (%d bytes, err %v)", len(got), err)
	}
}

// interruptAt runs an upload that is cut off (as by a killed push) while
// the server receives part num, leaving the upload pending.
func interruptAt(t *testing.T, srv *mems3.Server, s *s3store.Store, oid string, data []byte, num string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPut || r.URL.Query().Get("partNumber") != num {
			return false
		}
		cancel()
		_, _ = io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
		w.WriteHeader(http.StatusServiceUnavailable)
		return true
	})
	defer srv.Intercept(nil)
	if err := s.Upload(ctx, oid, int64(len(data)), bytes.NewReader(data), func(int64) {}); err == nil {
		t.Fatal("interrupted upload succeeded")
	}
	if n := pendingUploads(t, srv); n != 1 {
		t.Fatalf("%d pending uploads after an interruption, want 1", n)
	}
}

// TestResumeListingRefused: a role without the listing permissions
// (ListMultipartUploads, ListParts) still pushes a large object that an
// interrupted push left pending: a refused listing means "nothing to resume".
func TestResumeListingRefused(t *testing.T) {
	srv := mems3.Start(t, "bucket")
	const size = 3*5<<20 + 10
	data, oid := storetest.Object(size, 21)
	interruptAt(t, srv, newPartStore(t, srv, 1), oid, data, "2")

	var refused atomic.Int32
	srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		q := r.URL.Query()
		if r.Method == http.MethodGet && (q.Has("uploads") || q.Has("uploadId")) {
			refused.Add(1)
			accessDenied(w)
			return true
		}
		return false
	})
	s := newPartStore(t, srv, 2)
	if err := s.Upload(context.Background(), oid, size, bytes.NewReader(data), func(int64) {}); err != nil {
		t.Fatalf("upload with listings refused: %v", err)
	}
	srv.Intercept(nil)
	if refused.Load() == 0 {
		t.Fatal("no listing was asked for: the test proves nothing")
	}
	objectIs(t, srv, s, oid, data)
}

// TestTwoUploadersOfOneObject: a second push of an object that a live
// process is uploading (two remotes sharing a bucket, two worktrees) never
// joins the first one's multipart upload; neither its success nor its
// failure breaks the first one, which completes too.
func TestTwoUploadersOfOneObject(t *testing.T) {
	srv := mems3.Start(t, "bucket")
	const size = 3 * 5 << 20
	data, oid := storetest.Object(size, 22)
	first, second := newPartStore(t, srv, 1), newPartStore(t, srv, 1)

	var (
		mu       sync.Mutex
		firstID  string
		holding  bool
		joined   int // requests of the second uploader on the first's upload
		creates  int
		held     = make(chan struct{})
		released = make(chan struct{})
	)
	srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		q := r.URL.Query()
		mu.Lock()
		if isCreate(r) {
			creates++
		}
		hold := false
		switch {
		case firstID == "" && r.Method == http.MethodPut && q.Get("partNumber") == "2":
			firstID, holding, hold = q.Get("uploadId"), true, true
		case holding && q.Get("uploadId") == firstID:
			joined++
		}
		mu.Unlock()
		if hold {
			close(held) // the first uploader is mid-upload...
			<-released  // ...until the second one is done
		}
		return false
	})
	firstErr := make(chan error, 1)
	go func() {
		firstErr <- first.Upload(context.Background(), oid, size, bytes.NewReader(data), func(int64) {})
	}()
	<-held

	damaged := bytes.Clone(data)
	damaged[size-1] ^= 1
	if err := second.Upload(context.Background(), oid, size, bytes.NewReader(damaged), func(int64) {}); !errors.Is(err, transfer.ErrDigestMismatch) {
		t.Errorf("second upload of damaged content: %v, want ErrDigestMismatch", err)
	}
	if err := second.Upload(context.Background(), oid, size, bytes.NewReader(data), func(int64) {}); err != nil {
		t.Errorf("second upload: %v", err)
	}
	mu.Lock()
	holding = false
	mu.Unlock()
	close(released)
	if err := <-firstErr; err != nil {
		t.Errorf("first upload, after the second one finished: %v", err)
	}
	srv.Intercept(nil)
	if joined != 0 || creates != 3 {
		t.Errorf("second uploader sent %d requests on the first's upload and %d uploads were created; want 0 and 3 (one each)", joined, creates)
	}
	objectIs(t, srv, first, oid, data)
	if n := pendingUploads(t, srv); n != 0 {
		t.Errorf("%d uploads left pending", n)
	}
}

// TestUploadGone: an upload that disappears while being sent (completed by
// another process, aborted by `datalfs uploads --abort` or a lifecycle rule)
// is done when the object is there, and started afresh when it is not.
func TestUploadGone(t *testing.T) {
	for _, stored := range []bool{true, false} {
		name := map[bool]string{true: "object stored meanwhile", false: "object absent"}[stored]
		t.Run(name, func(t *testing.T) {
			srv := mems3.Start(t, "bucket")
			const size = 3 * 5 << 20
			data, oid := storetest.Object(size, 23)
			s := newPartStore(t, srv, 1)
			var creates, once atomic.Int32
			srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
				q := r.URL.Query()
				if isCreate(r) {
					creates.Add(1)
				}
				if r.Method == http.MethodPut && q.Get("partNumber") == "2" && once.Add(1) == 1 {
					key := s.Location().Key(oid)
					if _, err := srv.Client.AbortMultipartUpload(r.Context(), &s3.AbortMultipartUploadInput{
						Bucket: aws.String("bucket"), Key: &key, UploadId: aws.String(q.Get("uploadId"))}); err != nil {
						t.Errorf("abort: %v", err)
					}
					if stored {
						srv.Put(t, "bucket", key, data)
					}
				}
				return false
			})
			if err := s.Upload(context.Background(), oid, size, bytes.NewReader(data), func(int64) {}); err != nil {
				t.Fatalf("upload whose multipart upload vanished: %v", err)
			}
			srv.Intercept(nil)
			if want := map[bool]int32{true: 1, false: 2}[stored]; creates.Load() != want {
				t.Errorf("%d uploads created, want %d", creates.Load(), want)
			}
			objectIs(t, srv, s, oid, data)
			if n := pendingUploads(t, srv); n != 0 {
				t.Errorf("%d uploads left pending", n)
			}
		})
	}
}

// TestMultipartShortRead: a file that ends before the size git-lfs
// announced (it shrank during the push) fails with a message that says so,
// and no part padded with stale bytes is sent.
func TestMultipartShortRead(t *testing.T) {
	srv := mems3.Start(t, "bucket")
	const size = 3*5<<20 + 2000
	data, oid := storetest.Object(size, 24)
	s := newPartStore(t, srv, 1)
	err := s.Upload(context.Background(), oid, size, bytes.NewReader(data[:size-1000]), func(int64) {})
	if err == nil || errors.Is(err, transfer.ErrDigestMismatch) || !strings.Contains(err.Error(), "changed during the push") {
		t.Fatalf("upload of a file that shrank: %v; want an error saying it changed", err)
	}
	if n := srv.Requests(mems3.UploadPart); n != 3 {
		t.Errorf("%d parts sent, want the 3 whole ones, not the short last part", n)
	}
	if n := pendingUploads(t, srv); n != 0 {
		t.Errorf("%d uploads left pending", n)
	}
}

// TestMultipartMemory: what an upload allocates does not grow with the part
// size: it streams parts from the file instead of holding
// (Concurrency+1) parts in memory.
func TestMultipartMemory(t *testing.T) {
	srv := mems3.Start(t, "bucket")
	const partSize = 16 << 20
	const size = 4 * partSize
	data, oid := storetest.Object(size, 25)
	// The server discards the parts, so that only the client allocates.
	srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		switch {
		case r.Method == http.MethodPut && r.URL.Query().Has("partNumber"):
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("ETag", `"0"`)
			return true
		case isComplete(r):
			io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUploadResult><ETag>"0-4"</ETag></CompleteMultipartUploadResult>`)
			return true
		}
		return false
	})
	loc, err := s3store.ParseURL(srv.URL + "/bucket/repo")
	if err != nil {
		t.Fatal(err)
	}
	opts := s3store.DefaultOptions()
	opts.MultipartThreshold, opts.PartSize, opts.Concurrency = 5<<20, partSize, 4
	s, err := s3store.New(context.Background(), loc, opts)
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if err := s.Upload(context.Background(), oid, size, bytes.NewReader(data), func(int64) {}); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	got := after.TotalAlloc - before.TotalAlloc
	t.Logf("a %d MiB upload in %d MiB parts, %d at a time, allocated %.1f MiB in all", size>>20, partSize>>20, opts.Concurrency, float64(got)/(1<<20))
	if got > partSize/2 {
		t.Errorf("a %d MiB upload in %d MiB parts allocated %d MiB; want well under one part", size>>20, partSize>>20, got>>20)
	}
}

// TestSlowComplete: a CompleteMultipartUpload whose answer takes much
// longer than the idle timeout (S3 may take minutes to assemble a large
// object) is waited for, not abandoned and retried, and the caller hears
// that the upload is alive while it waits.
func TestSlowComplete(t *testing.T) {
	for _, early := range []bool{false, true} {
		name := map[bool]string{false: "status late", true: "status early, body late"}[early]
		t.Run(name, func(t *testing.T) {
			srv := mems3.Start(t, "bucket")
			const size = 2*5<<20 + 1
			data, oid := storetest.Object(size, 26)
			loc, err := s3store.ParseURL(srv.URL + "/bucket/repo")
			if err != nil {
				t.Fatal(err)
			}
			opts := s3store.DefaultOptions()
			opts.MultipartThreshold, opts.PartSize, opts.Concurrency = 5<<20, 5<<20, 2
			opts.IdleTimeout = 200 * time.Millisecond
			s, err := s3store.New(context.Background(), loc, opts)
			if err != nil {
				t.Fatal(err)
			}
			var completes atomic.Int32
			// Parts are taken at once (a loaded machine must not trip the
			// short idle timeout elsewhere); the completion takes long.
			srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
				switch {
				case r.Method == http.MethodPut && r.URL.Query().Has("partNumber"):
					_, _ = io.Copy(io.Discard, r.Body)
					w.Header().Set("ETag", `"0"`)
					return true
				case !isComplete(r):
					return false
				}
				completes.Add(1)
				t.Logf("complete attempt %s at %v", r.Header.Get("Amz-Sdk-Request"), time.Now().Format("05.000"))
				if early {
					w.WriteHeader(http.StatusOK)
					w.(http.Flusher).Flush()
				}
				<-time.After(10 * opts.IdleTimeout) // the server assembles the object
				_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUploadResult><ETag>"0-3"</ETag></CompleteMultipartUploadResult>`)
				return true
			})
			var alive atomic.Int32
			err = s.Upload(context.Background(), oid, size, bytes.NewReader(data), func(n int64) {
				if n == 0 {
					alive.Add(1)
				}
			})
			srv.Intercept(nil)
			if err != nil {
				t.Fatalf("upload with a slow completion: %v", err)
			}
			if completes.Load() != 1 {
				t.Errorf("%d completion requests, want 1", completes.Load())
			}
			if alive.Load() == 0 {
				t.Error("no progress(0) while waiting for the completion")
			}
		})
	}
}
