package lineage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/datalfs/datalfs/dataset"
	"github.com/datalfs/datalfs/gitrepo"
)

// ReproOutput is one output compared with its record.
type ReproOutput struct {
	Path    string
	Want    string // sha256 in the record
	Got     string // sha256 of the re-run's output; "" when it wrote none
	Summary string // for a diverged manifest: the record-level diff summary
}

// Same reports whether the re-run wrote the recorded bytes.
func (o ReproOutput) Same() bool { return o.Got == o.Want }

// ReproResult is the outcome of re-running one step.
type ReproResult struct {
	Step     *Step
	Outputs  []ReproOutput
	Warnings []string
}

// Reproduced reports whether every output matched its record.
func (r *ReproResult) Reproduced() bool {
	for _, o := range r.Outputs {
		if !o.Same() {
			return false
		}
	}
	return true
}

// Repro re-runs step name, as recorded at commit rev, in a temporary git
// worktree checked out at the step's code commit (so its inputs are the
// recorded ones), and compares each output's digest with the record. The
// worktree is removed afterwards whatever happens. The command's output
// goes to out. A command that fails is an error.
func (r *Repo) Repro(ctx context.Context, rev, name string, out io.Writer) (*ReproResult, error) {
	steps, err := r.Load(ctx, gitrepo.Source{Rev: rev})
	if err != nil {
		return nil, err
	}
	var s *Step
	for _, x := range steps {
		if x.Name == name {
			s = x
		}
	}
	if s == nil {
		return nil, &UsageError{fmt.Errorf("no step %q at commit %s (see %s)", name, short(rev), Dir)}
	}
	res := &ReproResult{Step: s}
	if s.Dirty() {
		res.Warnings = append(res.Warnings, "the step ran on a dirty tree: its commit may not hold what it ran on")
	}
	tmp, err := os.MkdirTemp("", "datalfs-repro-*")
	if err != nil {
		return nil, err
	}
	wt := filepath.Join(tmp, "wt")
	defer func() {
		// Removed with a fresh context: an interrupt must not leave it.
		c := context.WithoutCancel(ctx)
		_, _ = r.Git(c, "worktree", "remove", "--force", wt)
		_ = os.RemoveAll(tmp)
		_, _ = r.Git(c, "worktree", "prune")
	}()
	if _, err := r.Git(ctx, "worktree", "add", "--detach", "--quiet", wt, s.Commit()); err != nil {
		return nil, fmt.Errorf("check out commit %s in a temporary worktree: %w", short(s.Commit()), err)
	}
	w, err := Open(ctx, wt)
	if err != nil {
		return nil, fmt.Errorf("open the temporary worktree: %w", err)
	}
	for _, d := range s.Deps(DepInput) {
		if strings.HasPrefix(d.URI, "s3://") {
			continue
		}
		got, _, err := w.Digest(ctx, gitrepo.Source{}, d.URI)
		if err != nil || got != d.Digest["sha256"] {
			res.Warnings = append(res.Warnings, fmt.Sprintf("input %s at commit %s is not the recorded one", d.URI, short(s.Commit())))
		}
	}
	for _, o := range s.Outputs() {
		if err := os.Remove(w.Path(o)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	argv := s.Argv()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = w.Path(s.Predicate.BuildDefinition.ExternalParameters.Workdir)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("the step's command failed in the temporary worktree: %w", err)
	}
	for _, sub := range s.Subject {
		o := ReproOutput{Path: sub.Name, Want: sub.Digest["sha256"]}
		o.Got, _, _ = w.Digest(ctx, gitrepo.Source{}, sub.Name)
		if !o.Same() && o.Got != "" {
			o.Summary = manifestSummary(ctx, w, rev, sub.Name)
		}
		res.Outputs = append(res.Outputs, o)
	}
	return res, nil
}

// manifestSummary compares the records of path at rev with the re-run's in
// worktree w; "" when path is not a manifest that can be read.
func manifestSummary(ctx context.Context, w *Repo, rev, path string) string {
	dr := &dataset.Repo{Repo: w.Repo}
	ms, err := dr.Manifests(ctx, rev, []string{path})
	if err != nil || len(ms) != 1 || ms[0].Config.ID == "" {
		return ""
	}
	after := ms[0]
	after.Rev = ""
	d, err := dr.Diff(ctx, ms, []dataset.Manifest{after})
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%d records -> %d: %d added, %d removed, %d changed", d.Before, d.After, len(d.Added), len(d.Removed), len(d.Changed))
}
