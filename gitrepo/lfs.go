package gitrepo

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/git-lfs/git-lfs/v3/config"
	"github.com/git-lfs/git-lfs/v3/lfs"
	"github.com/git-lfs/git-lfs/v3/lfsapi"
)

// config is git-lfs's view of r, made on first use. git-lfs's config code
// reads .lfsconfig from r's working tree (or, bare, from HEAD) but asks
// git whether the repository is bare in the process's directory: open
// repositories other than the current one only from inside them when
// .lfsconfig matters.
func (r *Repo) config() *config.Configuration {
	r.lfsOnce.Do(func() {
		work := r.Top
		if work == "" {
			work = r.GitDir
		}
		r.lfs = config.NewIn(work, r.GitDir)
	})
	return r.lfs
}

// TempDir returns git-lfs's temp dir (under lfs.storage when set). Downloads
// must be written there: git-lfs renames them into its object store.
func (r *Repo) TempDir() string { return r.config().TempDir() }

// ObjectDir returns git-lfs's object store directory: lfs.storage (from git
// config or .lfsconfig; relative to the common git dir unless absolute)
// plus "objects", or COMMONDIR/lfs/objects.
func (r *Repo) ObjectDir() string { return r.config().LFSObjectDir() }

// ObjectPath is where git-lfs keeps the object oid in the local store.
func (r *Repo) ObjectPath(oid string) string {
	return filepath.Join(r.ObjectDir(), oid[0:2], oid[2:4], oid)
}

// Config returns a git config value as git-lfs reads it: local, global and
// system config, plus the few keys git-lfs accepts from .lfsconfig.
func (r *Repo) Config(key string) (string, bool) { return r.config().Git.Get(key) }

// LFSURL returns the LFS URL git-lfs uses for operation ("upload" or
// "download") with remote, which may be a remote name or a URL; an empty
// remote means the default remote.
func (r *Repo) LFSURL(operation, remote string) (string, error) {
	finder := lfsapi.NewEndpointFinder(r.config())
	ep := finder.Endpoint(operation, remote)
	if ep.Url == "" && isURL(remote) {
		ep = finder.NewEndpointFromCloneURL(operation, remote)
	}
	if ep.Url == "" || ep.Url == "<unknown>" {
		return "", fmt.Errorf("no LFS URL for remote %q: set one with `git config lfs.url https://BUCKET.s3.REGION.amazonaws.com/PREFIX` "+
			"or commit it in .lfsconfig (see .lfsconfig.example)", remoteOr(remote))
	}
	return ep.Url, nil
}

func isURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme != "" && strings.Contains(s, "://")
}

func remoteOr(remote string) string {
	if remote == "" {
		return "origin"
	}
	return remote
}

// StandaloneAgent returns the standalone transfer agent git-lfs uses for
// rawURL, matching URL-scoped keys (lfs.<url>.standalonetransferagent) the
// way git-lfs does.
func (r *Repo) StandaloneAgent(rawURL string) string {
	v, _ := config.NewURLConfig(r.config().Git).Get("lfs", rawURL, "standalonetransferagent")
	return v
}

// pointerCutoff is the size below which git-lfs considers a blob a pointer.
const pointerCutoff = 1024

// ReadPointer peeks at the start of src. When src holds a Git LFS pointer
// it closes src and returns the pointer; otherwise it returns a reader that
// gives src's whole content (and closes src) and a nil pointer.
func ReadPointer(src io.ReadCloser) (io.ReadCloser, *lfs.Pointer, error) {
	br := bufio.NewReaderSize(src, 4096)
	head, err := br.Peek(pointerCutoff)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		src.Close()
		return nil, nil, err
	}
	unchanged := &bufferedReadCloser{Reader: br, Closer: src}
	if len(head) >= pointerCutoff || !bytes.HasPrefix(head, []byte("version ")) {
		return unchanged, nil, nil
	}
	p, err := lfs.DecodePointer(bytes.NewReader(head))
	if err != nil || p.Size == 0 {
		return unchanged, nil, nil // looks like a pointer but is not one
	}
	src.Close()
	return nil, p, nil
}

// bufferedReadCloser reads through a bufio.Reader and closes the source.
type bufferedReadCloser struct {
	*bufio.Reader
	io.Closer
}

// OpenObject opens the object oid of size bytes from the local LFS store,
// after checking that its content hashes to oid. A missing object is a
// *MissingLFSError, a damaged one a
// *DamagedLFSError.
func (r *Repo) OpenObject(oid string, size int64) (*os.File, error) {
	objPath := r.ObjectPath(oid)
	f, err := os.Open(objPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil, &MissingLFSError{Oid: oid, Size: size, Path: objPath}
	}
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err == nil && st.Size() != size {
		f.Close()
		return nil, fmt.Errorf("the Git LFS object %s in the local store has %d bytes, the pointer says %d; remove it and run `git lfs pull`", objPath, st.Size(), size)
	}
	// The content is hashed before it is used: a damaged object of the
	// right size must not be read as if it were the file.
	h := sha256.New()
	_, err = io.Copy(h, f)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("read the Git LFS object %s: %w", objPath, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != oid {
		f.Close()
		return nil, &DamagedLFSError{Oid: oid, Got: got, Path: objPath}
	}
	return f, nil
}

// MissingLFSError means a file is a Git LFS pointer whose content is not in
// the local LFS store.
type MissingLFSError struct {
	Oid  string
	Size int64
	Path string // where the content was looked for
}

// Error says what is missing and how to fetch it.
func (e *MissingLFSError) Error() string {
	return fmt.Sprintf("is a Git LFS pointer (oid %s…, %d bytes) whose content is not in the local LFS store; run `git lfs pull` to fetch it", e.Oid[:12], e.Size)
}

// DamagedLFSError means the local LFS store holds an object whose content
// does not hash to its oid.
type DamagedLFSError struct {
	Oid  string // the oid the pointer names
	Got  string // what the stored content hashes to
	Path string // the object file
}

// Error names the object and says how to replace it.
func (e *DamagedLFSError) Error() string {
	return fmt.Sprintf("the Git LFS object %s in the local store is damaged: its content hashes to %s; delete %s, then fetch it again with `git lfs pull` (or stage the file again with `git add` if it was never pushed)", e.Oid, e.Got, e.Path)
}
