package app

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/datalfs/datalfs/gitrepo"
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
			in, restore, err := detachStdin(c.App.Reader)
			if err != nil {
				return withCode(exitProblems, err)
			}
			defer restore()
			agent := &transfer.Agent{
				Open:             openTarget,
				Log:              c.App.ErrWriter,
				ProgressInterval: 100 * time.Millisecond,
			}
			return withCode(exitProblems, agent.Serve(c.Context, in, c.App.Writer))
		},
	}
}

// detachStdin keeps git-lfs's protocol stream for the agent alone. When in
// is the process's standard input, os.Stdin is pointed at the null device
// until restore is called, so that no child process inherits the protocol
// pipe: the AWS SDK hands os.Stdin to a profile's credential_process, and a
// helper that reads it (an MFA prompt, `cat`) would swallow requests or wait
// for input that never comes. Other readers (tests) are returned as they are.
func detachStdin(in io.Reader) (protocol io.Reader, restore func(), err error) {
	stdin := os.Stdin
	if f, ok := in.(*os.File); !ok || f != stdin {
		return in, func() {}, nil
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		return nil, nil, fmt.Errorf("open %s for credential helpers' standard input: %w", os.DevNull, err)
	}
	os.Stdin = null
	return stdin, func() { os.Stdin = stdin; null.Close() }, nil
}

// openTarget resolves the bucket and temp dir for one agent session, the way
// git-lfs resolves the LFS URL for the remote it named in init.
func openTarget(ctx context.Context, operation, remote string) (*transfer.Target, error) {
	repo := gitrepo.Here()
	store, err := openStore(ctx, repo, operation, remote)
	if err != nil {
		return nil, err
	}
	return &transfer.Target{Store: store, TempDir: repo.TempDir(), StallTimeout: store.Options().StallTimeout,
		ObjectMode: repo.ObjectMode()}, nil
}

// openStore returns the store behind the repository's LFS URL for remote.
func openStore(ctx context.Context, repo *gitrepo.Repo, operation, remote string) (*s3store.Store, error) {
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
