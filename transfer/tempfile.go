package transfer

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// Download temp files live in git-lfs's temp dir. A download in progress
// writes OID.datalfs, with a sidecar OID.datalfs.done holding how many
// leading bytes are on disk; it holds an exclusive lock on the file while it
// writes, so an unlocked one was left by an agent that died and may be
// resumed. A finished download is renamed, still under the lock, to a name of
// its own (see handOver) before git-lfs is told about it, so OID.datalfs never
// names a file git-lfs is about to hash and move. When the name is busy (two
// git commands fetching one object at once) or the file system refuses locks,
// the download writes a file of its own instead, which cannot be resumed.
//
// No name of ours has a "-" right after the oid: git-lfs's clean-up of lfs/tmp
// deletes OID-* files as soon as the object is in its store, which would pull
// a file from under a second git-lfs process that is still hashing it. Files
// git-lfs never moved (it crashed) are removed by that same clean-up once they
// are an hour old; the agent deletes no file it did not write itself.
const (
	tempSuffix     = ".datalfs"
	sidecarSuffix  = ".done"
	sidecarEvery   = 8 << 20 // persist the verified prefix at most this often
	readBackBuffer = 1 << 20
	// ownPattern names a file no other agent opens: OID.RANDOM.datalfs.
	ownPattern = ".*" + tempSuffix
	// sharedTries bounds how often openTemp reopens the shared name after
	// another agent renamed or removed it between our open and our lock.
	sharedTries = 4
)

// tempFile is a download in progress.
type tempFile struct {
	f          *os.File
	resumeFrom int64 // leading bytes already on disk from an earlier run
	// sidecar is false while no sidecar can exist: a fresh (empty) file has
	// none, and then nothing tries to read or delete one. Thousands of
	// small objects in a row each skip those failing system calls.
	sidecar bool
	// shared is true for OID.datalfs, locked by us: the name a later run
	// resumes from. A file of our own (shared false) is never resumed, so
	// it is removed whenever the download fails.
	shared bool
}

func sidecarPath(name string) string { return name + sidecarSuffix }

// lockFunc takes an exclusive advisory lock on f without waiting; the lock
// ends when f is closed or the process dies. It fails when another process
// holds the lock, or when the file system does not support locks.
type lockFunc func(f *os.File) error

// openTemp returns the temp file for a download of oid in dir: OID.datalfs,
// locked, so that a file left by a dead agent is found without listing the
// directory. With resume, such a file is taken over from the prefix its
// sidecar vouches for; otherwise it is emptied. When the name is held by a
// live agent or cannot be locked (lockable false skips trying), the download
// gets a file of its own.
func openTemp(dir, oid string, size int64, resume bool, lock lockFunc, lockable bool) (*tempFile, error) {
	if lockable {
		tf, err := openShared(dir, oid, size, resume, lock)
		if tf != nil || err != nil {
			return tf, err
		}
	}
	return openOwn(dir, oid)
}

// openShared opens and locks OID.datalfs. It returns nil and no error when
// the name cannot be had (busy, unlockable, not ours to write).
func openShared(dir, oid string, size int64, resume bool, lock lockFunc) (*tempFile, error) {
	name := filepath.Join(dir, oid+tempSuffix)
	for range sharedTries {
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
		if errors.Is(err, fs.ErrNotExist) {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, fmt.Errorf("create LFS temp dir: %w", err)
			}
			f, err = os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
		}
		if err != nil {
			// Another user's leftover in a shared repository, say.
			return nil, nil
		}
		if lock(f) != nil {
			f.Close()
			return nil, nil
		}
		// The lock is on what we opened. If its holder handed it over or
		// removed it before letting go, the name now means another file
		// (or none): that one is not ours to touch.
		if !namesFile(name, f) {
			f.Close()
			continue
		}
		return takeOver(f, name, oid, size, resume)
	}
	return nil, nil
}

// namesFile reports whether name still refers to the open file f.
func namesFile(name string, f *os.File) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(name)
	return err == nil && os.SameFile(a, b)
}

// takeOver prepares the locked shared file f: a new one as it is, a
// leftover resumed or emptied.
func takeOver(f *os.File, name, oid string, size int64, resume bool) (*tempFile, error) {
	fi, err := f.Stat()
	if err != nil {
		removeTemp(f)
		return nil, fmt.Errorf("create temp file for %s: %w", oid, err)
	}
	if fi.Size() == 0 {
		// A new file. A sidecar is written only once bytes are, so there
		// is none to read or remove.
		return &tempFile{f: f, shared: true}, nil
	}
	if resume {
		if n := resumable(f, size); n > 0 {
			return &tempFile{f: f, resumeFrom: n, sidecar: true, shared: true}, nil
		}
	}
	// What a dead agent left, not worth resuming: start afresh.
	if err := f.Truncate(0); err != nil {
		removeTemp(f)
		return nil, fmt.Errorf("reset temp file for %s: %w", oid, err)
	}
	os.Remove(sidecarPath(name))
	return &tempFile{f: f, shared: true}, nil
}

// openOwn creates a temp file no other agent will open.
func openOwn(dir, oid string) (*tempFile, error) {
	f, err := os.CreateTemp(dir, oid+ownPattern)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create LFS temp dir: %w", err)
		}
		f, err = os.CreateTemp(dir, oid+ownPattern)
	}
	if err != nil {
		return nil, fmt.Errorf("create temp file for %s: %w", oid, err)
	}
	return &tempFile{f: f}, nil
}

// resumable returns how many leading bytes of a leftover file can be
// reused: what its sidecar recorded, if the file is at least that long.
func resumable(f *os.File, size int64) int64 {
	b, err := os.ReadFile(sidecarPath(f.Name()))
	if err != nil {
		return 0
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n <= 0 || n > size {
		return 0
	}
	if fi, err := f.Stat(); err != nil || fi.Size() < n {
		return 0
	}
	return n
}

// removeTemp closes and deletes a temp file and its sidecar.
func removeTemp(f *os.File) {
	f.Close()
	os.Remove(f.Name())
	os.Remove(sidecarPath(f.Name()))
}

// fail ends a download that did not finish. A kept shared file (an
// interrupted download) stays with a sidecar recording its written prefix
// for the next run to resume, unless nothing was written. Any other file is
// removed with its sidecar: nobody resumes a file of our own.
func (t *tempFile) fail(keep bool, written int64) {
	if !keep || !t.shared || written <= 0 {
		t.remove()
		return
	}
	t.sidecar = true
	if err := os.WriteFile(sidecarPath(t.f.Name()), []byte(strconv.FormatInt(written, 10)), 0o600); err != nil {
		t.remove()
		return
	}
	if t.f.Close() != nil {
		t.remove()
	}
}

// remove closes and deletes the temp file, and its sidecar if one may exist.
// The file is still ours (locked, or never shared) when this runs.
func (t *tempFile) remove() {
	t.f.Close()
	os.Remove(t.f.Name())
	if t.sidecar {
		os.Remove(sidecarPath(t.f.Name()))
	}
}

// verifier is the io.WriterAt a store downloads into. Writers put their
// bytes straight into the temp file, concurrently. Bytes that extend the
// hashed prefix (a single stream, or the range at the front of parallel
// ones) are hashed right from the writer's buffer; a hasher goroutine
// reads back (from the page cache) only what that misses: bytes written
// ahead of the prefix, and a resumed prefix. So the content is verified end
// to end without making parallel ranges wait for each other. The written prefix is recorded in the sidecar so an
// interrupted download can resume.
type verifier struct {
	tf *tempFile

	mu       sync.Mutex
	grew     *sync.Cond      // signalled when frontier or hashed grows, or the download ends
	frontier int64           // bytes [0, frontier) are written
	ahead    map[int64]int64 // offset -> length written beyond the frontier
	saved    int64
	ended    bool
	err      error
	hashed   int64 // bytes [0, hashed) are hashed
	hashing  bool  // h is in use (by a writer or the hasher); hashed is about to grow

	h       hash.Hash // used by whoever set hashing
	hashErr error     // owned by the hasher
	done    chan struct{}
}

// newVerifier returns a verifier that continues after the resumed prefix of
// tf; the hasher starts by hashing that prefix.
func newVerifier(tf *tempFile, size int64) *verifier {
	v := &verifier{tf: tf, h: sha256.New(), ahead: map[int64]int64{}, done: make(chan struct{}),
		frontier: tf.resumeFrom, saved: tf.resumeFrom}
	v.grew = sync.NewCond(&v.mu)
	// The read-back buffer fits the object: a 4 KiB object must not cost
	// a 1 MiB allocation (and its zeroing) when thousands arrive in a row.
	go v.hash(int(min(max(size-tf.resumeFrom, 1), readBackBuffer)))
	return v
}

// WriteAt writes p at off. Every byte must be written once.
func (v *verifier) WriteAt(p []byte, off int64) (int, error) {
	n, err := v.tf.f.WriteAt(p, off)
	v.mu.Lock()
	defer v.mu.Unlock()
	switch {
	case v.err != nil:
		return n, v.err
	case err != nil:
		v.err = fmt.Errorf("write temp file %s: %w", v.tf.f.Name(), err)
		return n, v.err
	case off < v.frontier:
		v.err = fmt.Errorf("bytes at offset %d written twice", off)
		return n, v.err
	}
	if off == v.frontier {
		v.frontier += int64(n)
		for {
			l, ok := v.ahead[v.frontier]
			if !ok {
				break
			}
			delete(v.ahead, v.frontier)
			v.frontier += l
		}
		if off == v.hashed && !v.hashing {
			// These bytes extend the hashed prefix: hash them from p
			// rather than from the file later. Other writers go on
			// meanwhile; only the hasher waits for hashing to clear.
			v.hashing = true
			v.mu.Unlock()
			v.h.Write(p[:n])
			v.mu.Lock()
			v.hashed += int64(n)
			v.hashing = false
		}
		v.grew.Broadcast()
	} else {
		v.ahead[off] = int64(n)
	}
	if v.tf.shared && v.frontier-v.saved >= sidecarEvery {
		// Best effort: without it a resumed run just starts earlier.
		v.tf.sidecar = true
		if os.WriteFile(sidecarPath(v.tf.f.Name()), []byte(strconv.FormatInt(v.frontier, 10)), 0o600) == nil {
			v.saved = v.frontier
		}
	}
	return n, nil
}

// hash follows the frontier until the download ends, reading back through
// a buffer of bufSize bytes what the writers did not hash. A read-back
// error ends the hashing but not the loop, which must still see the end.
func (v *verifier) hash(bufSize int) {
	defer close(v.done)
	var buf []byte
	for {
		v.mu.Lock()
		for (v.frontier == v.hashed || v.hashing) && !v.ended {
			v.grew.Wait()
		}
		for v.hashing { // the download ended while a writer hashes
			v.grew.Wait()
		}
		from, target, ended := v.hashed, v.frontier, v.ended
		v.hashing = target > from
		v.mu.Unlock()
		if target > from {
			if v.hashErr == nil {
				if buf == nil {
					buf = make([]byte, bufSize)
				}
				_, err := io.CopyBuffer(v.h, io.NewSectionReader(v.tf.f, from, target-from), buf)
				if err != nil {
					v.hashErr = fmt.Errorf("read back temp file %s: %w", v.tf.f.Name(), err)
				}
			}
			v.mu.Lock()
			v.hashed = target
			v.hashing = false
			v.grew.Broadcast()
			v.mu.Unlock()
		}
		if ended && target == from {
			return
		}
	}
}

// written returns the length of the contiguous prefix written so far.
func (v *verifier) written() int64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.frontier
}

// result ends the download and returns the length of the contiguous prefix
// written and its SHA-256 in hex, once the hasher has caught up. It must be
// called exactly once, after every WriteAt has returned and before the file
// is closed.
func (v *verifier) result() (int64, string, error) {
	v.mu.Lock()
	v.ended = true
	v.grew.Broadcast()
	v.mu.Unlock()
	<-v.done
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.hashErr != nil {
		return 0, "", v.hashErr
	}
	if len(v.ahead) > 0 {
		return -1, "(bytes missing in the middle)", nil
	}
	return v.frontier, hex.EncodeToString(v.h.Sum(nil)), nil
}
