package main

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/datalfs/datalfs/lfsrepo"
	"github.com/datalfs/datalfs/s3store"
	"github.com/datalfs/datalfs/transfer"
)

func transferCommand() *cli.Command {
	return &cli.Command{
		Name:  "transfer",
		Usage: "run as a Git LFS standalone custom transfer agent (git-lfs starts this)",
		Description: "git-lfs starts `datalfs transfer` and speaks its custom transfer protocol over stdin and stdout.\n" +
			"Set it up with `datalfs install`; you do not run it by hand.",
		Action: func(c *cli.Context) error {
			agent := &transfer.Agent{
				Open:             openTarget,
				Log:              c.App.ErrWriter,
				ProgressInterval: 100 * time.Millisecond,
			}
			return withCode(exitProblems, agent.Serve(c.Context, c.App.Reader, c.App.Writer))
		},
	}
}

// openTarget resolves the bucket and temp dir for one agent session, the way
// git-lfs resolves the LFS URL for the remote it named in init.
func openTarget(ctx context.Context, operation, remote string) (*transfer.Target, error) {
	repo := lfsrepo.Open()
	store, err := openStore(ctx, repo, operation, remote)
	if err != nil {
		return nil, err
	}
	return &transfer.Target{Store: store, TempDir: repo.TempDir(), StallTimeout: store.Options().StallTimeout}, nil
}

// openStore returns the store behind the repository's LFS URL for remote.
func openStore(ctx context.Context, repo *lfsrepo.Repo, operation, remote string) (*s3store.Store, error) {
	rawURL, err := repo.LFSURL(operation, remote)
	if err != nil {
		return nil, err
	}
	loc, err := s3store.ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	opts, err := s3store.LoadOptions(os.LookupEnv, repo.Config)
	if err != nil {
		return nil, err
	}
	store, err := s3store.New(ctx, loc, opts)
	if err == nil && repo.InRepo() {
		store.KeepUploadsIn(filepath.Join(filepath.Dir(repo.TempDir()), "datalfs-uploads"))
	}
	return store, err
}
