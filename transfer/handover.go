package transfer

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
)

// handOver ends a finished download and returns the path to give git-lfs.
// The file gets mode (git-lfs keeps a downloaded file's mode when it moves it
// into its store; zero keeps 0600). The shared OID.datalfs is renamed, while
// still locked, to a name no other agent opens, so that a second agent for
// the same object, arriving before git-lfs has moved this one, starts a file
// of its own instead of truncating this one. Its sidecar goes first: once
// the name is free it may be another download's.
func (t *tempFile) handOver(mode fs.FileMode) (string, error) {
	if mode != 0 {
		if err := t.f.Chmod(mode); err != nil {
			t.remove()
			return "", fmt.Errorf("set the mode of temp file %s: %w", t.f.Name(), err)
		}
	}
	path := t.f.Name()
	if t.shared {
		if t.sidecar {
			os.Remove(sidecarPath(path))
			t.sidecar = false
		}
		var err error
		if path, err = t.rename(); err != nil {
			t.remove()
			return "", err
		}
	}
	if err := t.f.Close(); err != nil {
		os.Remove(path)
		return "", fmt.Errorf("write temp file %s: %w", path, err)
	}
	return filepath.Abs(path)
}

// rename moves the locked shared file to a new name of its own, without
// ever replacing a file: a hard link under a fresh random name (which fails
// rather than replace), then the shared name removed. Replacing an existing
// file would be simpler, but ext4 (auto_da_alloc) answers a rename over a
// file by writing the renamed file's dirty pages out at once, so a 1 GiB
// download's hand-over waited for the disk (measured: the whole object written
// back during the fetch, the fetch 1.5-2x its CPU time). Where hard links are
// not supported, an empty file is created exclusively and replaced.
func (t *tempFile) rename() (string, error) {
	old := t.f.Name()
	dir, base := filepath.Split(old)
	stem := base[:len(base)-len(tempSuffix)]
	for range 16 {
		p := filepath.Join(dir, stem+"."+strconv.FormatUint(uint64(rand.Uint32()), 10)+tempSuffix)
		err := linkFile(old, p)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return t.replace(dir, stem)
		}
		if err := os.Remove(old); err != nil {
			os.Remove(p)
			return "", fmt.Errorf("hand over temp file %s: %w", old, err)
		}
		return p, nil
	}
	return t.replace(dir, stem)
}

// linkFile is os.Link; tests make it fail as a file system without hard
// links does.
var linkFile = os.Link

// replace is rename where hard links are not supported: an empty file
// created exclusively, then replaced, so the name is ours for sure.
func (t *tempFile) replace(dir, stem string) (string, error) {
	p, err := os.CreateTemp(dir, stem+ownPattern)
	if err != nil {
		return "", fmt.Errorf("hand over temp file %s: %w", t.f.Name(), err)
	}
	p.Close()
	if err := os.Rename(t.f.Name(), p.Name()); err != nil {
		os.Remove(p.Name())
		return "", fmt.Errorf("hand over temp file %s: %w", t.f.Name(), err)
	}
	return p.Name(), nil
}

// tempFiles is how an agent gets the temp files of its downloads.
type tempFiles struct {
	// lock replaces lockFile (tests make it refuse, or pause in it).
	lock lockFunc
	// probed is set once the first download has tried a lock on a file of
	// its own; noLocks when the file system refused it. Downloads then go
	// straight to files of their own, without an OID.datalfs to leave.
	probed, noLocks atomic.Bool
}

// openTemp opens the temp file for a download of oid in dir (see openTemp).
func (a *Agent) openTemp(dir, oid string, size int64, resume bool) (*tempFile, error) {
	d := &a.downloads
	lock := d.lock
	if lock == nil {
		lock = lockFile
	}
	if !d.probed.Load() {
		own, err := openOwn(dir, oid)
		if err != nil {
			return nil, err
		}
		d.probed.Store(true)
		if err := lock(own.f); err != nil && !lockBusy(err) {
			d.noLocks.Store(true)
			a.logf("the file system of %s refuses file locks (%v): downloads will not resume after an interruption", dir, err)
			return own, nil
		}
		own.remove()
	}
	return openTemp(dir, oid, size, resume, lock, !d.noLocks.Load())
}
