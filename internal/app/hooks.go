package app

import (
	"context"
	"fmt"
	"io"

	"github.com/datalfs/datalfs/gitrepo"
	"github.com/datalfs/datalfs/precommit"
)

// installHooks installs the pre-commit hook that validates staged manifests.
func installHooks(ctx context.Context, repo *gitrepo.Repo, self string, out io.Writer) error {
	if err := precommit.Install(ctx, repo.GitDir, self); err != nil {
		return fmt.Errorf("install the pre-commit hook: %w", err)
	}
	fmt.Fprintln(out, "Installed the pre-commit hook: commits run `datalfs manifest validate --staged` (skip with git commit --no-verify).")
	return nil
}

// uninstallHooks removes what installHooks wrote and restores a chained hook.
func uninstallHooks(ctx context.Context, repo *gitrepo.Repo, out io.Writer) error {
	if err := precommit.Uninstall(ctx, repo.GitDir); err != nil {
		return fmt.Errorf("remove the pre-commit hook: %w", err)
	}
	return nil
}
