package s3store_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/datalfs/datalfs/internal/mems3"
	"github.com/datalfs/datalfs/s3store"
	"github.com/datalfs/datalfs/transfer/storetest"
)

// writerAt collects a download in memory.
type writerAt []byte

func (w writerAt) WriteAt(p []byte, off int64) (int, error) { return copy(w[off:], p), nil }

// TestBodyErrorAfterLastByte: the connection breaks after the server has
// sent every byte of the range but before the response ended cleanly. The
// range is complete: the download succeeds without asking for the byte
// after it (bytes=N-N, which S3 refuses for the last range of an object).
func TestBodyErrorAfterLastByte(t *testing.T) {
	srv := mems3.Start(t, "bucket")
	loc, err := s3store.ParseURL(srv.URL + "/bucket/repo")
	if err != nil {
		t.Fatal(err)
	}
	const size = 10000
	data, oid := storetest.Object(size, 31)
	srv.Put(t, "bucket", loc.Key(oid), data)
	s, err := s3store.New(context.Background(), loc, s3store.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || r.Header.Get("Range") != fmt.Sprintf("bytes=0-%d", size-1) {
			return false
		}
		// Every byte, chunked, then the connection drops before the
		// final chunk: the client reads all of it, then an error.
		w.Header().Set("Content-Range", fmt.Sprintf("bytes 0-%d/%d", size-1, size))
		w.Header().Set("ETag", `"e"`)
		w.WriteHeader(http.StatusPartialContent)
		w.Write(data)
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	})
	got := make(writerAt, size)
	if err := s.Download(context.Background(), oid, size, 0, got, func(int64) {}); err != nil {
		t.Fatalf("Download after a break past the last byte: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("downloaded bytes differ from the object")
	}
	if diff := cmp.Diff([]string{fmt.Sprintf("bytes=0-%d", size-1)}, srv.Ranges()); diff != "" {
		t.Errorf("GET ranges (-want +got):\n%s", diff)
	}
}
