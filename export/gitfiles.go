package export

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"strconv"

	"github.com/datalfs/datalfs/gitrepo"
	"github.com/datalfs/datalfs/lfsscan"
)

// ask sends git cat-file the blobs to read, in the order of files, and
// passes each file on to the reading side. A large file already in the
// output directory with the right content is skipped here, unasked.
func (x *run) ask(ctx context.Context, blobs *gitrepo.BlobReader, files []entry, order chan<- entry) error {
	defer close(order)
	w := bufio.NewWriter(blobs.Input())
	defer blobs.Input().Close()
	for _, e := range files {
		if err := checkPath(e.path); err != nil {
			x.problem(e.path, err)
			continue
		}
		if !e.mayBePointer() && e.mode != modeSymlink {
			if err := w.Flush(); err != nil { // keep git busy while hashing
				return err
			}
			if x.gitFileThere(e) {
				x.skipped()
				continue
			}
		}
		if _, err := w.WriteString(e.blob + "\n"); err != nil {
			return err
		}
		select {
		case order <- e:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return w.Flush()
}

// read takes each blob cat-file sends: LFS pointers go to lfsFiles, other
// files are written here.
func (x *run) read(ctx context.Context, blobs *gitrepo.BlobReader, order <-chan entry, lfsFiles chan<- lfsFile) error {
	for e := range order {
		r, err := blobs.Next(e.blob, e.size)
		if err != nil {
			return err
		}
		if e.mayBePointer() || e.mode == modeSymlink {
			b, err := io.ReadAll(r)
			if err != nil {
				return fmt.Errorf("read blob %s: %w", e.blob, err)
			}
			if err := blobs.Done(); err != nil {
				return err
			}
			if p, ok := lfsscan.Decode(b); ok && e.mode != modeSymlink {
				x.meter.addBytes(p.Size)
				select {
				case lfsFiles <- lfsFile{entry: e, oid: p.Oid, size: p.Size}:
				case <-ctx.Done():
					return ctx.Err()
				}
				continue
			}
			x.smallGitFile(e, b)
			continue
		}
		if err := x.largeGitFile(e, r); err != nil {
			return err
		}
		if err := blobs.Done(); err != nil {
			return err
		}
	}
	return nil
}

// smallGitFile writes a file whose whole content is b, unless it is there.
func (x *run) smallGitFile(e entry, b []byte) {
	dst := x.out.path(e.path)
	fi, err := os.Lstat(dst)
	if err == nil && x.out.mkdirs(e.path) == nil {
		if e.mode == modeSymlink && fi.Mode()&fs.ModeSymlink != 0 {
			if target, err := os.Readlink(dst); err == nil && target == string(b) {
				x.skipped()
				return
			}
		}
		if e.mode != modeSymlink && fi.Mode().IsRegular() && fi.Size() == int64(len(b)) {
			if have, err := os.ReadFile(dst); err == nil && bytes.Equal(have, b) {
				if err := fixMode(dst, fi, e.mode); err != nil {
					x.problem(e.path, err)
					return
				}
				x.skipped()
				return
			}
		}
	}
	if err := x.writeGitFile(e, bytes.NewReader(b)); err != nil {
		x.problem(e.path, err)
		return
	}
	x.written(int64(len(b)))
}

// largeGitFile streams a file's content from git into place. A local
// failure is the file's problem; only a failure to read git is returned.
func (x *run) largeGitFile(e entry, r io.Reader) error {
	err := x.writeGitFile(e, r)
	var re *readError
	switch {
	case errors.As(err, &re):
		return re.err
	case err != nil:
		x.problem(e.path, err)
		io.Copy(io.Discard, r) // keep cat-file's stream in step
		return nil
	}
	x.written(e.size)
	return nil
}

// readError is a failure to read git's stream.
type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// writeGitFile writes e's content from r into a temp file, checks that it
// hashes to e's blob id and moves it into place.
func (x *run) writeGitFile(e entry, r io.Reader) error {
	tmp, err := x.out.create()
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if e.mode == modeSymlink {
		tmp.Close()
		os.Remove(tmp.Name())
		target, err := io.ReadAll(r)
		if err != nil {
			return &readError{err}
		}
		if err := os.Symlink(string(target), tmp.Name()); err != nil {
			return err
		}
		return x.out.place(tmp.Name(), e.path, e.mode)
	}
	h := newGitHash(e.blob, e.size)
	src := readerFunc(func(p []byte) (int, error) {
		n, err := r.Read(p)
		if err != nil && err != io.EOF {
			err = &readError{err}
		}
		return n, err
	})
	n, err := io.Copy(io.MultiWriter(tmp, h), src)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if re, ok := err.(*readError); ok {
			return re
		}
		return fmt.Errorf("write temp file: %w", err)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); n != e.size || sum != e.blob {
		return fmt.Errorf("git gave %d bytes hashing to %s for blob %s", n, sum, e.blob)
	}
	return x.out.place(tmp.Name(), e.path, e.mode)
}

// gitFileThere reports whether the output directory already has e with its
// content (hashed as a git blob) and mode, fixing only the mode.
func (x *run) gitFileThere(e entry) bool {
	if x.out.mkdirs(e.path) != nil {
		return false // a symlink or file in the way: never look through it
	}
	dst := x.out.path(e.path)
	fi, err := os.Lstat(dst)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != e.size {
		return false
	}
	f, err := os.Open(dst)
	if err != nil {
		return false
	}
	defer f.Close()
	h := newGitHash(e.blob, e.size)
	if _, err := io.Copy(h, f); err != nil || hex.EncodeToString(h.Sum(nil)) != e.blob {
		return false
	}
	return fixMode(dst, fi, e.mode) == nil
}

// newGitHash returns a hash of content as git names a blob of size bytes,
// SHA-1 or SHA-256 after the length of the id.
func newGitHash(blob string, size int64) hash.Hash {
	var h hash.Hash
	if len(blob) == 2*sha256.Size {
		h = sha256.New()
	} else {
		h = sha1.New()
	}
	h.Write([]byte("blob " + strconv.FormatInt(size, 10) + "\x00"))
	return h
}
