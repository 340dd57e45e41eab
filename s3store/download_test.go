package s3store_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/datalfs/datalfs/internal/mems3"
	"github.com/datalfs/datalfs/s3store"
	"github.com/datalfs/datalfs/transfer/storetest"
)

// writerAt collects a download in memory.
type writerAt []byte

func (w writerAt) WriteAt(p []byte, off int64) (int, error) { return copy(w[off:], p), nil }

// TestBodyErrorAfterLastByte: the connection breaks after the server has
// sent every byte of a range but before the response ended cleanly. The
// range is complete: the download succeeds without asking for the byte
// after it (bytes=N-N, which S3 refuses for the last range of an object and
// which would overrun a range in the middle).
func TestBodyErrorAfterLastByte(t *testing.T) {
	const part = 5 << 20
	cases := []struct {
		name   string
		size   int64
		broken [2]int64 // the range whose body breaks after its last byte
		ranges int      // GETs with a Range header, all told
	}{
		{name: "whole object", size: 10000, broken: [2]int64{0, 10000}, ranges: 1},
		{name: "middle part", size: 2*part + 1000, broken: [2]int64{part, 2 * part}, ranges: 3},
		{name: "last part", size: 2*part + 1000, broken: [2]int64{2 * part, 2*part + 1000}, ranges: 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := mems3.Start(t, "bucket")
			loc, err := s3store.ParseURL(srv.URL + "/bucket/repo")
			if err != nil {
				t.Fatal(err)
			}
			data, oid := storetest.Object(c.size, 31)
			srv.Put(t, "bucket", loc.Key(oid), data)
			opts := s3store.DefaultOptions()
			opts.MultipartThreshold = 6 << 20
			opts.PartSize = part
			opts.Concurrency = 2
			s, err := s3store.New(context.Background(), loc, opts)
			if err != nil {
				t.Fatal(err)
			}
			a, b := c.broken[0], c.broken[1]
			srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method != http.MethodGet || r.Header.Get("Range") != fmt.Sprintf("bytes=%d-%d", a, b-1) {
					return false
				}
				// Every byte, chunked, then the connection drops
				// before the final chunk: the client reads all of
				// it, then an error.
				w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", a, b-1, c.size))
				w.WriteHeader(http.StatusPartialContent)
				w.Write(data[a:b])
				w.(http.Flusher).Flush()
				panic(http.ErrAbortHandler)
			})
			got := make(writerAt, c.size)
			if err := s.Download(context.Background(), oid, c.size, 0, got, func(int64) {}); err != nil {
				t.Fatalf("Download after a break past the last byte: %v", err)
			}
			if !bytes.Equal(got, data) {
				t.Errorf("downloaded bytes differ from the object")
			}
			if n := len(srv.Ranges()); n != c.ranges {
				t.Errorf("%d ranged GETs %q, want %d: none again for the broken range", n, srv.Ranges(), c.ranges)
			}
		})
	}
}
