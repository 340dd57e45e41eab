// Package precommit installs and removes the plain Git pre-commit hook that
// runs `datalfs manifest validate --staged` and then `datalfs lineage verify
// --staged`, so that a commit with a bad dataset manifest, or with an output
// that its lineage record no longer describes, is refused.
//
// A pre-commit hook that is already there is kept: it is renamed to
// pre-commit.datalfs-chained and run first by the datalfs hook, whose exit
// status it keeps when it fails. Git LFS's own hooks (pre-push,
// post-checkout, post-commit, post-merge) are never touched.
package precommit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/datalfs/datalfs/internal/gitcmd"
)

const (
	// HookName is the hook file datalfs writes.
	HookName = "pre-commit"
	// ChainedName is what an existing pre-commit hook is renamed to.
	ChainedName = "pre-commit.datalfs-chained"
	// marker identifies a hook written by this package.
	marker = "# datalfs-managed-hook: pre-commit v1"
)

// HooksDir returns the directory Git runs hooks from for the repository whose
// Git directory (or working tree) is gitDir, honouring core.hooksPath.
func HooksDir(ctx context.Context, gitDir string) (string, error) {
	dir, err := runDir(ctx, gitDir)
	if err != nil {
		return "", err
	}
	out, err := git(ctx, dir, "rev-parse", "--path-format=absolute", "--git-path", "hooks")
	if err != nil {
		return "", err
	}
	return filepath.Clean(out), nil
}

// runDir picks the directory to run git in so that a relative core.hooksPath
// resolves as it does when Git runs hooks: against the working tree's top,
// or the Git directory itself in a bare repository.
func runDir(ctx context.Context, gitDir string) (string, error) {
	abs, err := filepath.Abs(gitDir)
	if err != nil {
		return "", err
	}
	if st, err := os.Stat(abs); err != nil {
		return "", fmt.Errorf("git directory: %w", err)
	} else if !st.IsDir() {
		return "", fmt.Errorf("git directory %s is not a directory", abs)
	}
	if inside, _ := git(ctx, abs, "rev-parse", "--is-inside-work-tree"); inside == "true" {
		return abs, nil
	}
	// abs is a Git directory. Its working tree is core.worktree, the parent
	// of a ".git" directory, or, for a linked worktree, named by its gitdir file.
	if wt, err := git(ctx, abs, "config", "--get", "core.worktree"); err == nil && wt != "" {
		if !filepath.IsAbs(wt) {
			wt = filepath.Join(abs, wt)
		}
		return wt, nil
	}
	if filepath.Base(abs) == ".git" {
		return filepath.Dir(abs), nil
	}
	if b, err := os.ReadFile(filepath.Join(abs, "gitdir")); err == nil {
		dotgit := strings.TrimSpace(string(b))
		if !filepath.IsAbs(dotgit) {
			dotgit = filepath.Join(abs, dotgit)
		}
		return filepath.Dir(dotgit), nil
	}
	return abs, nil // bare repository
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	return gitcmd.Run(ctx, dir, args...)
}

// Script returns the hook script that runs datalfsPath (or "datalfs" from
// PATH when it is empty or no longer there).
func Script(datalfsPath string) string {
	var sb strings.Builder
	sb.WriteString("#!/bin/sh\n")
	sb.WriteString(marker + "\n")
	sb.WriteString("# Refuses a commit whose staged dataset manifests break their schema.\n")
	sb.WriteString("# Installed by `datalfs install`, removed by `datalfs uninstall`.\n")
	sb.WriteString("# Skip it once with `git commit --no-verify`.\n")
	sb.WriteString("chained=\"$(dirname \"$0\")/" + ChainedName + "\"\n")
	sb.WriteString("if [ -x \"$chained\" ]; then\n")
	sb.WriteString("\t\"$chained\" \"$@\" || exit $?\n")
	sb.WriteString("fi\n")
	sb.WriteString("datalfs=" + shellQuote(datalfsPath) + "\n")
	sb.WriteString("if [ -z \"$datalfs\" ] || [ ! -x \"$datalfs\" ]; then\n")
	sb.WriteString("\tdatalfs=datalfs\n")
	sb.WriteString("\tif ! command -v datalfs >/dev/null 2>&1; then\n")
	sb.WriteString("\t\techo >&2 \"datalfs pre-commit hook: datalfs is not on your PATH; install it, run 'datalfs uninstall', or commit with --no-verify\"\n")
	sb.WriteString("\t\texit 2\n")
	sb.WriteString("\tfi\n")
	sb.WriteString("fi\n")
	sb.WriteString("\"$datalfs\" manifest validate --staged\n")
	sb.WriteString("status=$?\n")
	// Lineage records must still describe the outputs being committed.
	sb.WriteString("if [ $status -eq 0 ]; then\n")
	sb.WriteString("\t\"$datalfs\" lineage verify --staged\n")
	sb.WriteString("\tstatus=$?\n")
	sb.WriteString("fi\n")
	sb.WriteString("if [ $status -ne 0 ]; then\n")
	sb.WriteString("\techo >&2 \"datalfs pre-commit hook: commit refused; fix the manifests or lineage outputs above, or skip the check once with git commit --no-verify\"\n")
	sb.WriteString("fi\n")
	sb.WriteString("exit $status\n")
	return sb.String()
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// isOurs reports whether the hook file at path was written by this package.
func isOurs(path string) (bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	return bytes.Contains(b, []byte(marker)), nil
}

// Installed reports whether the datalfs pre-commit hook is in place.
func Installed(ctx context.Context, gitDir string) (bool, error) {
	dir, err := HooksDir(ctx, gitDir)
	if err != nil {
		return false, err
	}
	ours, err := isOurs(filepath.Join(dir, HookName))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return ours, err
}

// Install writes the datalfs pre-commit hook into the repository whose Git
// directory (or working tree) is gitDir. A foreign pre-commit hook is
// renamed to pre-commit.datalfs-chained and run first. Installing again only
// rewrites the datalfs hook (to pick up a new datalfsPath).
func Install(ctx context.Context, gitDir string, datalfsPath string) error {
	dir, err := HooksDir(ctx, gitDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create hooks directory: %w", err)
	}
	hook := filepath.Join(dir, HookName)
	chained := filepath.Join(dir, ChainedName)
	if _, err := os.Lstat(hook); err == nil {
		ours, err := isOurs(hook)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("read existing hook: %w", err)
		}
		if !ours {
			if _, err := os.Lstat(chained); err == nil {
				return fmt.Errorf("both %s and %s exist and %s is not datalfs's: merge them by hand, then run install again", hook, chained, HookName)
			}
			if err := os.Rename(hook, chained); err != nil {
				return fmt.Errorf("keep existing pre-commit hook: %w", err)
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return writeFileAtomic(hook, []byte(Script(datalfsPath)), 0o755)
}

// Uninstall removes the datalfs pre-commit hook and puts back the hook it
// chained, if any. A pre-commit hook that datalfs did not write is left alone.
func Uninstall(ctx context.Context, gitDir string) error {
	dir, err := HooksDir(ctx, gitDir)
	if err != nil {
		return err
	}
	hook := filepath.Join(dir, HookName)
	chained := filepath.Join(dir, ChainedName)
	ours, err := isOurs(hook)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("read pre-commit hook: %w", err)
	case !ours:
		return nil // someone else's hook; ours is not installed
	default:
		if err := os.Remove(hook); err != nil {
			return fmt.Errorf("remove pre-commit hook: %w", err)
		}
	}
	if _, err := os.Lstat(chained); err == nil {
		if err := os.Rename(chained, hook); err != nil {
			return fmt.Errorf("restore chained pre-commit hook: %w", err)
		}
	}
	return nil
}

// writeFileAtomic writes data to a temporary file beside path and renames it
// into place, so a crash never leaves a half-written hook.
func writeFileAtomic(path string, data []byte, perm fs.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			_ = os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp, perm); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	return nil
}
