package s3store_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/datalfs/datalfs/s3store"
)

// BenchmarkUploadFile uploads one local file through Store.Upload to a
// real server, as the agent does for a push, and reports the client's CPU
// time (user+sys) per upload besides the wall time: on a shared machine CPU
// time is the steadier figure. It runs only when told where:
//
//	DATALFS_BENCH_S3=http://127.0.0.1:PORT/BUCKET/PREFIX   (credentials from AWS_*)
//	DATALFS_BENCH_FILE=/path/to/a/large/file
//
// for example against versitygw started with --keep-alive, next to
// `aws s3 cp` of the same file (see docs/benchmarks.md).
func BenchmarkUploadFile(b *testing.B) {
	url, path := os.Getenv("DATALFS_BENCH_S3"), os.Getenv("DATALFS_BENCH_FILE")
	if url == "" || path == "" {
		b.Skip("set DATALFS_BENCH_S3 and DATALFS_BENCH_FILE to run")
	}
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		b.Fatal(err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		b.Fatal(err)
	}
	oid := hex.EncodeToString(h.Sum(nil))
	loc, err := s3store.ParseURL(url)
	if err != nil {
		b.Fatal(err)
	}
	opts, err := s3store.LoadOptions(func(k string) (string, bool) { return os.LookupEnv(k) }, func(string) (string, bool) { return "", false })
	if err != nil {
		b.Fatal(err)
	}
	s, err := s3store.New(context.Background(), loc, opts)
	if err != nil {
		b.Fatal(err)
	}
	s.KeepUploadsIn(b.TempDir())
	b.SetBytes(fi.Size())
	b.ResetTimer()
	cpu0 := cpuTime()
	for range b.N {
		if err := s.Upload(context.Background(), oid, fi.Size(), f, func(int64) {}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
}

// cpuTime is the user+sys time of this process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
