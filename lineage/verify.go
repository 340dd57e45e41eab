package lineage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/datalfs/datalfs/gitrepo"
	"github.com/datalfs/datalfs/internal/gitcmd"
)

// Problem is one way the records do not describe the repository.
type Problem struct {
	Step string // "" when the problem is not one step's
	Msg  string
}

func (p Problem) String() string {
	if p.Step == "" {
		return p.Msg
	}
	return "step " + p.Step + ": " + p.Msg
}

// VerifyResult is what Verify checked and found.
type VerifyResult struct {
	Checked  int // records checked
	Problems []Problem
}

// Verify checks the records in src: each is well formed, no output has two
// steps, there is no cycle, each subject's digest is the output's in src,
// and each input, code file and environment file exists at the recorded
// commit with the recorded digest. With src.Staged only the records that
// are staged, or whose outputs are staged, are checked (the pre-commit
// hook); nothing staged that lineage describes is a quick pass.
func (r *Repo) Verify(ctx context.Context, src gitrepo.Source) (*VerifyResult, error) {
	steps, bad, err := r.load(ctx, src)
	if err != nil {
		return nil, err
	}
	res := &VerifyResult{}
	for _, e := range bad {
		res.Problems = append(res.Problems, Problem{Msg: e.Error()})
	}
	g, err := NewGraph(steps)
	if err != nil {
		res.Problems = append(res.Problems, Problem{Msg: err.Error()})
		return res, nil
	}
	if _, err := g.Order(); err != nil {
		res.Problems = append(res.Problems, Problem{Msg: err.Error()})
	}
	selected := steps
	if src.Staged {
		out, err := r.Git(ctx, "diff", "--cached", "--name-only", "-z", "--no-renames", "--diff-filter=ACMRT")
		if err != nil {
			return nil, err
		}
		staged := map[string]bool{}
		for _, p := range gitcmd.SplitNUL(out) {
			staged[p] = true
		}
		selected = nil
		for _, s := range steps {
			hit := staged[s.Path]
			for _, o := range s.Outputs() {
				hit = hit || staged[o]
			}
			if hit {
				selected = append(selected, s)
			}
		}
	}
	for _, s := range selected {
		res.Checked++
		ps, err := r.verifyStep(ctx, src, s)
		if err != nil {
			return nil, fmt.Errorf("step %s: %w", s.Name, err)
		}
		res.Problems = append(res.Problems, ps...)
	}
	return res, nil
}

func (r *Repo) verifyStep(ctx context.Context, src gitrepo.Source, s *Step) ([]Problem, error) {
	var ps []Problem
	add := func(format string, a ...any) { ps = append(ps, Problem{Step: s.Name, Msg: fmt.Sprintf(format, a...)}) }
	for _, sub := range s.Subject {
		got, _, err := r.Digest(ctx, src, sub.Name)
		switch {
		case errors.Is(err, os.ErrNotExist):
			add("output %s is not in %s", sub.Name, src)
		case err != nil:
			return nil, err
		case got != sub.Digest["sha256"]:
			add("output %s in %s has sha256 %s but the record says %s: changed after the step ran (run the step again with `datalfs run`, or restore the file)",
				sub.Name, src, short(got), short(sub.Digest["sha256"]))
		}
	}
	commit := s.Commit()
	if _, err := r.Git(ctx, "cat-file", "-e", commit+"^{commit}"); err != nil {
		add("its commit %s is not in this repository (fetch it, or the history was rewritten)", short(commit))
		return ps, nil
	}
	dirty := ""
	if s.Dirty() {
		dirty = " (the step ran with --allow-dirty)"
	}
	for _, d := range s.Predicate.BuildDefinition.ResolvedDependencies {
		if d.Name == DepSource || strings.HasPrefix(d.URI, "s3://") || imageDigest.MatchString(d.URI) {
			continue
		}
		at := commit
		if d.Annotations != nil && d.Annotations.Commit != "" {
			at = d.Annotations.Commit
		}
		got, _, err := r.Digest(ctx, gitrepo.Source{Rev: at}, d.URI)
		switch {
		case errors.Is(err, os.ErrNotExist):
			add("%s %s is not at commit %s%s", d.Name, d.URI, short(at), dirty)
		case err != nil:
			return nil, err
		case got != d.Digest["sha256"]:
			add("%s %s at commit %s has sha256 %s but the record says %s%s", d.Name, d.URI, short(at), short(got), short(d.Digest["sha256"]), dirty)
		}
	}
	return ps, nil
}
