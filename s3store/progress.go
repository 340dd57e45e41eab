package s3store

import (
	"io"
	"math/rand/v2"
)

// progressReader reports bytes read from a rewindable body. After a rewind
// (the SDK retrying a request) bytes are reported again only past the
// furthest point reached, so the total never exceeds the body's size.
type progressReader struct {
	r        io.ReadSeeker
	progress func(int64)
	pos      int64
	furthest int64
}

func newProgressReader(r io.ReadSeeker, progress func(int64)) *progressReader {
	return &progressReader{r: r, progress: progress}
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.pos += int64(n)
	if p.pos > p.furthest {
		p.progress(p.pos - p.furthest)
		p.furthest = p.pos
	}
	return n, err
}

func (p *progressReader) Seek(offset int64, whence int) (int64, error) {
	pos, err := p.r.Seek(offset, whence)
	if err == nil {
		p.pos = pos
	}
	return pos, err
}

// jitter returns a random duration in [0, n).
func jitter(n int64) int64 {
	if n <= 0 {
		return 0
	}
	return rand.Int64N(n)
}
