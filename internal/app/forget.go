package app

import (
	"bufio"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/datalfs/datalfs/dataset"
	"github.com/datalfs/datalfs/internal/plural"
)

// forgetCommand is `datalfs forget`, registered at the top level.
func forgetCommand() *cli.Command {
	return &cli.Command{
		Name:      "forget",
		Usage:     "delete assets for good (every version) and record a tombstone, for erasure requests",
		ArgsUsage: "--reason TEXT [--yes] [--drop] ID...",
		Description: "Finds the records with these ids (or s3:// URIs) in the working tree's manifests, deletes every\n" +
			"version of their assets from the bucket (delete markers included), appends a tombstone (id, key,\n" +
			"date, reason) to " + dataset.TombstonePath + " and stages it. --drop also removes the records from the\n" +
			"manifests in the working tree. Old commits keep their records: verify and fetch report them as\n" +
			"forgotten and exit 3. The reason is committed: write a ticket number, not personal data.\n" +
			"Asks for confirmation on a terminal; --yes is required otherwise.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "reason", Required: true, Usage: "why, e.g. a ticket number (no personal data)"},
			&cli.BoolFlag{Name: "yes", Usage: "do not ask for confirmation"},
			&cli.BoolFlag{Name: "drop", Usage: "also remove the records from the working tree's manifests"},
			&cli.StringFlag{Name: "remote", Value: "origin", Usage: "the git remote whose LFS URL names the repository's bucket"},
		},
		Action: runForget,
	}
}

func runForget(c *cli.Context) error {
	if err := flagsFirst(c); err != nil {
		return err
	}
	ctx := c.Context
	ids := c.Args().Slice()
	if len(ids) == 0 {
		return withCode(exitUsage, errors.New("give the ids of the records whose assets to forget"))
	}
	reason := strings.TrimSpace(c.String("reason"))
	if reason == "" || strings.ContainsAny(reason, "\n\r") {
		return withCode(exitUsage, errors.New("--reason: one line saying why (a ticket number; no personal data)"))
	}
	env, err := openDatasetEnv(c, true)
	if err != nil {
		return err
	}
	ms, _, err := env.manifestsAt(ctx, "", nil)
	if err != nil {
		return err
	}
	targets, err := env.repo.ForgetTargets(ctx, ms, ids)
	if err != nil {
		return withCode(exitUsage, err)
	}
	out := c.App.Writer
	for _, t := range targets {
		fmt.Fprintf(out, "will delete every version of %s (record %s)\n", t.Ref.Object(), t.ID)
	}
	if !c.Bool("yes") {
		if !isTerminal(c.App.Reader) {
			return withCode(exitUsage, errors.New("this deletes data for good: confirm with --yes (stdin is not a terminal)"))
		}
		fmt.Fprintf(out, "Delete %s for good? This cannot be undone. [y/N] ", plural.Count(len(targets), "asset"))
		ans, _ := bufio.NewReader(c.App.Reader).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(ans)); a != "y" && a != "yes" {
			return withCode(exitUsage, errors.New("nothing deleted"))
		}
	}
	rep, err := env.repo.Forget(ctx, env.clients, targets, reason, time.Now())
	for _, d := range rep.Deleted {
		fmt.Fprintf(out, "deleted %s: %s\n", d.Ref.Object(), plural.Count(d.Versions, "version"))
	}
	for _, was := range rep.AlreadyForgotten {
		// Deleted again (a copy may have been uploaded since); the first
		// tombstone stands.
		fmt.Fprintf(out, "%s was already recorded as forgotten on %s (%s)\n", was.Key, was.Date, was.Reason)
	}
	if rep.Recorded > 0 {
		fmt.Fprintf(out, "recorded %s in %s (staged): commit it\n", plural.Count(rep.Recorded, "tombstone"), dataset.TombstonePath)
	}
	var setup *dataset.SetupError
	switch {
	case errors.As(err, &setup):
		return withCode(exitUsage, err)
	case err != nil:
		return withCode(exitProblems, err)
	}
	if !c.Bool("drop") {
		return nil
	}
	dropped, err := env.repo.DropAll(ctx, ms, ids)
	for _, d := range dropped {
		fmt.Fprintf(out, "dropped %s from %s (not staged)\n", plural.Count(d.Records, "record"), d.Path)
	}
	return withCode(exitProblems, err)
}
