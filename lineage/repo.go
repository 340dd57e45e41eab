package lineage

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
	"path/filepath"
	"sort"
	"strings"

	"github.com/git-lfs/git-lfs/v3/lfs"

	"github.com/datalfs/datalfs/internal/gitcmd"
)

// Repo is the Git working tree that records and the files they describe
// live in.
type Repo struct {
	// Top is the absolute path of the top of the working tree.
	Top string
}

// Open finds the working tree that contains dir.
func Open(ctx context.Context, dir string) (*Repo, error) {
	top, err := gitcmd.Run(ctx, dir, "rev-parse", "--show-toplevel")
	if err != nil || top == "" {
		return nil, errors.New("not in a git working tree: run this inside the repository")
	}
	return &Repo{Top: filepath.Clean(top)}, nil
}

// Source says which version of the repository's files to read: the
// working tree (the zero Source), the index, or a commit.
type Source struct {
	Rev    string // a commit id (resolved with Resolve)
	Staged bool
}

// String names the source for messages.
func (s Source) String() string {
	switch {
	case s.Staged:
		return "the index"
	case s.Rev != "":
		return "commit " + short(s.Rev)
	}
	return "the working tree"
}

func (r *Repo) git(ctx context.Context, args ...string) ([]byte, error) {
	return gitcmd.Cmd{Dir: r.Top}.Output(ctx, args...)
}

// Resolve turns a revision into a commit id.
func (r *Repo) Resolve(ctx context.Context, rev string) (string, error) {
	if strings.HasPrefix(rev, "-") {
		return "", fmt.Errorf("%q is not a revision", rev)
	}
	out, err := r.git(ctx, "rev-parse", "--verify", "--quiet", rev+"^{commit}")
	if err != nil {
		return "", fmt.Errorf("%q names no commit here: give a branch, tag or commit id", rev)
	}
	return strings.TrimSpace(string(out)), nil
}

// Rel turns a command-line path (relative to the working directory) into a
// slash path relative to Top.
func (r *Repo) Rel(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	top, err := filepath.EvalSymlinks(r.Top)
	if err != nil {
		top = r.Top
	}
	if d, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		abs = filepath.Join(d, filepath.Base(abs))
	}
	rel, err := filepath.Rel(top, abs)
	if err != nil || !filepath.IsLocal(rel) {
		return "", fmt.Errorf("%s is outside the repository at %s", p, r.Top)
	}
	return filepath.ToSlash(rel), nil
}

func (r *Repo) abs(rel string) string { return filepath.Join(r.Top, filepath.FromSlash(rel)) }

// spec is git's name for path in src ("REV:PATH" or ":PATH").
func spec(src Source, path string) string {
	if src.Staged {
		return ":" + path
	}
	return src.Rev + ":" + path
}

// Exists reports whether path is a file in src.
func (r *Repo) Exists(ctx context.Context, src Source, path string) bool {
	if src.Rev == "" && !src.Staged {
		st, err := os.Stat(r.abs(path))
		return err == nil && st.Mode().IsRegular()
	}
	out, err := r.git(ctx, "cat-file", "-t", spec(src, path))
	return err == nil && strings.TrimSpace(string(out)) == "blob"
}

// Open streams path as src holds it. A missing file gives an error that
// wraps os.ErrNotExist.
func (r *Repo) Open(ctx context.Context, src Source, path string) (io.ReadCloser, error) {
	if src.Rev == "" && !src.Staged {
		return os.Open(r.abs(path))
	}
	if !r.Exists(ctx, src, path) {
		return nil, fmt.Errorf("%s is not in %s: %w", path, src, os.ErrNotExist)
	}
	return gitcmd.Cmd{Dir: r.Top}.Stream(ctx, "cat-file", "blob", spec(src, path))
}

// ReadFile reads path as src holds it.
func (r *Repo) ReadFile(ctx context.Context, src Source, path string) ([]byte, error) {
	rc, err := r.Open(ctx, src, path)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// Digest is the SHA-256 of path in src: a Git LFS pointer's oid (no
// download), else the hash of the bytes. lfsFile says which.
func (r *Repo) Digest(ctx context.Context, src Source, path string) (sum string, lfsFile bool, err error) {
	rc, err := r.Open(ctx, src, path)
	if err != nil {
		return "", false, err
	}
	sum, lfsFile, err = digest(rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", false, fmt.Errorf("%s: %w", path, err)
	}
	return sum, lfsFile, nil
}

func digest(rd io.Reader) (string, bool, error) {
	br := bufio.NewReaderSize(rd, 4096)
	head, _ := br.Peek(1024)
	if len(head) < 1024 && bytes.HasPrefix(head, []byte("version ")) {
		if p, err := lfs.DecodePointer(bytes.NewReader(head)); err == nil && isHex64(p.Oid) {
			return p.Oid, true, nil
		}
	}
	h := sha256.New()
	if _, err := io.Copy(h, br); err != nil {
		return "", false, err
	}
	return hex.EncodeToString(h.Sum(nil)), false, nil
}

// Load reads every record in src, sorted by name; a malformed record is an
// error.
func (r *Repo) Load(ctx context.Context, src Source) ([]*Step, error) {
	steps, bad, err := r.load(ctx, src)
	if err == nil && len(bad) > 0 {
		err = bad[0]
	}
	return steps, err
}

// load reads every record in src, sorted by name, and returns the malformed
// ones' errors apart.
func (r *Repo) load(ctx context.Context, src Source) (steps []*Step, bad []error, err error) {
	var paths []string
	switch {
	case src.Rev == "" && !src.Staged:
		ents, err := os.ReadDir(r.abs(Dir))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, nil, err
		}
		for _, e := range ents {
			if !e.IsDir() && strings.HasSuffix(e.Name(), ".json") {
				paths = append(paths, Dir+"/"+e.Name())
			}
		}
	case src.Staged:
		out, err := r.git(ctx, "ls-files", "-z", "--full-name", "--", Dir+"/")
		if err != nil {
			return nil, nil, err
		}
		paths = gitcmd.SplitNUL(out)
	default:
		out, err := r.git(ctx, "ls-tree", "-r", "-z", "--name-only", "--full-tree", src.Rev, "--", Dir+"/")
		if err != nil {
			return nil, nil, err
		}
		paths = gitcmd.SplitNUL(out)
	}
	sort.Strings(paths)
	for _, p := range paths {
		if !strings.HasSuffix(p, ".json") || strings.Contains(strings.TrimPrefix(p, Dir+"/"), "/") {
			continue
		}
		data, err := r.ReadFile(ctx, src, p)
		if err != nil {
			return nil, nil, err
		}
		if bytes.HasPrefix(data, []byte("version https://git-lfs")) {
			bad = append(bad, fmt.Errorf("%s is a Git LFS pointer: keep records out of Git LFS (add `%s/*.json !filter !diff !merge text` to .gitattributes)", p, Dir))
			continue
		}
		s, err := Parse(p, data)
		if err != nil {
			bad = append(bad, err)
			continue
		}
		steps = append(steps, s)
	}
	return steps, bad, nil
}

func short(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}
