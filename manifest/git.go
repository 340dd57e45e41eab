package manifest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/git-lfs/git-lfs/v3/lfs"

	"github.com/datalfs/datalfs/internal/gitcmd"
)

// ErrNotRepo means the directory is not inside a Git working tree.
var ErrNotRepo = errors.New("not inside a Git working tree")

// Repo is the Git working tree that manifests and schemas live in.
type Repo struct {
	// Top is the absolute path of the working tree's root.
	Top string
	// CommonDir is the absolute path of the Git directory shared by all
	// worktrees; the LFS store lives under it.
	CommonDir string
}

// FindRepo finds the working tree containing dir. It returns ErrNotRepo when
// there is none.
func FindRepo(ctx context.Context, dir string) (*Repo, error) {
	cmd := exec.CommandContext(ctx, "git", "rev-parse", "--show-toplevel", "--git-common-dir")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nil, ErrNotRepo
		}
		return nil, fmt.Errorf("run git: %w", err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) != 2 || lines[0] == "" {
		return nil, ErrNotRepo
	}
	common := lines[1]
	if !filepath.IsAbs(common) {
		common = filepath.Join(dir, common)
	}
	common, err = filepath.Abs(common)
	if err != nil {
		return nil, err
	}
	return &Repo{Top: filepath.Clean(lines[0]), CommonDir: common}, nil
}

// git runs a git command at the top of the working tree and returns stdout.
func (r *Repo) git(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
	return gitcmd.Cmd{Dir: r.Top, Stdin: stdin}.Output(ctx, args...)
}

// TrackedFiles lists the files in the index, relative to Top.
func (r *Repo) TrackedFiles(ctx context.Context) ([]string, error) {
	out, err := r.git(ctx, nil, "ls-files", "-z", "--full-name")
	if err != nil {
		return nil, err
	}
	return gitcmd.SplitNUL(out), nil
}

// StagedFiles lists the files added, copied, modified or renamed in the
// index relative to HEAD, relative to Top.
func (r *Repo) StagedFiles(ctx context.Context) ([]string, error) {
	out, err := r.git(ctx, nil, "diff", "--cached", "--name-only", "--diff-filter=ACMR", "-z")
	if err != nil {
		return nil, err
	}
	return gitcmd.SplitNUL(out), nil
}

// ChangedPaths lists every path the index changes relative to HEAD (added,
// modified, deleted; a rename as its two paths), relative to Top. Without a
// HEAD (the first commit) every staged path is listed.
func (r *Repo) ChangedPaths(ctx context.Context) ([]string, error) {
	out, err := r.git(ctx, nil, "diff", "--cached", "--name-only", "--no-renames", "-z")
	if err != nil {
		return nil, err
	}
	return gitcmd.SplitNUL(out), nil
}

// HeadAttributes reads the manifest-* attributes paths have in HEAD, from
// the .gitattributes files HEAD holds, through a temporary index (git
// check-attr --source needs Git 2.40). It reports false when there is no
// HEAD yet.
func (r *Repo) HeadAttributes(ctx context.Context, paths []string) (map[string]map[string]string, bool, error) {
	if _, err := r.git(ctx, nil, "rev-parse", "--verify", "--quiet", "HEAD^{tree}"); err != nil {
		return nil, false, nil
	}
	tmp, err := os.MkdirTemp("", "datalfs-head-index-")
	if err != nil {
		return nil, false, err
	}
	defer os.RemoveAll(tmp)
	env := []string{"GIT_INDEX_FILE=" + filepath.Join(tmp, "index")}
	if _, err := (gitcmd.Cmd{Dir: r.Top, Env: env}).Output(ctx, "read-tree", "HEAD"); err != nil {
		return nil, false, err
	}
	attrs, err := r.attributes(ctx, env, paths, true)
	return attrs, true, err
}

// Attributes reads the manifest-* attributes of paths (relative to Top) in
// one git check-attr call. With cached, .gitattributes files are read from
// the index, as they will be committed.
func (r *Repo) Attributes(ctx context.Context, paths []string, cached bool) (map[string]map[string]string, error) {
	return r.attributes(ctx, nil, paths, cached)
}

// attributes runs git check-attr with env added to its environment.
func (r *Repo) attributes(ctx context.Context, env []string, paths []string, cached bool) (map[string]map[string]string, error) {
	res := make(map[string]map[string]string, len(paths))
	if len(paths) == 0 {
		return res, nil
	}
	args := []string{"check-attr", "--stdin", "-z"}
	if cached {
		args = append(args, "--cached")
	}
	args = append(args, attrNames...)
	var in bytes.Buffer
	for _, p := range paths {
		in.WriteString(p)
		in.WriteByte(0)
	}
	out, err := gitcmd.Cmd{Dir: r.Top, Env: env, Stdin: in.Bytes()}.Output(ctx, args...)
	if err != nil {
		return nil, err
	}
	f := bytes.Split(out, []byte{0})
	for i := 0; i+2 < len(f); i += 3 {
		p, name, val := string(f[i]), string(f[i+1]), string(f[i+2])
		m := res[p]
		if m == nil {
			m = make(map[string]string, len(attrNames))
			res[p] = m
		}
		m[name] = val
	}
	return res, nil
}

// OpenIndex streams the staged content of path (relative to Top).
func (r *Repo) OpenIndex(ctx context.Context, path string) (io.ReadCloser, error) {
	if _, err := r.git(ctx, nil, "cat-file", "-e", ":"+path); err != nil {
		return nil, fmt.Errorf("%s is not in the index: %w", path, os.ErrNotExist)
	}
	return gitcmd.Cmd{Dir: r.Top}.Stream(ctx, "cat-file", "blob", ":"+path)
}

// ReadIndexFile reads a small file from the index, for schemas.
func (r *Repo) ReadIndexFile(ctx context.Context, path string) ([]byte, error) {
	return r.git(ctx, nil, "cat-file", "blob", ":"+path)
}

// lfsStorage returns the LFS storage directory, honouring lfs.storage
// (a relative value is taken inside the Git directory, as git-lfs does).
func (r *Repo) lfsStorage(ctx context.Context) string {
	out, err := r.git(ctx, nil, "config", "--get", "lfs.storage")
	if s := strings.TrimSpace(string(out)); err == nil && s != "" {
		if strings.HasPrefix(s, "~/") {
			if home, err := os.UserHomeDir(); err == nil {
				s = filepath.Join(home, s[2:])
			}
		}
		if !filepath.IsAbs(s) {
			s = filepath.Join(r.CommonDir, s)
		}
		return s
	}
	return filepath.Join(r.CommonDir, "lfs")
}

// LFSObjectPath is where the local LFS store keeps the object oid.
func (r *Repo) LFSObjectPath(ctx context.Context, oid string) string {
	return filepath.Join(r.lfsStorage(ctx), "objects", oid[0:2], oid[2:4], oid)
}

// MissingLFSError means a manifest is a Git LFS pointer whose content is not
// in the local LFS store.
type MissingLFSError struct {
	Oid  string
	Size int64
	Path string // where the content was looked for
}

// Error says what is missing and how to fetch it.
func (e *MissingLFSError) Error() string {
	return fmt.Sprintf("is a Git LFS pointer (oid %s…, %d bytes) whose content is not in the local LFS store; run `git lfs pull` to fetch it", e.Oid[:12], e.Size)
}

// pointerCutoff is the size below which git-lfs considers a blob a pointer.
const pointerCutoff = 1024

// resolveLFS returns src unchanged unless its content is a Git LFS pointer,
// in which case it opens the object from the local store instead, after
// checking that its content hashes to the pointer's oid.
func resolveLFS(ctx context.Context, repo *Repo, src io.ReadCloser) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(src, 4096)
	head, err := br.Peek(pointerCutoff)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		src.Close()
		return nil, err
	}
	unchanged := &bufferedReadCloser{Reader: br, Closer: src}
	if repo == nil || len(head) >= pointerCutoff || !bytes.HasPrefix(head, []byte("version ")) {
		return unchanged, nil
	}
	p, err := lfs.DecodePointer(bytes.NewReader(head))
	if err != nil || p.Size == 0 {
		return unchanged, nil // looks like a pointer but is not one: validate the text
	}
	src.Close()
	objPath := repo.LFSObjectPath(ctx, p.Oid)
	f, err := os.Open(objPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil, &MissingLFSError{Oid: p.Oid, Size: p.Size, Path: objPath}
	}
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err == nil && st.Size() != p.Size {
		f.Close()
		return nil, fmt.Errorf("the Git LFS object %s in the local store has %d bytes, the pointer says %d; remove it and run `git lfs pull`", objPath, st.Size(), p.Size)
	}
	// The content is hashed before it is validated: a damaged object of the
	// right size must not be validated as if it were the manifest.
	h := sha256.New()
	_, err = io.Copy(h, f)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("read the Git LFS object %s: %w", objPath, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != p.Oid {
		f.Close()
		return nil, &DamagedLFSError{Oid: p.Oid, Got: got, Path: objPath}
	}
	return f, nil
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

// bufferedReadCloser reads through a bufio.Reader and closes the source.
type bufferedReadCloser struct {
	*bufio.Reader
	io.Closer
}
