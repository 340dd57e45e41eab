package export

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"sync"
)

// Store is where LFS objects are downloaded from. *s3store.Store is one.
type Store interface {
	// Download writes bytes [from, size) of oid into w at their offsets,
	// each byte once, and calls progress with the count of bytes written.
	// It returns an error wrapping fs.ErrNotExist when there is no such
	// object.
	Download(ctx context.Context, oid string, size, from int64, w io.WriterAt, progress func(int64)) error
	// Locate names where oid lives, for messages.
	Locate(oid string) string
}

// fetcher downloads LFS objects into temp files, hashing the bytes as they
// arrive: nothing is read back from disk. An object of up to rangeAbove
// bytes is one GET streamed to disk. A larger one is fetched as ranged GETs
// of chunk bytes, up to perObject at once, each written to the file as it
// arrives and kept in a buffer of a shared pool until it is hashed, in
// order, so the memory used is at most the pool's, whatever the sizes.
type fetcher struct {
	store      Store
	rangeAbove int64
	chunk      int64
	perObject  int
	pool       *bufPool
}

// fetch writes oid (size bytes) into f and returns its SHA-256.
func (x *fetcher) fetch(ctx context.Context, oid string, size int64, f *os.File, progress func(int64)) ([]byte, error) {
	if size <= max(x.rangeAbove, x.chunk) {
		w := &seqWriter{f: f, h: sha256.New()}
		if err := x.store.Download(ctx, oid, size, 0, w, progress); err != nil {
			return nil, err
		}
		if w.off != size {
			return nil, fmt.Errorf("object %s at %s is corrupt: it has %d bytes, the pointer says %d: %w",
				oid, x.store.Locate(oid), w.off, size, errCorrupt)
		}
		return w.h.Sum(nil), nil
	}
	return x.fetchChunked(ctx, oid, size, f, progress)
}

// seqWriter writes a stream that arrives in order to f and hashes it.
type seqWriter struct {
	f   *os.File
	h   hash.Hash
	off int64
}

func (w *seqWriter) WriteAt(p []byte, off int64) (int, error) {
	if off != w.off {
		return 0, fmt.Errorf("bytes arrived out of order (at %d, expected %d)", off, w.off)
	}
	n, err := w.f.Write(p)
	w.h.Write(p[:n])
	w.off += int64(n)
	return n, err
}

// chunkDone is a fetched chunk, or why it failed.
type chunkDone struct {
	buf []byte
	err error
}

func (x *fetcher) fetchChunked(ctx context.Context, oid string, size int64, f *os.File, progress func(int64)) ([]byte, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	n := int((size + x.chunk - 1) / x.chunk)
	ready := make([]chan chunkDone, n)
	for i := range ready {
		ready[i] = make(chan chunkDone, 1)
	}
	var fetches sync.WaitGroup
	slots := make(chan struct{}, x.perObject)
	launched := make(chan int, 1) // how many chunks the launcher started
	go func() {
		k := 0
		defer func() { launched <- k }()
		for ; k < n; k++ {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			buf, err := x.pool.get(ctx)
			if err != nil {
				<-slots
				return
			}
			a := int64(k) * x.chunk
			b := min(a+x.chunk, size)
			fetches.Add(1)
			go func(k int, buf []byte) {
				defer fetches.Done()
				buf = buf[:b-a]
				err := x.store.Download(ctx, oid, b, a, &teeWriter{f: f, buf: buf, base: a}, progress)
				<-slots
				ready[k] <- chunkDone{buf: buf, err: err}
			}(k, buf)
		}
	}()

	h := sha256.New()
	var err error
	k := 0 // chunks consumed
	for k < n && err == nil {
		select {
		case d := <-ready[k]:
			k++
			if d.err == nil {
				h.Write(d.buf)
			}
			x.pool.put(d.buf)
			err = d.err
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	cancel()
	started := <-launched
	fetches.Wait()
	for ; k < started; k++ { // chunks fetched after the failure
		d := <-ready[k]
		x.pool.put(d.buf)
	}
	if err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

// teeWriter writes the bytes of a range to the file as they arrive and
// keeps them in buf, which holds bytes [base, base+len), for hashing in
// order. Writing as they arrive, in the body's small pieces, matters: one
// large write per chunk was measured 2-3x slower with 8 ranges in flight.
type teeWriter struct {
	f    *os.File
	buf  []byte
	base int64
}

func (m *teeWriter) WriteAt(p []byte, off int64) (int, error) {
	i := off - m.base
	if i < 0 || i+int64(len(p)) > int64(len(m.buf)) {
		return 0, errors.New("bytes outside the requested range")
	}
	copy(m.buf[i:], p)
	return m.f.WriteAt(p, off)
}

// bufPool hands out at most max buffers of size bytes, allocated on demand
// and reused.
type bufPool struct {
	size  int64
	slots chan struct{}
	mu    sync.Mutex
	free  [][]byte
}

func newBufPool(size int64, maxBufs int) *bufPool {
	return &bufPool{size: size, slots: make(chan struct{}, maxBufs)}
}

func (p *bufPool) get(ctx context.Context) ([]byte, error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free = p.free[:n-1]
		return b, nil
	}
	return make([]byte, p.size), nil
}

func (p *bufPool) put(b []byte) {
	p.mu.Lock()
	p.free = append(p.free, b[:cap(b)])
	p.mu.Unlock()
	<-p.slots
}
