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

// Download temp files live in git-lfs's temp dir as OID.datalfs, each with a
// sidecar OID.datalfs.done holding how many leading bytes are on disk. A file is locked while an agent writes it; an unlocked one was
// left by an agent that died and may be resumed.
const (
	tempSuffix     = ".datalfs"
	sidecarSuffix  = ".done"
	sidecarEvery   = 8 << 20 // persist the verified prefix at most this often
	readBackBuffer = 1 << 20
)

// tempFile is a download in progress.
type tempFile struct {
	f          *os.File
	resumeFrom int64 // leading bytes already on disk from an earlier run
}

func sidecarPath(name string) string { return name + sidecarSuffix }

// openTemp returns a locked temp file for oid in dir, named OID.datalfs so
// that a file left by a dead agent is found without listing the directory.
// With resume, such a file is taken over from the prefix its sidecar vouches
// for; otherwise it is emptied. If a live agent holds that name (two git
// commands fetching the same object at once), a file of our own is used.
func openTemp(dir, oid string, size int64, resume bool) (*tempFile, error) {
	name := filepath.Join(dir, oid+tempSuffix)
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create LFS temp dir: %w", err)
		}
		f, err = os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	}
	if err != nil {
		return nil, fmt.Errorf("create temp file for %s: %w", oid, err)
	}
	if lockFile(f, false) != nil {
		f.Close()
		if f, err = os.CreateTemp(dir, oid+"-*"+tempSuffix); err != nil {
			return nil, fmt.Errorf("create temp file for %s: %w", oid, err)
		}
		if err := lockFile(f, true); err != nil {
			removeTemp(f)
			return nil, fmt.Errorf("lock temp file for %s: %w", oid, err)
		}
		return &tempFile{f: f}, nil
	}
	if resume {
		if n := resumable(f, size); n > 0 {
			return &tempFile{f: f, resumeFrom: n}, nil
		}
	}
	if fi, err := f.Stat(); err == nil && fi.Size() > 0 {
		// What a dead agent left, not worth resuming: start afresh.
		if err := f.Truncate(0); err != nil {
			removeTemp(f)
			return nil, fmt.Errorf("reset temp file for %s: %w", oid, err)
		}
	}
	os.Remove(sidecarPath(name))
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

// close ends the download. A finished file stays for git-lfs to move into
// place (its sidecar goes); an interrupted one stays with its sidecar for
// the next run to resume; a failed one is removed with its sidecar.
func (t *tempFile) close(finished, interrupted bool) error {
	if !finished && !interrupted {
		removeTemp(t.f)
		return nil
	}
	if finished {
		os.Remove(sidecarPath(t.f.Name()))
	}
	if err := t.f.Close(); err != nil {
		removeTemp(t.f)
		return fmt.Errorf("write temp file: %w", err)
	}
	return nil
}

// verifier is the io.WriterAt a store downloads into. It writes to the temp
// file and hashes the bytes in order as the written prefix grows: bytes that
// arrive ahead of the prefix (from parallel ranges) are read back from the
// file once the gap before them is filled. It records the verified prefix in
// the sidecar so an interrupted download can resume.
type verifier struct {
	f *os.File

	mu       sync.Mutex
	h        hash.Hash
	frontier int64           // bytes [0, frontier) are written and hashed
	ahead    map[int64]int64 // offset -> length written beyond the frontier
	saved    int64
	err      error
}

// newVerifier hashes the resumed prefix of tf and returns a verifier that
// continues from there.
func newVerifier(tf *tempFile) (*verifier, error) {
	v := &verifier{f: tf.f, h: sha256.New(), ahead: map[int64]int64{}}
	if tf.resumeFrom > 0 {
		if err := v.readBack(0, tf.resumeFrom); err != nil {
			return nil, fmt.Errorf("read partial download %s: %w", tf.f.Name(), err)
		}
		v.frontier, v.saved = tf.resumeFrom, tf.resumeFrom
	}
	return v, nil
}

// WriteAt writes p at off. Every byte must be written once.
func (v *verifier) WriteAt(p []byte, off int64) (int, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.err != nil {
		return 0, v.err
	}
	if off < v.frontier {
		v.err = fmt.Errorf("bytes at offset %d written twice", off)
		return 0, v.err
	}
	n, err := v.f.WriteAt(p, off)
	if err != nil {
		v.err = fmt.Errorf("write temp file %s: %w", v.f.Name(), err)
		return n, v.err
	}
	if off == v.frontier {
		v.h.Write(p)
		v.frontier += int64(n)
	} else {
		v.ahead[off] = int64(n)
	}
	for {
		l, ok := v.ahead[v.frontier]
		if !ok {
			break
		}
		delete(v.ahead, v.frontier)
		if err := v.readBack(v.frontier, l); err != nil {
			v.err = fmt.Errorf("read back temp file %s: %w", v.f.Name(), err)
			return n, v.err
		}
		v.frontier += l
	}
	if v.frontier-v.saved >= sidecarEvery {
		// Best effort: without it a resumed run just starts earlier.
		if os.WriteFile(sidecarPath(v.f.Name()), []byte(strconv.FormatInt(v.frontier, 10)), 0o600) == nil {
			v.saved = v.frontier
		}
	}
	return n, nil
}

func (v *verifier) readBack(off, n int64) error {
	_, err := io.CopyBuffer(v.h, io.NewSectionReader(v.f, off, n), make([]byte, min(n, readBackBuffer)))
	return err
}

// result returns the length of the contiguous prefix written and its
// SHA-256 in hex.
func (v *verifier) result() (int64, string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.ahead) > 0 {
		return -1, "(bytes missing in the middle)"
	}
	return v.frontier, hex.EncodeToString(v.h.Sum(nil))
}
