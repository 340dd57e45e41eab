package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/datalfs/datalfs/gc"
	"github.com/datalfs/datalfs/gitrepo"
	"github.com/datalfs/datalfs/internal/plural"
	"github.com/datalfs/datalfs/s3store"
)

func gcCommand() *cli.Command {
	return &cli.Command{
		Name:      "gc",
		Usage:     "list (and with --delete, delete) bucket objects that no ref refers to any more",
		ArgsUsage: " ",
		Description: "Lists PREFIX/lfs/objects/ and sorts every object: referenced by a ref of this clone (every\n" +
			"branch, tag, remote-tracking branch, HEAD, stash and other refs) or of the --also-ref-repo clones;\n" +
			"unreferenced but written, or relied on by a push, within the grace period (by the server's clock;\n" +
			"a push may be on its way; see docs/operations-gc-uploads.md); or garbage.\n" +
			"Only --delete deletes, and only when every object the published history needs is in the\n" +
			"bucket (what `datalfs verify --all` checks). Keys that are not LFS objects are never touched.\n" +
			"A prefix that other repositories may share (the bucket root, or --shared) needs their clones\n" +
			"with --also-ref-repo, or --no-other-repos to state that there are none.\n" +
			"Run `git fetch --all` in every clone first: refs gc cannot see do not protect anything.",
		Flags: []cli.Flag{
			&cli.DurationFlag{Name: "grace", Value: 720 * time.Hour, Usage: "keep unreferenced objects written more recently than this"},
			&cli.BoolFlag{Name: "delete", Usage: "delete the garbage (without it, only list)"},
			&cli.StringSliceFlag{Name: "also-ref-repo", Usage: "`PATH` of a clone of another repository storing objects under the same prefix (repeatable)"},
			&cli.BoolFlag{Name: "shared", Usage: "the prefix is shared with other repositories: require --also-ref-repo"},
			&cli.BoolFlag{Name: "no-other-repos", Usage: "state that no other repository stores objects under this prefix, even at the bucket root"},
			&cli.StringFlag{Name: "remote", Value: "origin", Usage: "the git remote whose LFS URL to clean"},
			&cli.IntFlag{Name: "jobs", Value: 16, Usage: "deletions in flight"},
		},
		Action: func(c *cli.Context) error {
			opts, err := gcOptionsFrom(c)
			if err != nil {
				return withCode(exitUsage, err)
			}
			return runGC(c, opts)
		},
	}
}

type gcOptions struct {
	grace        time.Duration
	delete       bool
	alsoRefRepos []string
	shared       bool
	noOthers     bool
	remote       string
	jobs         int
}

func gcOptionsFrom(c *cli.Context) (gcOptions, error) {
	o := gcOptions{
		grace: c.Duration("grace"), delete: c.Bool("delete"), alsoRefRepos: c.StringSlice("also-ref-repo"),
		shared: c.Bool("shared"), noOthers: c.Bool("no-other-repos"), remote: c.String("remote"), jobs: c.Int("jobs"),
	}
	switch {
	case c.NArg() > 0:
		return o, fmt.Errorf("gc takes no arguments (got %q): name other clones with --also-ref-repo PATH", c.Args().First())
	case o.grace < 0:
		return o, errors.New("--grace: want a duration of 0s or more, such as 720h")
	case o.jobs < 1 || o.jobs > 256:
		return o, errors.New("--jobs: want a number from 1 to 256")
	case o.noOthers && (o.shared || len(o.alsoRefRepos) > 0):
		return o, errors.New("--no-other-repos contradicts --shared and --also-ref-repo")
	}
	return o, nil
}

// checkShared applies gc's rule for prefixes other repositories may use.
func checkShared(o gcOptions, loc s3store.Location) error {
	return gc.CheckShared(gc.Sharing{Shared: o.shared, Others: len(o.alsoRefRepos), Alone: o.noOthers}, loc)
}

func runGC(c *cli.Context, o gcOptions) error {
	ctx := c.Context
	out := c.App.Writer
	repo := gitrepo.Here()
	if !repo.InRepo() {
		return withCode(exitUsage, errors.New("not in a git repository: run `datalfs gc` inside a clone of the repository whose bucket prefix to clean"))
	}
	store, err := openStore(ctx, repo, "upload", o.remote)
	if err != nil {
		return withCode(exitUsage, err)
	}
	if err := checkShared(o, store.Location()); err != nil {
		return withCode(exitUsage, fmt.Errorf("refusing to collect garbage: %w", err))
	}
	prog := newProgress(c.App.ErrWriter)
	refs, err := scanRepos(ctx, append([]string{""}, o.alsoRefRepos...), prog)
	prog.clear()
	if err != nil {
		return withCode(exitUsage, err)
	}
	prog.show("listing the bucket")
	plan, err := gc.MakePlan(ctx, store, refs, o.grace)
	prog.clear()
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("could not list the bucket: %w", err))
	}

	loc := store.Location()
	fmt.Fprintf(out, "s3://%s/%s holds %s (%s).\n", loc.Bucket, loc.ObjectsPrefix(), plural.Count(plan.Listed, "object"), bytesString(plan.Bytes))
	repos := "this repository"
	if n := len(o.alsoRefRepos); n > 0 {
		repos += fmt.Sprintf(" and %s", plural.Count(n, "other clone"))
	}
	fmt.Fprintf(out, "Referenced by %s: %d present, %d missing.\n", repos, plan.Referenced, len(plan.Missing))
	if len(plan.Foreign) > 0 {
		if len(plan.Foreign) == 1 {
			fmt.Fprintln(out, "Kept: 1 key that is not an LFS object.")
		} else {
			fmt.Fprintf(out, "Kept: %d keys that are not LFS objects.\n", len(plan.Foreign))
		}
	}
	if len(plan.Young) > 0 {
		fmt.Fprintf(out, "Kept: %s unreferenced but written or used by a push within the grace period of %v.\n", plural.Count(len(plan.Young), "object"), o.grace)
	}
	for _, m := range plan.Missing {
		fmt.Fprintf(out, "missing: %s (oid %s, %d bytes)\n", m.Path, m.Oid, m.Size)
	}
	if len(plan.Missing) > 0 {
		fmt.Fprintln(out, "Refusing to delete anything while the bucket lacks objects the history needs:\n"+
			"run `datalfs verify --all` here (and in the --also-ref-repo clones), and `--push-missing` where the objects are.")
		return silentExit(exitProblems)
	}
	for _, g := range plan.Garbage {
		fmt.Fprintf(out, "garbage: %s (%d bytes, last written %s)\n", g.Oid, g.Size, g.LastModified.UTC().Format(time.RFC3339))
	}
	if len(plan.Garbage) == 0 {
		fmt.Fprintf(out, "Nothing to delete: no unreferenced object is older than %v.\n", o.grace)
		return nil
	}
	if !o.delete {
		fmt.Fprintf(out, "%s (%s) unreferenced and older than %v; run with --delete to delete them.\n",
			plural.Count(len(plan.Garbage), "object"), bytesString(plan.GarbageBytes), o.grace)
		return nil
	}
	col := gc.Collect(ctx, store, plan, o.jobs)
	for _, d := range col.Outcomes {
		switch {
		case d.Err != nil:
			fmt.Fprintf(out, "not deleted: %s: %v\n", d.Oid, d.Err)
		case d.InUse:
			fmt.Fprintf(out, "kept: %s: a push relied on it while gc ran\n", d.Oid)
		}
	}
	fmt.Fprintf(out, "Deleted %d of %s (%s).\n", col.Deleted, plural.Count(len(plan.Garbage), "object"), bytesString(plan.GarbageBytes))
	if col.Recoverable {
		fmt.Fprintln(out, "The bucket is versioned: the deleted objects remain as noncurrent versions, recoverable, until a lifecycle rule expires them.")
	}
	if col.Failed > 0 {
		return silentExit(exitProblems)
	}
	return nil
}

// scanRepos collects what each clone's refs refer to. "" is the current
// directory's repository.
func scanRepos(ctx context.Context, dirs []string, prog *progress) (gc.Refs, error) {
	var clones []gc.Clone
	for _, dir := range dirs {
		name := dir
		if dir == "" {
			name = "this repository"
		} else {
			abs, err := filepath.Abs(dir)
			if err == nil {
				dir = abs
			}
			if st, err := os.Stat(dir); err != nil || !st.IsDir() {
				return gc.Refs{}, fmt.Errorf("--also-ref-repo %s: not a directory: give the path of a clone", name)
			}
		}
		clones = append(clones, gc.Clone{Dir: dir, Name: name})
	}
	return gc.ScanRefs(ctx, clones, func(name string, n int) { prog.show("scanning %s: %d git objects", name, n) })
}

// bytesString formats n bytes for people: 1.5 MiB.
func bytesString(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d bytes", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %siB", float64(n)/float64(div), string("KMGTP"[exp]))
}
