package gitrepo

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/datalfs/datalfs/internal/gitcmd"
)

// Source says which version of the repository's files to read: the
// working tree (the zero Source), the index, or a commit.
type Source struct {
	Rev    string // a commit id (resolved with Repo.Resolve)
	Staged bool
}

// Worktree reports whether s is the working tree.
func (s Source) Worktree() bool { return s.Rev == "" && !s.Staged }

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

func short(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}

// spec is git's name for path in s ("REV:PATH" or ":PATH").
func (s Source) spec(path string) string {
	if s.Staged {
		return ":" + path
	}
	return s.Rev + ":" + path
}

// index returns the environment that makes git read s as its index: for a
// commit, a temporary index holding its tree (removed by done), so that
// ls-files and check-attr --cached see the commit without touching the
// working tree or the real index. cached says whether check-attr must read
// .gitattributes from that index.
func (r *Repo) index(ctx context.Context, s Source) (env []string, cached bool, done func(), err error) {
	if s.Rev == "" {
		return nil, s.Staged, func() {}, nil
	}
	tmp, err := os.MkdirTemp("", "datalfs-index-")
	if err != nil {
		return nil, false, nil, err
	}
	done = func() { os.RemoveAll(tmp) }
	env = []string{"GIT_INDEX_FILE=" + filepath.Join(tmp, "index")}
	if _, err := (gitcmd.Cmd{Dir: r.dir(), Env: env}).Output(ctx, "read-tree", "--end-of-options", s.Rev); err != nil {
		done()
		return nil, false, nil, err
	}
	return env, true, done, nil
}

// Files lists the files of s matching pathspecs (relative to Top; none
// means all), as slash paths relative to Top. For the working tree it lists
// the tracked files (those in the index).
func (r *Repo) Files(ctx context.Context, s Source, pathspecs ...string) ([]string, error) {
	env, _, done, err := r.index(ctx, s)
	if err != nil {
		return nil, err
	}
	defer done()
	args := append([]string{"ls-files", "-z", "--full-name", "--"}, pathspecs...)
	out, err := gitcmd.Cmd{Dir: r.dir(), Env: env}.Output(ctx, args...)
	if err != nil {
		return nil, err
	}
	return gitcmd.SplitNUL(out), nil
}

// StagedFiles lists the files added, copied, modified or renamed in the
// index relative to HEAD.
func (r *Repo) StagedFiles(ctx context.Context) ([]string, error) {
	out, err := r.git(ctx, "diff", "--cached", "--name-only", "--diff-filter=ACMR", "-z")
	if err != nil {
		return nil, err
	}
	return gitcmd.SplitNUL(out), nil
}

// ChangedPaths lists every path the index changes relative to HEAD (added,
// modified, deleted; a rename as its two paths). Without a HEAD (the first
// commit) every staged path is listed.
func (r *Repo) ChangedPaths(ctx context.Context) ([]string, error) {
	out, err := r.git(ctx, "diff", "--cached", "--name-only", "--no-renames", "-z")
	if err != nil {
		return nil, err
	}
	return gitcmd.SplitNUL(out), nil
}

// HasHead reports whether HEAD names a commit (false before the first one).
func (r *Repo) HasHead(ctx context.Context) bool {
	_, err := r.git(ctx, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
	return err == nil
}

// Exists reports whether path is a regular file (or, in the index or a
// commit, a blob) in s.
func (r *Repo) Exists(ctx context.Context, s Source, path string) bool {
	if s.Worktree() {
		st, err := os.Stat(r.Path(path))
		return err == nil && st.Mode().IsRegular()
	}
	out, err := r.git(ctx, "cat-file", "-t", s.spec(path))
	return err == nil && strings.TrimSpace(string(out)) == "blob"
}

// Open streams path as s holds it. A missing file gives an error that
// wraps os.ErrNotExist.
func (r *Repo) Open(ctx context.Context, s Source, path string) (io.ReadCloser, error) {
	if s.Worktree() {
		return os.Open(r.Path(path))
	}
	if !r.Exists(ctx, s, path) {
		return nil, fmt.Errorf("%s is not in %s: %w", path, s, os.ErrNotExist)
	}
	return gitcmd.Cmd{Dir: r.dir()}.Stream(ctx, "cat-file", "blob", s.spec(path))
}

// ReadFile reads a small file as s holds it.
func (r *Repo) ReadFile(ctx context.Context, s Source, path string) ([]byte, error) {
	if s.Worktree() {
		return os.ReadFile(r.Path(path))
	}
	out, err := r.git(ctx, "cat-file", "blob", s.spec(path))
	if err != nil {
		if !r.Exists(ctx, s, path) {
			return nil, fmt.Errorf("%s is not in %s: %w", path, s, os.ErrNotExist)
		}
		return nil, err
	}
	return out, nil
}

// Stage adds paths (slash paths relative to Top) to the index, as git add.
func (r *Repo) Stage(ctx context.Context, paths ...string) error {
	_, err := r.git(ctx, append([]string{"add", "--"}, paths...)...)
	return err
}
