package main

import (
	"context"
	"io"

	"github.com/datalfs/datalfs/lfsrepo"
)

// installHooks installs the repository's git hooks for datalfs.
func installHooks(ctx context.Context, repo *lfsrepo.Repo, self string, out io.Writer) error {
	return nil
}

// uninstallHooks removes what installHooks wrote.
func uninstallHooks(ctx context.Context, repo *lfsrepo.Repo, out io.Writer) error {
	return nil
}
