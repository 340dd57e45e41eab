package export

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// lfs exports one LFS file: skipped when the output directory has it
// already, otherwise downloaded into a temp file, verified and renamed.
func (x *run) lfs(ctx context.Context, f lfsFile) {
	if ctx.Err() != nil {
		x.problem(f.path, ctx.Err())
		return
	}
	if x.lfsFileThere(f) {
		x.meter.addDone(f.size)
		x.skipped()
		return
	}
	fe, err := x.getFetcher(ctx)
	if err != nil {
		x.stop(err)
		return
	}
	if err := x.download(ctx, fe, f); err != nil {
		if fileProblem(err) {
			x.problem(f.path, err)
		} else {
			// Credentials, access, the network, the local disk: the
			// other files would fail alike. A re-run resumes.
			x.stop(fmt.Errorf("%s: %w", f.path, err))
		}
		return
	}
	x.written(f.size)
}

// errCorrupt marks an object whose content does not hash to its oid.
var errCorrupt = errors.New("corrupt object")

// errInTheWay marks a file or directory in DIR that blocks a file's path.
var errInTheWay = errors.New("in the way")

// fileProblem reports whether err concerns one file only: its object is
// missing or corrupt, or something in DIR is in its way.
func fileProblem(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, errCorrupt) || errors.Is(err, errInTheWay)
}

func (x *run) download(ctx context.Context, fe *fetcher, f lfsFile) error {
	tmp, err := x.out.create()
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	sum, err := fe.fetch(ctx, f.oid, f.size, tmp, x.meter.addDone)
	if cerr := tmp.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("write temp file: %w", cerr)
	}
	if err != nil {
		return err
	}
	if hex.EncodeToString(sum) != f.oid {
		return fmt.Errorf("object %s at %s is corrupt: its content hashes to %x; push it again from a clone that has a good copy: %w",
			f.oid, fe.store.Locate(f.oid), sum, errCorrupt)
	}
	return x.out.place(tmp.Name(), f.path, f.mode)
}

// getFetcher opens the store once.
func (x *run) getFetcher(ctx context.Context) (*fetcher, error) {
	x.openOnce.Do(func() {
		st, err := x.open(ctx, x.res.Commit)
		if err != nil {
			x.openErr = err
			return
		}
		x.fetcher = &fetcher{store: st, rangeAbove: x.opts.RangeAbove, chunk: x.opts.ChunkSize, perObject: x.opts.PerObject,
			pool: newBufPool(x.opts.ChunkSize, x.opts.Buffers)}
	})
	return x.fetcher, x.openErr
}

// lfsFileThere reports whether the output directory already has f with
// the object's content (its SHA-256 checked) and mode, fixing only the mode.
func (x *run) lfsFileThere(f lfsFile) bool {
	if x.out.mkdirs(f.path) != nil {
		return false // a symlink or file in the way: never look through it
	}
	dst := x.out.path(f.path)
	fi, err := os.Lstat(dst)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != f.size {
		return false
	}
	r, err := os.Open(dst)
	if err != nil {
		return false
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil || hex.EncodeToString(h.Sum(nil)) != f.oid {
		return false
	}
	return fixMode(dst, fi, f.mode) == nil
}
