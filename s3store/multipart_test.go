package s3store_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/datalfs/datalfs/internal/mems3"
	"github.com/datalfs/datalfs/s3store"
	"github.com/datalfs/datalfs/transfer"
	"github.com/datalfs/datalfs/transfer/storetest"
)

func newPartStore(t *testing.T, srv *mems3.Server, concurrency int) *s3store.Store {
	loc, err := s3store.ParseURL(srv.URL + "/bucket/repo")
	if err != nil {
		t.Fatal(err)
	}
	opts := s3store.DefaultOptions()
	opts.MultipartThreshold = 5 << 20
	opts.PartSize = 5 << 20
	opts.Concurrency = concurrency
	s, err := s3store.New(context.Background(), loc, opts)
	if err != nil {
		t.Fatal(err)
	}
	s.KeepUploadsIn(recordDir(t))
	return s
}

var recordDirs sync.Map // test name -> dir

// recordDir is one test's repository temp dir: the stores of one test
// stand for processes pushing from one repository.
func recordDir(t *testing.T) string {
	d, _ := recordDirs.LoadOrStore(t.Name(), t.TempDir())
	return d.(string)
}

// TestMultipartResume interrupts a multipart upload after some parts, then
// uploads again: the parts already in the bucket are not sent again.
func TestMultipartResume(t *testing.T) {
	srv := mems3.Start(t, "bucket")
	const size = 8*5<<20 + 1000 // 9 parts
	data, oid := storetest.Object(size, 11)

	s := newPartStore(t, srv, 1)
	ctx, cancel := context.WithCancel(context.Background())
	// The push is killed while the server is receiving part 4: the server
	// holds that request until the client's cancellation closes the
	// connection, and never stores it. (Cancelling from the client's
	// progress alone raced: on loopback a loaded machine could finish
	// sending part 4 before the transport saw the cancellation.)
	srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPut || r.URL.Query().Get("partNumber") != "4" {
			return false
		}
		cancel()
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		return true
	})
	err := s.Upload(ctx, oid, size, bytes.NewReader(data), func(int64) {})
	srv.Intercept(nil)
	if err == nil {
		t.Fatal("interrupted upload succeeded")
	}
	if _, err := s.Stat(context.Background(), oid); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("after an interrupted multipart upload Stat error = %v, want not found", err)
	}
	if n := pendingUploads(t, srv); n != 1 {
		t.Fatalf("%d pending uploads; want the interrupted one kept for resuming", n)
	}
	before := srv.Requests(mems3.UploadPart)

	s = newPartStore(t, srv, 3) // a new process, other settings
	var progress atomic.Int64   // parts report from several goroutines
	if err := s.Upload(context.Background(), oid, size, bytes.NewReader(data), func(n int64) { progress.Add(n) }); err != nil {
		t.Fatalf("resumed upload: %v", err)
	}
	if sentAgain := srv.Requests(mems3.UploadPart) - before; sentAgain != 6 {
		t.Errorf("resumed upload sent %d parts, want 6 (3 of 9 were already stored)", sentAgain)
	}
	if progress.Load() != size {
		t.Errorf("resumed upload progress = %d, want %d", progress.Load(), size)
	}
	buf := make([]byte, 0, size)
	out, err := srv.Client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("bucket"), Key: aws.String(s.Location().Key(oid))})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Body.Close()
	b := bytes.NewBuffer(buf)
	if _, err := b.ReadFrom(out.Body); err != nil || !bytes.Equal(b.Bytes(), data) {
		t.Fatalf("object after resume differs from the file (err %v)", err)
	}
	if n := pendingUploads(t, srv); n != 0 {
		t.Errorf("%d uploads still pending after completion", n)
	}
}

// TestMultipartResumeRejectsChangedParts: stored parts whose bytes differ
// from the file's are sent again, and the object is right.
func TestMultipartResumeRejectsChangedParts(t *testing.T) {
	srv := mems3.Start(t, "bucket")
	const size = 3 * 5 << 20
	data, oid := storetest.Object(size, 12)
	other, _ := storetest.Object(size, 13)
	key := "repo/lfs/objects/" + oid[:2] + "/" + oid[2:4] + "/" + oid
	ctx := context.Background()
	mu, err := srv.Client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("bucket"), Key: &key})
	if err != nil {
		t.Fatal(err)
	}
	// Part 1 holds other bytes of the right size.
	if _, err := srv.Client.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("bucket"), Key: &key, UploadId: mu.UploadId,
		PartNumber: aws.Int32(1), Body: bytes.NewReader(other[:5<<20])}); err != nil {
		t.Fatal(err)
	}
	before := srv.Requests(mems3.UploadPart)
	s := newPartStore(t, srv, 2)
	if err := s.Upload(ctx, oid, size, bytes.NewReader(data), func(int64) {}); err != nil {
		t.Fatal(err)
	}
	if n := srv.Requests(mems3.UploadPart) - before; n != 3 {
		t.Errorf("sent %d parts, want all 3 (the stored part 1 holds other bytes)", n)
	}
	got := make([]byte, size)
	if err := s.Download(ctx, oid, size, 0, sliceWriter(got), func(int64) {}); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("object differs from the file after resume (err %v)", err)
	}
}

type sliceWriter []byte

func (w sliceWriter) WriteAt(p []byte, off int64) (int, error) { return copy(w[off:], p), nil }

// pendingUploads counts unfinished multipart uploads in "bucket". gofakes3
// answers NoSuchUpload when there are none.
func pendingUploads(t *testing.T, srv *mems3.Server) int {
	ups, err := srv.Client.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String("bucket")})
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "NoSuchUpload" {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return len(ups.Uploads)
}

// TestMultipartWrongContentAborted: content that does not hash to the oid
// is refused before completion and its upload aborted, not left pending.
func TestMultipartWrongContentAborted(t *testing.T) {
	srv := mems3.Start(t, "bucket")
	const size = 2*5<<20 + 7
	data, oid := storetest.Object(size, 14)
	data[0] ^= 1
	s := newPartStore(t, srv, 2)
	err := s.Upload(context.Background(), oid, size, bytes.NewReader(data), func(int64) {})
	if !errors.Is(err, transfer.ErrDigestMismatch) {
		t.Fatalf("Upload error = %v, want ErrDigestMismatch", err)
	}
	if n := pendingUploads(t, srv); n != 0 {
		t.Errorf("%d uploads pending after a refused upload, want it aborted", n)
	}
	if keys := srv.Keys(t, "bucket", ""); len(keys) != 0 {
		t.Errorf("bucket holds %q after a refused upload", keys)
	}
}
