package lineage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"github.com/datalfs/datalfs/gitrepo"
	"sort"
	"strings"
)

// Graph links steps through the files they read and write.
type Graph struct {
	Steps    []*Step          // sorted by name
	ByName   map[string]*Step //
	Producer map[string]*Step // output path -> the step that wrote it
}

// NewGraph indexes steps. Two steps claiming one output is an error.
func NewGraph(steps []*Step) (*Graph, error) {
	g := &Graph{Steps: steps, ByName: map[string]*Step{}, Producer: map[string]*Step{}}
	for _, s := range steps {
		g.ByName[s.Name] = s
		for _, o := range s.Outputs() {
			if p, ok := g.Producer[o]; ok {
				return nil, fmt.Errorf("%s is an output of two steps, %s and %s: remove one record", o, p.Name, s.Name)
			}
			g.Producer[o] = s
		}
	}
	return g, nil
}

// Inputs are the paths (or s3:// references) s read, sorted.
func (s *Step) Inputs() []string {
	var out []string
	for _, d := range s.Deps(DepInput) {
		out = append(out, d.URI)
	}
	sort.Strings(out)
	return out
}

// upstream are the steps that wrote s's inputs.
func (g *Graph) upstream(s *Step) []*Step {
	var out []*Step
	seen := map[string]bool{}
	for _, in := range s.Inputs() {
		if p := g.Producer[in]; p != nil && !seen[p.Name] {
			seen[p.Name] = true
			out = append(out, p)
		}
	}
	return out
}

// Order returns the steps with every step after the steps that wrote its
// inputs (ties by name), or an error naming a cycle.
func (g *Graph) Order() ([]*Step, error) {
	state := map[string]int{} // 1 visiting, 2 done
	var order []*Step
	var visit func(s *Step, path []string) error
	visit = func(s *Step, path []string) error {
		switch state[s.Name] {
		case 1:
			return fmt.Errorf("the records form a cycle: %s", strings.Join(append(path, s.Name), " -> "))
		case 2:
			return nil
		}
		state[s.Name] = 1
		for _, u := range g.upstream(s) {
			if err := visit(u, append(path, s.Name)); err != nil {
				return err
			}
		}
		state[s.Name] = 2
		order = append(order, s)
		return nil
	}
	for _, s := range g.Steps {
		if err := visit(s, nil); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// Closure returns the steps that wrote paths and, recursively, their
// inputs, in order (upstream first).
func (g *Graph) Closure(paths []string) ([]*Step, error) {
	order, err := g.Order()
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	var mark func(s *Step)
	mark = func(s *Step) {
		if want[s.Name] {
			return
		}
		want[s.Name] = true
		for _, u := range g.upstream(s) {
			mark(u)
		}
	}
	for _, p := range paths {
		if s := g.Producer[p]; s != nil {
			mark(s)
		}
	}
	var out []*Step
	for _, s := range order {
		if want[s.Name] {
			out = append(out, s)
		}
	}
	return out, nil
}

// Downstream returns the steps that read path, directly or through other
// steps' outputs, in order.
func (g *Graph) Downstream(path string) ([]*Step, error) {
	order, err := g.Order()
	if err != nil {
		return nil, err
	}
	tainted := map[string]bool{path: true}
	var out []*Step
	for _, s := range order {
		hit := false
		for _, in := range s.Inputs() {
			hit = hit || tainted[in]
		}
		if !hit {
			continue
		}
		out = append(out, s)
		for _, o := range s.Outputs() {
			tainted[o] = true
		}
	}
	return out, nil
}

// ClosureDigest is "sha256:HEX" over the records upstream of paths at
// commit rev: one line "NAME SHA256-OF-RECORD\n" per step, sorted by name.
// It is "" when no record describes any of paths.
func (r *Repo) ClosureDigest(ctx context.Context, rev string, paths []string) (string, []string, error) {
	steps, err := r.Load(ctx, gitrepo.Source{Rev: rev})
	if err != nil {
		return "", nil, err
	}
	g, err := NewGraph(steps)
	if err != nil {
		return "", nil, err
	}
	cl, err := g.Closure(paths)
	if err != nil || len(cl) == 0 {
		return "", nil, err
	}
	sort.Slice(cl, func(i, j int) bool { return cl[i].Name < cl[j].Name })
	h := sha256.New()
	var names []string
	for _, s := range cl {
		sum := sha256.Sum256(s.Raw)
		fmt.Fprintf(h, "%s %s\n", s.Name, hex.EncodeToString(sum[:]))
		names = append(names, s.Name)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), names, nil
}
