package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/datalfs/datalfs/export"
	"github.com/datalfs/datalfs/gitrepo"
	"github.com/datalfs/datalfs/s3store"
)

func exportCommand() *cli.Command {
	return &cli.Command{
		Name:      "export",
		Usage:     "write the files of a commit into a directory, LFS files straight from the bucket (for training machines and CI)",
		ArgsUsage: "-o DIR [--rev REV] [PATH...]",
		Description: "Writes every file of REV (default HEAD) into DIR: LFS files are downloaded from the bucket with\n" +
			"many requests in flight and verified as they arrive, written once and never copied into the LFS\n" +
			"store; other files come from git. It reads the commit from git, so it works in a clone made with\n" +
			"--no-checkout and in a bare clone; the bucket is the commit's .lfsconfig lfs.url (or git config's).\n" +
			"Each file is written to a temp file in DIR, verified and renamed; a file already in DIR with the\n" +
			"right content is left alone, so running the command again resumes. Files in DIR that are not in\n" +
			"the commit are left alone too. PATHs (relative to the top of the tree) limit the export.\n" +
			"--include/--exclude take git-lfs fetch filter patterns (comma-separated or repeated); --shard K/N\n" +
			"keeps the files whose path hash modulo N is K-1, so N machines each export their share.\n" +
			"Exit status: 0 when every file is in DIR, 1 when some could not be exported (each is listed),\n" +
			"2 when the export could not start (bad revision, no LFS URL, bad flags).",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "directory to write the files into (created if missing)"},
			&cli.StringFlag{Name: "rev", Value: "HEAD", Usage: "the commit to export"},
			&cli.StringSliceFlag{Name: "include", Aliases: []string{"I"}, Usage: "export only files matching these patterns"},
			&cli.StringSliceFlag{Name: "exclude", Aliases: []string{"X"}, Usage: "leave out files matching these patterns"},
			&cli.StringFlag{Name: "shard", Usage: "export only part K of N (K/N) of the files"},
			&cli.IntFlag{Name: "jobs", Value: export.DefaultJobs, Usage: "files downloaded at once"},
			&cli.StringFlag{Name: "range-above", Value: "1GiB", Usage: "fetch objects larger than this as parallel ranged GETs (for slow links); smaller ones stream in one GET"},
		},
		Action: func(c *cli.Context) error {
			o := export.Options{
				Rev: c.String("rev"), Out: c.String("output"), Paths: c.Args().Slice(),
				Include: export.SplitPatterns(c.StringSlice("include")),
				Exclude: export.SplitPatterns(c.StringSlice("exclude")),
				Jobs:    c.Int("jobs"),
			}
			if o.Out == "" {
				return withCode(exitUsage, errors.New("export: name the output directory with -o DIR"))
			}
			if o.Jobs < 1 || o.Jobs > 256 {
				return withCode(exitUsage, errors.New("--jobs: want a number from 1 to 256"))
			}
			n, err := s3store.ParseSize(c.String("range-above"))
			if err != nil {
				return withCode(exitUsage, fmt.Errorf("--range-above: %w", err))
			}
			o.RangeAbove = max(n, 1)
			if s := c.String("shard"); s != "" {
				shard, err := export.ParseShard(s)
				if err != nil {
					return withCode(exitUsage, err)
				}
				o.Shard = shard
			}
			if isTerminal(c.App.ErrWriter) {
				o.Progress = c.App.ErrWriter
			}
			return runExport(c.Context, c.App.Writer, c.App.ErrWriter, o)
		},
	}
}

func runExport(ctx context.Context, stdout, stderr io.Writer, o export.Options) error {
	opts, err := s3store.LoadOptions(os.LookupEnv, gitrepo.Here().Config)
	if err != nil {
		return withCode(exitUsage, err)
	}
	// Export does its own ranges: the store streams each in one GET, in order.
	opts.Concurrency = 1
	open := func(ctx context.Context, commit string) (export.Store, error) {
		rawURL, err := export.LFSURL(ctx, "", commit)
		if err != nil {
			return nil, err
		}
		loc, err := s3store.ParseURL(rawURL)
		if err != nil {
			return nil, withCode(exitUsage, err)
		}
		st, err := s3store.New(ctx, loc, opts)
		if err != nil {
			return nil, withCode(exitUsage, err)
		}
		return st, nil
	}
	res, err := export.Run(ctx, open, o)
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		return err
	case errors.Is(err, export.ErrUsage):
		return withCode(exitUsage, err)
	case err != nil:
		return withCode(exitProblems, err)
	}
	for _, p := range res.Problems {
		fmt.Fprintf(stderr, "datalfs: export: %v\n", p)
	}
	fmt.Fprintf(stdout, "exported %.12s into %s: %d files written (%d bytes), %d already there\n",
		res.Commit, o.Out, res.Written, res.Bytes, res.Skipped)
	if n := len(res.Problems); n > 0 {
		return withCode(exitProblems, fmt.Errorf("export: %d of %d files could not be exported", n, res.Files))
	}
	return nil
}
