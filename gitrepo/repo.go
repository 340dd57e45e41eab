// Package gitrepo is the one place datalfs reads a Git repository from: a
// working tree, a linked worktree or a bare repository (Repo); the files
// of its working tree, its index or a commit (Source); their manifest-*
// attributes, read with one check-attr parser (Attrs); and its Git LFS
// settings and local object store, answered by git-lfs's own code so that
// lfs.storage, .lfsconfig and the LFS URL agree with the client that starts
// the agent. Every git process starts through internal/gitcmd.
package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/git-lfs/git-lfs/v3/config"

	"github.com/datalfs/datalfs/internal/gitcmd"
)

// ErrNotRepo means the directory is not inside a Git repository.
var ErrNotRepo = errors.New("not inside a Git repository")

// Repo is one Git repository. Its methods may be called from several
// goroutines at once.
type Repo struct {
	// Top is the absolute path of the top of the working tree; empty in a
	// bare repository (or when opened from inside the git dir).
	Top string
	// GitDir is the absolute path of this worktree's git dir (.git, or
	// .git/worktrees/NAME in a linked worktree, or the bare repository).
	GitDir string
	// CommonDir is the absolute path of the git dir shared by all
	// worktrees, where objects, refs and (by default) the LFS store live.
	CommonDir string

	lfsOnce sync.Once
	lfs     *config.Configuration
}

// Open finds the repository around dir (empty: the current directory): a
// working tree, a linked worktree, or a bare repository. It returns an
// error wrapping ErrNotRepo when there is none.
func Open(ctx context.Context, dir string) (*Repo, error) {
	out, err := gitcmd.Cmd{Dir: dir}.Output(ctx, "rev-parse", "--path-format=absolute",
		"--git-dir", "--git-common-dir", "--is-inside-work-tree")
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nil, fmt.Errorf("%w (%v)", ErrNotRepo, err)
		}
		return nil, fmt.Errorf("run git: %w", err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) != 3 || lines[0] == "" {
		return nil, fmt.Errorf("unexpected git rev-parse output %q", out)
	}
	r := &Repo{GitDir: filepath.Clean(lines[0]), CommonDir: filepath.Clean(lines[1])}
	if lines[2] == "true" {
		top, err := gitcmd.Run(ctx, dir, "rev-parse", "--show-toplevel")
		if err != nil {
			return nil, err
		}
		r.Top = filepath.Clean(top)
	}
	return r, nil
}

// Here is the repository around the current directory as git-lfs sees it.
// It never fails: outside a repository only global and system config apply
// (InRepo reports false and the paths are empty).
func Here() *Repo {
	cfg := config.New()
	r := &Repo{}
	r.lfsOnce.Do(func() { r.lfs = cfg })
	if cfg.InRepo() {
		r.GitDir = cfg.LocalGitDir()
		r.Top = cfg.LocalWorkingDir()
		r.CommonDir = cfg.LocalGitStorageDir()
	}
	return r
}

// InRepo reports whether r is a repository (false for Here outside one).
func (r *Repo) InRepo() bool { return r.GitDir != "" }

// Bare reports whether r has no working tree.
func (r *Repo) Bare() bool { return r.Top == "" }

// dir is where git runs for r: the top of the working tree, else the git dir.
func (r *Repo) dir() string {
	if r.Top != "" {
		return r.Top
	}
	return r.GitDir
}

// git runs git at r's top (or in its git dir) and returns its output.
func (r *Repo) git(ctx context.Context, args ...string) ([]byte, error) {
	return gitcmd.Cmd{Dir: r.dir()}.Output(ctx, args...)
}

// Resolve turns a revision into a commit id. A revision that starts with
// "-" (an option to git) or is empty is refused.
func (r *Repo) Resolve(ctx context.Context, rev string) (string, error) {
	if rev == "" || strings.HasPrefix(rev, "-") {
		return "", fmt.Errorf("%q is not a revision: name a branch, tag or commit", rev)
	}
	out, err := r.git(ctx, "rev-parse", "--verify", "--quiet", "--end-of-options", rev+"^{commit}")
	if s := strings.TrimSpace(string(out)); err == nil && s != "" {
		return s, nil
	}
	return "", fmt.Errorf("%q names no commit here: give a branch, tag or commit id", rev)
}

// Rel turns a path given on the command line (relative to the current
// directory) into a slash path relative to Top. A path outside the working
// tree is an error.
func (r *Repo) Rel(p string) (string, error) {
	if r.Top == "" {
		return "", fmt.Errorf("%s: the repository has no working tree", p)
	}
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

// RelAll is Rel for each of paths.
func (r *Repo) RelAll(paths []string) ([]string, error) {
	var rel []string
	for _, p := range paths {
		q, err := r.Rel(p)
		if err != nil {
			return nil, err
		}
		rel = append(rel, q)
	}
	return rel, nil
}

// Path is the absolute path of rel (a slash path relative to Top) in the
// working tree.
func (r *Repo) Path(rel string) string { return filepath.Join(r.Top, filepath.FromSlash(rel)) }

// ConfigValue returns git config key as git itself reads it in r (local,
// global and system config; no .lfsconfig), or "" when unset.
func (r *Repo) ConfigValue(ctx context.Context, key string) string {
	out, err := r.git(ctx, "config", "--get", key)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// Git runs a git command at r's top (in its git dir when bare) and returns
// its standard output, for the few questions the methods above do not
// answer (a status, a diff between commits, a temporary worktree).
func (r *Repo) Git(ctx context.Context, args ...string) ([]byte, error) {
	return r.git(ctx, args...)
}

// ErrNoWorktree means the repository has no working tree (it is bare, or
// was opened from inside its git dir).
var ErrNoWorktree = errors.New("not inside a Git working tree")

// OpenWorktree is Open for callers that need a working tree: a bare
// repository gives an error wrapping ErrNoWorktree.
func OpenWorktree(ctx context.Context, dir string) (*Repo, error) {
	r, err := Open(ctx, dir)
	if err == nil && r.Top == "" {
		return nil, fmt.Errorf("%w: %s is a bare repository or a git dir", ErrNoWorktree, r.GitDir)
	}
	return r, err
}

// OriginURL returns remote.origin.url when it is safe to record (it holds
// no "@", so no user name or credentials), else "".
func (r *Repo) OriginURL(ctx context.Context) string {
	u := r.ConfigValue(ctx, "remote.origin.url")
	if strings.Contains(u, "@") {
		return ""
	}
	return u
}
