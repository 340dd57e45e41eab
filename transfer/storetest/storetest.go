// Package storetest is the conformance suite every transfer.Store
// implementation must pass. An implementation's test only says how to make
// an empty store.
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/datalfs/datalfs/transfer"
)

// Config describes the store under test.
type Config struct {
	// New returns an empty store.
	New func(t *testing.T) transfer.Store
	// LargeSize is an object size that takes the store's large-object path
	// (multipart for S3); 0 skips that case.
	LargeSize int64
}

// Object returns deterministic random content of size bytes and its oid.
func Object(size int64, seed uint64) ([]byte, string) {
	b := make([]byte, size)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	sum := sha256.Sum256(b)
	return b, hex.EncodeToString(sum[:])
}

// Run runs the suite.
func Run(t *testing.T, cfg Config) {
	ctx := context.Background()

	t.Run("StatMissing", func(t *testing.T) {
		s := cfg.New(t)
		_, oid := Object(10, 1)
		if _, err := s.Stat(ctx, oid); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("Stat(missing) error = %v, want fs.ErrNotExist", err)
		}
	})

	t.Run("DownloadMissing", func(t *testing.T) {
		s := cfg.New(t)
		_, oid := Object(10, 2)
		buf := newBuffer(10)
		err := s.Download(ctx, oid, 10, 0, buf, func(int64) {})
		if !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("Download(missing) error = %v, want fs.ErrNotExist", err)
		}
		if buf.written != 0 {
			t.Errorf("Download(missing) wrote %d bytes", buf.written)
		}
	})

	sizes := []int64{0, 1, 100 << 10}
	if cfg.LargeSize > 0 {
		sizes = append(sizes, cfg.LargeSize)
	}
	for _, size := range sizes {
		t.Run("RoundTrip/"+sizeName(size), func(t *testing.T) {
			s := cfg.New(t)
			data, oid := Object(size, uint64(size)+3)
			var up atomic.Int64
			if err := s.Upload(ctx, oid, size, bytes.NewReader(data), func(n int64) { up.Add(n) }); err != nil {
				t.Fatalf("Upload: %v", err)
			}
			if up.Load() != size {
				t.Errorf("upload progress added up to %d, want %d", up.Load(), size)
			}
			got, err := s.Stat(ctx, oid)
			if err != nil || got != size {
				t.Fatalf("Stat = %d, %v; want %d, nil", got, err, size)
			}
			buf := newBuffer(size)
			var down atomic.Int64
			if err := s.Download(ctx, oid, size, 0, buf, func(n int64) { down.Add(n) }); err != nil {
				t.Fatalf("Download: %v", err)
			}
			buf.check(t, data, 0)
			if down.Load() != size {
				t.Errorf("download progress added up to %d, want %d", down.Load(), size)
			}
			// Resuming from the middle fetches exactly the rest.
			from := size / 3
			rest := newBuffer(size)
			if err := s.Download(ctx, oid, size, from, rest, func(int64) {}); err != nil {
				t.Fatalf("Download from %d: %v", from, err)
			}
			rest.check(t, data, from)
			// Uploading again is harmless.
			if err := s.Upload(ctx, oid, size, bytes.NewReader(data), func(int64) {}); err != nil {
				t.Fatalf("second Upload: %v", err)
			}
		})
	}

	mismatch := []int64{1000}
	if cfg.LargeSize > 0 {
		mismatch = append(mismatch, cfg.LargeSize)
	}
	for _, size := range mismatch {
		t.Run("RefusesWrongContent/"+sizeName(size), func(t *testing.T) {
			s := cfg.New(t)
			data, oid := Object(size, 7)
			bad := bytes.Clone(data)
			bad[len(bad)-1] ^= 0xff // the last byte, so every part but the last is good
			err := s.Upload(ctx, oid, size, bytes.NewReader(bad), func(int64) {})
			if !errors.Is(err, transfer.ErrDigestMismatch) {
				t.Fatalf("Upload(wrong content) error = %v, want ErrDigestMismatch", err)
			}
			if _, err := s.Stat(ctx, oid); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("after a refused upload, Stat error = %v, want fs.ErrNotExist: wrong bytes are visible", err)
			}
		})
	}

	t.Run("Concurrent", func(t *testing.T) {
		s := cfg.New(t)
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for i := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				data, oid := Object(int64(1000+i), uint64(100+i))
				if err := s.Upload(ctx, oid, int64(len(data)), bytes.NewReader(data), func(int64) {}); err != nil {
					errs <- err
					return
				}
				buf := newBuffer(int64(len(data)))
				if err := s.Download(ctx, oid, int64(len(data)), 0, buf, func(int64) {}); err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(buf.data, data) {
					errs <- errors.New("concurrent round trip returned different bytes")
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})

	t.Run("Locate", func(t *testing.T) {
		s := cfg.New(t)
		_, oid := Object(1, 9)
		if loc := s.Locate(oid); !bytes.Contains([]byte(loc), []byte(oid)) {
			t.Errorf("Locate(%s) = %q, want it to name the oid", oid, loc)
		}
	})
}

// buffer is an io.WriterAt over memory that records how often each byte
// was written.
type buffer struct {
	mu      sync.Mutex
	data    []byte
	times   []uint8
	written int64
}

func newBuffer(size int64) *buffer {
	return &buffer{data: make([]byte, size), times: make([]uint8, size)}
}

func (b *buffer) WriteAt(p []byte, off int64) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if off < 0 || off+int64(len(p)) > int64(len(b.data)) {
		return 0, errors.New("write past the object's size")
	}
	copy(b.data[off:], p)
	for i := range p {
		b.times[off+int64(i)]++
	}
	b.written += int64(len(p))
	return len(p), nil
}

// check asserts that bytes [from, len) equal want's and were written once,
// and that no byte before from was written.
func (b *buffer) check(t *testing.T, want []byte, from int64) {
	t.Helper()
	for i, n := range b.times {
		switch {
		case int64(i) < from && n != 0:
			t.Fatalf("byte %d, before the resume point %d, was written", i, from)
		case int64(i) >= from && n != 1:
			t.Fatalf("byte %d was written %d times, want once", i, n)
		}
	}
	if !bytes.Equal(b.data[from:], want[from:]) {
		t.Fatalf("downloaded bytes [%d, %d) differ from the uploaded ones", from, len(want))
	}
}

func sizeName(n int64) string {
	switch {
	case n >= 1<<20:
		return itoa(n>>20) + "MiB"
	case n >= 1<<10:
		return itoa(n>>10) + "KiB"
	}
	return itoa(n) + "B"
}

func itoa(n int64) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
