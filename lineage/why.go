package lineage

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Node is a file in a why tree: the step that made it, if any, with the
// nodes of that step's inputs.
type Node struct {
	Path   string    `json:"path"`
	SHA256 string    `json:"sha256,omitempty"`
	Step   *StepInfo `json:"step,omitempty"` // nil: no step made it (source data)
}

// StepInfo is what a why tree says about a step.
type StepInfo struct {
	Name       string   `json:"name"`
	Argv       []string `json:"argv"`
	Commit     string   `json:"commit"`
	Dirty      bool     `json:"dirty"`
	Code       []string `json:"code,omitempty"`
	Params     []Param  `json:"params,omitempty"`
	Env        []string `json:"env,omitempty"`
	StartedOn  string   `json:"startedOn"`
	FinishedOn string   `json:"finishedOn"`
	Inputs     []*Node  `json:"inputs"`
}

// Why builds the tree of steps that made path, down to inputs no step made.
func (g *Graph) Why(path string) (*Node, error) {
	if _, err := g.Order(); err != nil {
		return nil, err
	}
	if g.Producer[path] == nil && g.digestOf(path) == "" {
		return nil, fmt.Errorf("no lineage record names %s (records are in %s)", path, Dir)
	}
	return g.node(path), nil
}

func (g *Graph) digestOf(path string) string {
	if s := g.Producer[path]; s != nil {
		for _, sub := range s.Subject {
			if sub.Name == path {
				return sub.Digest["sha256"]
			}
		}
	}
	for _, s := range g.Steps {
		for _, d := range s.Deps(DepInput) {
			if d.URI == path {
				return d.Digest["sha256"] // "" for s3:// inputs
			}
		}
	}
	return ""
}

func (g *Graph) node(path string) *Node {
	n := &Node{Path: path, SHA256: g.digestOf(path)}
	s := g.Producer[path]
	if s == nil {
		return n
	}
	info := &StepInfo{
		Name: s.Name, Argv: s.Argv(), Commit: s.Commit(), Dirty: s.Dirty(),
		Params:    s.Predicate.BuildDefinition.ExternalParameters.Params,
		StartedOn: s.Predicate.RunDetails.Metadata.StartedOn, FinishedOn: s.Predicate.RunDetails.Metadata.FinishedOn,
		Inputs: []*Node{},
	}
	for _, d := range s.Deps(DepCode) {
		info.Code = append(info.Code, d.URI)
	}
	for _, d := range s.Deps(DepEnv) {
		info.Env = append(info.Env, d.URI)
	}
	for _, in := range s.Inputs() {
		info.Inputs = append(info.Inputs, g.node(in))
	}
	n.Step = info
	return n
}

// WriteText prints the why tree, indented.
func (n *Node) WriteText(w io.Writer) {
	n.writeText(w, "")
}

func (n *Node) writeText(w io.Writer, ind string) {
	d := ""
	if n.SHA256 != "" {
		d = "  sha256:" + short(n.SHA256)
	}
	if n.Step == nil {
		fmt.Fprintf(w, "%s%s%s  (no step made it)\n", ind, n.Path, d)
		return
	}
	s := n.Step
	fmt.Fprintf(w, "%s%s%s\n", ind, n.Path, d)
	dirty := ""
	if s.Dirty {
		dirty = " (dirty tree)"
	}
	fmt.Fprintf(w, "%s  made by step %s at commit %s%s, %s\n", ind, s.Name, short(s.Commit), dirty, s.FinishedOn)
	fmt.Fprintf(w, "%s    command: %s\n", ind, shellJoin(s.Argv))
	if len(s.Code) > 0 {
		fmt.Fprintf(w, "%s    code: %s\n", ind, strings.Join(s.Code, ", "))
	}
	for _, p := range s.Params {
		k := p.File
		if p.Key != "" {
			k += ":" + p.Key
		}
		fmt.Fprintf(w, "%s    param %s = %s\n", ind, k, compact(p.Value))
	}
	if len(s.Env) > 0 {
		fmt.Fprintf(w, "%s    env: %s\n", ind, strings.Join(s.Env, ", "))
	}
	for _, in := range s.Inputs {
		in.writeText(w, ind+"    ")
	}
}

// shellJoin quotes argv for display.
func shellJoin(argv []string) string {
	var b strings.Builder
	for i, a := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
		}) < 0 {
			b.WriteString(a)
			continue
		}
		b.WriteString("'" + strings.ReplaceAll(a, "'", `'\''`) + "'")
	}
	return b.String()
}

// WriteJSON prints v as indented JSON.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// WriteGraph draws steps and the files they read and write, as Graphviz
// DOT (format "dot") or a Mermaid flowchart ("mermaid"). focus is marked.
func WriteGraph(w io.Writer, format string, steps []*Step, focus string) error {
	files := map[string]bool{}
	type edge struct{ from, to string }
	var edges []edge
	for _, s := range steps {
		for _, in := range s.Inputs() {
			files[in] = true
			edges = append(edges, edge{"f:" + in, "s:" + s.Name})
		}
		for _, o := range s.Outputs() {
			files[o] = true
			edges = append(edges, edge{"s:" + s.Name, "f:" + o})
		}
	}
	files[focus] = true
	var names []string
	for f := range files {
		names = append(names, f)
	}
	sort.Strings(names)
	ids := map[string]string{}
	for i, f := range names {
		ids["f:"+f] = fmt.Sprintf("f%d", i)
	}
	for i, s := range steps {
		ids["s:"+s.Name] = fmt.Sprintf("s%d", i)
	}
	switch format {
	case "dot":
		fmt.Fprintln(w, "digraph lineage {\n  rankdir=LR;")
		for _, f := range names {
			extra := ""
			if f == focus {
				extra = ", style=bold"
			}
			fmt.Fprintf(w, "  %s [label=%s, shape=note%s];\n", ids["f:"+f], quoteDOT(f), extra)
		}
		for _, s := range steps {
			fmt.Fprintf(w, "  %s [label=%s, shape=box, style=rounded];\n", ids["s:"+s.Name], quoteDOT(s.Name+"\n"+shellJoin(s.Argv())))
		}
		for _, e := range edges {
			fmt.Fprintf(w, "  %s -> %s;\n", ids[e.from], ids[e.to])
		}
		fmt.Fprintln(w, "}")
	case "mermaid":
		fmt.Fprintln(w, "flowchart LR")
		for _, f := range names {
			fmt.Fprintf(w, "  %s[%s]\n", ids["f:"+f], quoteMermaid(f))
		}
		for _, s := range steps {
			fmt.Fprintf(w, "  %s([%s])\n", ids["s:"+s.Name], quoteMermaid("step "+s.Name))
		}
		for _, e := range edges {
			fmt.Fprintf(w, "  %s --> %s\n", ids[e.from], ids[e.to])
		}
		if focus != "" {
			fmt.Fprintf(w, "  style %s stroke-width:3px\n", ids["f:"+focus])
		}
	default:
		return fmt.Errorf("format %q: want text, json, dot or mermaid", format)
	}
	return nil
}

func quoteDOT(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

func quoteMermaid(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, "#quot;") + `"`
}
