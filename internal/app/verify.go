package app

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/urfave/cli/v2"

	"github.com/datalfs/datalfs/gitrepo"
	"github.com/datalfs/datalfs/internal/plural"
	"github.com/datalfs/datalfs/lfsscan"
	"github.com/datalfs/datalfs/s3store"
	"github.com/datalfs/datalfs/verify"
)

func verifyCommand() *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "check that every LFS object the history refers to is in the bucket (the check `git lfs prune` cannot make)",
		ArgsUsage: "[--all | REF...]",
		Description: "Reads the LFS pointers in the history reachable from the current branch (or from REFs:\n" +
			"branches, tags, commits, ranges such as origin/main..main) straight from git, so it works in a\n" +
			"fresh clone without LFS objects, and asks the bucket for each object: it must exist with the\n" +
			"pointer's size and, when the bucket keeps a SHA-256 checksum, the right one.\n" +
			"Exit status: 0 when every object is there, 1 when some are missing or damaged (each is listed\n" +
			"with a path and the commit that added it), 2 when the check could not be made.\n" +
			"Run it before `git lfs prune`: git-lfs believes a standalone agent's remote has everything.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "all", Usage: "check every branch, tag and remote-tracking branch (and HEAD)"},
			&cli.BoolFlag{Name: "tip", Usage: "check only the trees at the tips, not their history"},
			&cli.BoolFlag{Name: "push-missing", Usage: "upload missing or damaged objects from the local LFS store"},
			&cli.StringFlag{Name: "remote", Value: "origin", Usage: "the git remote whose LFS URL to check"},
			&cli.IntFlag{Name: "jobs", Value: 16, Usage: "requests in flight"},
		},
		Action: func(c *cli.Context) error {
			revs, err := verifyRevs(c.Bool("all"), c.Args().Slice())
			if err != nil {
				return withCode(exitUsage, err)
			}
			if c.Int("jobs") < 1 || c.Int("jobs") > 256 {
				return withCode(exitUsage, errors.New("--jobs: want a number from 1 to 256"))
			}
			mode := lfsscan.History
			if c.Bool("tip") {
				mode = lfsscan.Tips
			}
			return runVerify(c, verifyRun{
				revs: revs, mode: mode, push: c.Bool("push-missing"),
				remote: c.String("remote"), jobs: c.Int("jobs"),
			})
		},
	}
}

// verifyRevs returns the rev-list arguments for the command line.
func verifyRevs(all bool, args []string) ([]string, error) {
	switch {
	case all && len(args) > 0:
		return nil, errors.New("give either --all or REFs, not both")
	case all:
		return append(append([]string{}, lfsscan.Published...), "HEAD"), nil
	case len(args) == 0:
		return lfsscan.Current, nil
	}
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			return nil, fmt.Errorf("%q is not a ref: put flags before REFs, and name branches, tags, commits or ranges", a)
		}
	}
	return args, nil
}

type verifyRun struct {
	revs   []string
	mode   lfsscan.Mode
	push   bool
	remote string
	jobs   int
}

// describeRevs says in words which history was checked.
func describeRevs(revs []string, mode lfsscan.Mode) string {
	s := strings.Join(revs, ", ")
	if len(revs) > 0 && revs[0] == lfsscan.Published[0] {
		s = "every branch, tag and remote-tracking branch"
	}
	if mode == lfsscan.Tips {
		return "the tip of " + s
	}
	return s
}

func runVerify(c *cli.Context, v verifyRun) error {
	ctx := c.Context
	out := c.App.Writer
	repo := gitrepo.Here()
	if !repo.InRepo() {
		return withCode(exitUsage, errors.New("not in a git repository: run `datalfs verify` inside the clone to check"))
	}
	store, err := openStore(ctx, repo, "download", v.remote)
	if err != nil {
		return withCode(exitUsage, err)
	}
	if v.push {
		if err := verify.CheckPushURL(repo, v.remote); err != nil {
			return withCode(exitUsage, err)
		}
	}
	prog := newProgress(c.App.ErrWriter)
	sum, err := verify.History(ctx, store, verify.HistoryOptions{
		Revs: v.revs, Mode: v.mode, Jobs: v.jobs,
		Scanned: func(n int) { prog.show("scanning history: %d git objects", n) },
		Checked: func(done, total int) { prog.show("checking the bucket: %d/%d objects", done, total) },
	})
	prog.clear()
	if err != nil {
		return withCode(exitUsage, err)
	}
	if sum.OriginErr != nil {
		fmt.Fprintf(c.App.ErrWriter, "datalfs: %v\n", sum.OriginErr)
	}
	for _, p := range sum.Problems {
		fmt.Fprintln(out, describeProblem(p))
	}
	fmt.Fprintf(out, "Checked %s referenced by %s in %s: %s.\n",
		plural.Count(sum.Checked, "LFS object"), describeRevs(v.revs, v.mode), store.Location(), countStates(sum))
	if len(sum.Problems) == 0 {
		return nil
	}
	if !v.push {
		fmt.Fprintln(out, "The bucket lacks objects, or holds damaged ones, that the history needs: do not run `git lfs prune` until they are pushed.\n"+
			"In a clone that has them, run `datalfs verify --push-missing` (with the same refs).")
		return silentExit(exitProblems)
	}
	return pushMissing(c, store, repo.ObjectDir(), sum.Problems, v.jobs)
}

func describeProblem(p verify.Result) string {
	var s string
	switch p.State {
	case verify.Missing:
		s = fmt.Sprintf("missing: %s (oid %s, %d bytes", p.Path, p.Oid, p.Size)
	case verify.WrongSize:
		s = fmt.Sprintf("wrong size: %s (oid %s: the bucket holds %d bytes, the pointer says %d", p.Path, p.Oid, p.Stored.Size, p.Size)
	case verify.BadChecksum:
		s = fmt.Sprintf("bad checksum: %s (oid %s: the bucket's SHA-256 is %s", p.Path, p.Oid, p.Stored.SHA256)
	default:
		s = fmt.Sprintf("%s: %s (oid %s", p.State, p.Path, p.Oid)
	}
	if p.Origin.Commit != "" {
		s += ", added in commit " + p.Origin.Commit[:min(12, len(p.Origin.Commit))]
		if p.Origin.Path != p.Path {
			s += " as " + p.Origin.Path
		}
	}
	return s + ")"
}

func countStates(sum verify.Summary) string {
	counts := map[verify.State]int{}
	for _, p := range sum.Problems {
		counts[p.State]++
	}
	parts := []string{fmt.Sprintf("%d present", sum.Present)}
	if sum.ChecksumVerified > 0 {
		parts[0] += fmt.Sprintf(" (%d with a matching SHA-256)", sum.ChecksumVerified)
	}
	for _, st := range []verify.State{verify.Missing, verify.WrongSize, verify.BadChecksum} {
		if counts[st] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[st], st))
		}
	}
	return strings.Join(parts, ", ")
}

// pushMissing mends the problems from the local store and says what is
// still wrong.
func pushMissing(c *cli.Context, store *s3store.Store, objectDir string, problems []verify.Result, jobs int) error {
	out := c.App.Writer
	rep, err := verify.PushMissing(c.Context, store, objectDir, problems, jobs)
	for _, d := range rep.Done {
		switch {
		case d.Err == nil:
			fmt.Fprintf(out, "pushed: %s (oid %s, %d bytes)\n", d.Path, d.Oid, d.Size)
		case errors.Is(d.Err, fs.ErrNotExist):
			fmt.Fprintf(out, "not available locally: %s (oid %s): %v\n", d.Path, d.Oid, d.Err)
		default:
			fmt.Fprintf(out, "cannot push: %s (oid %s): %v\n", d.Path, d.Oid, d.Err)
		}
	}
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("could not %w", err))
	}
	for _, p := range rep.StillBad {
		fmt.Fprintf(out, "still %s after the push: %s (oid %s)\n", p.State, p.Path, p.Oid)
	}
	if failed := rep.Failed(); failed > 0 {
		fmt.Fprintf(out, "Pushed %d of %s; %d still missing or damaged: push them from a clone that has them.\n",
			rep.Present, plural.Count(len(problems), "object"), failed)
		return silentExit(exitProblems)
	}
	fmt.Fprintf(out, "Pushed %s: every object checked is now in the bucket.\n", plural.Count(len(rep.Done), "object"))
	return nil
}

// progress draws one status line on a terminal, at most ten times a
// second, and nothing at all when w is not a terminal.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	on    bool
	last  time.Time
	shown bool
}

func newProgress(w io.Writer) *progress {
	f, ok := w.(*os.File)
	return &progress{w: w, on: ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))}
}

func (p *progress) show(format string, args ...any) {
	if !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if now := time.Now(); now.Sub(p.last) >= 100*time.Millisecond {
		p.last = now
		p.shown = true
		fmt.Fprintf(p.w, "\r\033[K"+format, args...)
	}
}

func (p *progress) clear() {
	if !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		fmt.Fprint(p.w, "\r\033[K")
		p.shown = false
	}
}
