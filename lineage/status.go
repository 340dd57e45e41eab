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

// StepStatus is one step's state: up to date when Reasons is empty.
type StepStatus struct {
	Step    *Step
	Reasons []string // what changed since the record, or which upstream step is outdated
}

// Outdated reports whether the step must run again.
func (s StepStatus) Outdated() bool { return len(s.Reasons) > 0 }

// Status compares every record in src with the files in src, in order
// (upstream first): an input, the code, a parameter or an environment file
// that changed makes a step outdated, and so does an outdated upstream step.
func (r *Repo) Status(ctx context.Context, src gitrepo.Source) ([]StepStatus, error) {
	steps, err := r.Load(ctx, src)
	if err != nil {
		return nil, err
	}
	g, err := NewGraph(steps)
	if err != nil {
		return nil, err
	}
	order, err := g.Order()
	if err != nil {
		return nil, err
	}
	outdated := map[string]bool{}
	var res []StepStatus
	for _, s := range order {
		reasons, err := r.changes(ctx, src, g, s)
		if err != nil {
			return nil, fmt.Errorf("step %s: %w", s.Name, err)
		}
		for _, u := range g.upstream(s) {
			if outdated[u.Name] {
				reasons = append(reasons, "upstream step "+u.Name+" is outdated")
			}
		}
		if len(reasons) > 0 {
			outdated[s.Name] = true
		}
		res = append(res, StepStatus{Step: s, Reasons: reasons})
	}
	return res, nil
}

// changes lists what differs in src from s's record.
func (r *Repo) changes(ctx context.Context, src gitrepo.Source, g *Graph, s *Step) ([]string, error) {
	var reasons []string
	fileChanged := func(kind, path, want string) error {
		got, _, err := r.Digest(ctx, src, path)
		switch {
		case errors.Is(err, os.ErrNotExist):
			reasons = append(reasons, kind+" "+path+" is gone")
		case err != nil:
			return err
		case got != want:
			reasons = append(reasons, kind+" "+path+" changed")
		}
		return nil
	}
	for _, d := range s.Deps(DepInput) {
		if strings.HasPrefix(d.URI, "s3://") {
			continue // pinned to a version: it cannot change
		}
		if err := fileChanged("input", d.URI, d.Digest["sha256"]); err != nil {
			return nil, err
		}
	}
	code := s.Deps(DepCode)
	for _, d := range code {
		if err := fileChanged("code", d.URI, d.Digest["sha256"]); err != nil {
			return nil, err
		}
	}
	if len(code) == 0 {
		changed, err := r.otherChanges(ctx, src, g, s)
		if err != nil {
			return nil, err
		}
		if len(changed) > 0 {
			reasons = append(reasons, fmt.Sprintf("code: the command names no tracked file, and tracked files changed since %s: %s", short(s.Commit()), list(changed)))
		}
	}
	for _, p := range s.Predicate.BuildDefinition.ExternalParameters.Params {
		name := p.File
		if p.Key != "" {
			name += ":" + p.Key
		}
		v, err := r.paramValue(ctx, src, ParamSpec{File: p.File, Key: p.Key})
		switch {
		case errors.Is(err, os.ErrNotExist):
			reasons = append(reasons, "parameter file "+p.File+" is gone")
		case err != nil:
			reasons = append(reasons, fmt.Sprintf("parameter %s: %v", name, err))
		case compact(v) != compact(p.Value):
			reasons = append(reasons, fmt.Sprintf("parameter %s changed: %s -> %s", name, compact(p.Value), compact(v)))
		}
	}
	for _, d := range s.Deps(DepEnv) {
		if imageDigest.MatchString(d.URI) {
			continue // an image digest names its content
		}
		if err := fileChanged("environment file", d.URI, d.Digest["sha256"]); err != nil {
			return nil, err
		}
	}
	return reasons, nil
}

// otherChanges lists tracked files that differ between s's commit and src,
// leaving out records, every step's outputs and s's declared files (those
// are compared one by one).
func (r *Repo) otherChanges(ctx context.Context, src gitrepo.Source, g *Graph, s *Step) ([]string, error) {
	args := []string{"diff", "--name-only", "-z", "--no-renames"}
	switch {
	case src.Staged:
		args = append(args, "--cached", s.Commit())
	case src.Rev != "":
		args = append(args, s.Commit(), src.Rev)
	default:
		args = append(args, s.Commit())
	}
	out, err := r.Git(ctx, append(args, "--")...)
	if err != nil {
		return nil, err
	}
	skip := map[string]bool{}
	for _, d := range s.Predicate.BuildDefinition.ResolvedDependencies {
		skip[d.URI] = true
	}
	for _, p := range s.Predicate.BuildDefinition.ExternalParameters.Params {
		skip[p.File] = true
	}
	var changed []string
	for _, p := range gitcmd.SplitNUL(out) {
		if skip[p] || g.Producer[p] != nil || strings.HasPrefix(p, Dir+"/") {
			continue
		}
		changed = append(changed, p)
	}
	return changed, nil
}
