package app

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/datalfs/datalfs/gc"
	"github.com/datalfs/datalfs/gitrepo"
)

func uploadsCommand() *cli.Command {
	return &cli.Command{
		Name:      "uploads",
		Usage:     "list (and with --abort, discard) unfinished multipart uploads under the repository's prefix",
		ArgsUsage: " ",
		Description: "An interrupted push leaves its multipart upload in the bucket, and the next push of the\n" +
			"same object from the same repository resumes it (uploads started elsewhere are never adopted).\n" +
			"Uploads nobody will finish cost storage: list them here, abort those older than --older-than\n" +
			"with --abort, or let an S3 lifecycle rule (AbortIncompleteMultipartUpload) expire them.\n" +
			"An upload still being sent (a push of a very large object) may be listed too: keep --older-than\n" +
			"longer than any push takes.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "abort", Usage: "discard the listed uploads"},
			&cli.DurationFlag{Name: "older-than", Value: 24 * time.Hour, Usage: "only uploads started longer ago than this"},
			&cli.StringFlag{Name: "remote", Value: "origin", Usage: "the git remote whose LFS URL to use"},
		},
		Action: func(c *cli.Context) error {
			ctx := c.Context
			store, err := openStore(ctx, gitrepo.Here(), "upload", c.String("remote"))
			if err != nil {
				return withCode(exitUsage, err)
			}
			rep, err := gc.StaleUploads(ctx, store, time.Now().Add(-c.Duration("older-than")), c.Bool("abort"))
			for _, p := range rep.Stale {
				fmt.Fprintf(c.App.Writer, "%s  s3://%s/%s\n", p.Initiated.UTC().Format(time.RFC3339), store.Location().Bucket, p.Key)
			}
			if err != nil {
				return withCode(exitProblems, err)
			}
			verb := "unfinished"
			if c.Bool("abort") {
				verb = "aborted"
			}
			fmt.Fprintf(c.App.ErrWriter, "%d %s uploads older than %v (of %d under the prefix)\n", len(rep.Stale), verb, c.Duration("older-than"), rep.Pending)
			return nil
		},
	}
}
