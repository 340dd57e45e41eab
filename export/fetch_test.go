package export

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// memStore serves one object from memory. The download of the first chunk
// waits until `hold` downloads have started, and records how many had
// started when it returns: chunks that completed out of order keep their
// buffers until the first chunk is hashed, so with a pool of B buffers
// exactly B downloads can have started by then.
type memStore struct {
	data []byte
	hold int

	mu           sync.Mutex
	started      int
	startedAtEnd int // started when the first chunk's download returned
	entered      *sync.Cond
	failAt       int64 // a download starting here fails, when > 0
}

func newMemStore(data []byte, hold int) *memStore {
	m := &memStore{data: data, hold: hold}
	m.entered = sync.NewCond(&m.mu)
	return m
}

func (m *memStore) Locate(oid string) string { return "mem://" + oid }

func (m *memStore) Download(ctx context.Context, oid string, size, from int64, w io.WriterAt, progress func(int64)) error {
	m.mu.Lock()
	m.started++
	m.entered.Broadcast()
	if from == 0 {
		for m.started < m.hold {
			m.entered.Wait()
		}
		defer func() {
			m.mu.Lock()
			m.startedAtEnd = m.started
			m.mu.Unlock()
		}()
	}
	m.mu.Unlock()
	if m.failAt > 0 && from == m.failAt {
		return fs.ErrNotExist
	}
	n, err := w.WriteAt(m.data[from:size], from)
	progress(int64(n))
	return err
}

func TestFetchChunkedMemoryBound(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 40<<10) // 640 KiB
	for i := range data {
		data[i] ^= byte(i / 4096)
	}
	want := sha256.Sum256(data)
	const buffers = 3
	st := newMemStore(data, buffers)
	x := &fetcher{store: st, chunk: 16 << 10, perObject: 8, pool: newBufPool(16<<10, buffers)}
	f, err := os.Create(filepath.Join(t.TempDir(), "obj"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sum, err := x.fetch(context.Background(), "oid", int64(len(data)), f, func(int64) {})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sum, want[:]) {
		t.Errorf("sum = %x, want %x", sum, want)
	}
	got, _ := os.ReadFile(f.Name())
	if !bytes.Equal(got, data) {
		t.Error("file content differs")
	}
	if st.startedAtEnd != buffers {
		t.Errorf("%d chunk downloads started before the first one ended, want %d (the buffer pool's size)", st.startedAtEnd, buffers)
	}
	if n := len(x.pool.slots); n != 0 {
		t.Errorf("%d buffers not returned to the pool", n)
	}
}

func TestFetchChunkedFailureReturnsBuffers(t *testing.T) {
	data := bytes.Repeat([]byte{7}, 200<<10)
	st := newMemStore(data, 2)
	st.failAt = 64 << 10
	x := &fetcher{store: st, chunk: 16 << 10, perObject: 4, pool: newBufPool(16<<10, 4)}
	f, err := os.Create(filepath.Join(t.TempDir(), "obj"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := x.fetch(context.Background(), "oid", int64(len(data)), f, func(int64) {}); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("fetch = %v, want the chunk's error", err)
	}
	if n := len(x.pool.slots); n != 0 {
		t.Errorf("%d buffers not returned to the pool after a failure", n)
	}
}
