// Package lineage records, explains, checks and reproduces the steps that
// made files in a Git repository: one in-toto Statement (SLSA Provenance v1
// predicate) per step, committed under Dir.
package lineage

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Format constants of a record.
const (
	// Dir is where records live, relative to the top of the working tree:
	// Dir/NAME.json for step NAME.
	Dir = ".datalfs/lineage"
	// StatementType is the in-toto Statement v1 type.
	StatementType = "https://in-toto.io/Statement/v1"
	// PredicateType is the SLSA Provenance v1 predicate type.
	PredicateType = "https://slsa.dev/provenance/v1"
	// BuildType says how to read the build definition of a datalfs step.
	BuildType = "https://github.com/datalfs/datalfs/lineage/run/v1"
	// BuilderID names datalfs as the builder.
	BuilderID = "https://github.com/datalfs/datalfs"
)

// Names of resolved dependencies, by role.
const (
	DepSource = "source" // the code commit (digest gitCommit)
	DepCode   = "code"   // a tracked file the command ran (digest sha256)
	DepInput  = "input"  // a declared input (path or s3:// reference)
	DepEnv    = "env"    // an environment file or image digest
)

// Statement is an in-toto Statement v1 whose predicate is SLSA Provenance v1.
type Statement struct {
	Type          string     `json:"_type"`
	Subject       []Subject  `json:"subject"`
	PredicateType string     `json:"predicateType"`
	Predicate     Provenance `json:"predicate"`
}

// Subject is one output of the step with its digest.
type Subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// Provenance is the SLSA Provenance v1 predicate.
type Provenance struct {
	BuildDefinition BuildDefinition `json:"buildDefinition"`
	RunDetails      RunDetails      `json:"runDetails"`
}

// BuildDefinition says what ran and on what.
type BuildDefinition struct {
	BuildType            string               `json:"buildType"`
	ExternalParameters   Parameters           `json:"externalParameters"`
	ResolvedDependencies []ResourceDescriptor `json:"resolvedDependencies"`
}

// Parameters are what the user asked for: the step, the command, where it
// ran, its declared outputs and its parameter values.
type Parameters struct {
	Step    string   `json:"step"`
	Argv    []string `json:"argv"`
	Workdir string   `json:"workdir"` // relative to the top, "." for the top
	Outputs []string `json:"outputs"`
	Params  []Param  `json:"params,omitempty"`
}

// Param is one parameter value read from FILE at KEY.
type Param struct {
	File  string          `json:"file"`
	Key   string          `json:"key,omitempty"` // dotted path; "" for the whole file
	Value json.RawMessage `json:"value"`
}

// ResourceDescriptor is a SLSA resource: the code commit, a code file, an
// input or an environment file, told apart by Name.
type ResourceDescriptor struct {
	Name        string            `json:"name"`
	URI         string            `json:"uri,omitempty"`
	Digest      map[string]string `json:"digest,omitempty"`
	Annotations *Annotations      `json:"annotations,omitempty"`
}

// Annotations hold what SLSA has no field for.
type Annotations struct {
	Commit    string `json:"commit,omitempty"`    // the commit an input was read at
	Dirty     bool   `json:"dirty,omitempty"`     // source: tracked files differed from the commit
	LFS       bool   `json:"lfs,omitempty"`       // the input is a Git LFS file; sha256 is its oid
	VersionID string `json:"versionId,omitempty"` // an s3:// input's pinned version
}

// RunDetails says who ran the step and when.
type RunDetails struct {
	Builder  Builder  `json:"builder"`
	Metadata Metadata `json:"metadata"`
}

// Builder is datalfs at its version.
type Builder struct {
	ID      string            `json:"id"`
	Version map[string]string `json:"version"`
}

// Metadata holds the start and finish times (RFC 3339, UTC).
type Metadata struct {
	StartedOn  string `json:"startedOn"`
	FinishedOn string `json:"finishedOn"`
}

// Step is a parsed record with its file path and the bytes it was read from.
type Step struct {
	Name string
	Path string // Dir/NAME.json
	Raw  []byte
	Statement
}

// RecordPath is the path of step name's record.
func RecordPath(name string) string { return Dir + "/" + name + ".json" }

var stepName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// CheckName reports whether name can name a step (and a file).
func CheckName(name string) error {
	if !stepName.MatchString(name) || strings.HasSuffix(name, ".json") {
		return fmt.Errorf("step name %q: use letters, digits, '.', '_' and '-' (at most 100, starting with a letter or digit)", name)
	}
	return nil
}

// Marshal renders st as canonical JSON: object keys sorted, two-space
// indent, no HTML escaping, a final newline. The same statement always
// gives the same bytes.
func Marshal(st *Statement) ([]byte, error) {
	b, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	return Canonical(b)
}

// Canonical re-renders JSON with sorted keys and numbers as written.
func Canonical(b []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil { // maps encode with sorted keys
		return nil, err
	}
	return buf.Bytes(), nil
}

// compact renders a JSON value canonically on one line (for comparing and
// printing parameter values).
func compact(b []byte) string {
	c, err := Canonical(b)
	if err != nil {
		return string(b)
	}
	var out bytes.Buffer
	if json.Compact(&out, c) != nil {
		return string(b)
	}
	return out.String()
}

// Parse reads and checks a record: the file at path (Dir/NAME.json).
func Parse(path string, data []byte) (*Step, error) {
	name := strings.TrimSuffix(strings.TrimPrefix(path, Dir+"/"), ".json")
	s := &Step{Name: name, Path: path, Raw: data}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s.Statement); err != nil {
		return nil, fmt.Errorf("%s: not a lineage record: %v", path, err)
	}
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

func (s *Step) check() error {
	st := &s.Statement
	p := st.Predicate.BuildDefinition.ExternalParameters
	switch {
	case st.Type != StatementType:
		return fmt.Errorf("_type is %q, want %q", st.Type, StatementType)
	case st.PredicateType != PredicateType:
		return fmt.Errorf("predicateType is %q, want %q", st.PredicateType, PredicateType)
	case st.Predicate.BuildDefinition.BuildType != BuildType:
		return fmt.Errorf("buildType is %q, want %q", st.Predicate.BuildDefinition.BuildType, BuildType)
	case p.Step != s.Name:
		return fmt.Errorf("the record names step %q but its file is named for %q", p.Step, s.Name)
	case len(p.Argv) == 0:
		return fmt.Errorf("no command (externalParameters.argv)")
	case len(st.Subject) == 0:
		return fmt.Errorf("no subject (outputs)")
	}
	if err := CheckName(s.Name); err != nil {
		return err
	}
	for _, sub := range st.Subject {
		if !isHex64(sub.Digest["sha256"]) || sub.Name == "" {
			return fmt.Errorf("subject %q has no sha256 digest", sub.Name)
		}
	}
	if !isHex40(s.Commit()) {
		return fmt.Errorf("no source dependency with a gitCommit digest")
	}
	for _, d := range st.Predicate.BuildDefinition.ResolvedDependencies {
		switch d.Name {
		case DepSource:
		case DepCode, DepEnv:
			if !isHex64(d.Digest["sha256"]) || d.URI == "" {
				return fmt.Errorf("%s dependency %q has no uri and sha256", d.Name, d.URI)
			}
		case DepInput:
			if d.URI == "" {
				return fmt.Errorf("input without a uri")
			}
			if !strings.HasPrefix(d.URI, "s3://") && (!isHex64(d.Digest["sha256"]) || d.Annotations == nil || !isHex40(d.Annotations.Commit)) {
				return fmt.Errorf("input %q has no sha256 and commit", d.URI)
			}
		default:
			return fmt.Errorf("unknown dependency name %q (want source, code, input or env)", d.Name)
		}
	}
	for _, t := range []string{st.Predicate.RunDetails.Metadata.StartedOn, st.Predicate.RunDetails.Metadata.FinishedOn} {
		if _, err := time.Parse(time.RFC3339Nano, t); err != nil {
			return fmt.Errorf("bad time %q in runDetails.metadata", t)
		}
	}
	return nil
}

// Commit is the code commit the step ran at.
func (s *Step) Commit() string {
	for _, d := range s.Predicate.BuildDefinition.ResolvedDependencies {
		if d.Name == DepSource {
			return d.Digest["gitCommit"]
		}
	}
	return ""
}

// Dirty reports whether tracked files differed from Commit when it ran.
func (s *Step) Dirty() bool {
	for _, d := range s.Predicate.BuildDefinition.ResolvedDependencies {
		if d.Name == DepSource {
			return d.Annotations != nil && d.Annotations.Dirty
		}
	}
	return false
}

// Deps returns the resolved dependencies named role.
func (s *Step) Deps(role string) []ResourceDescriptor {
	var out []ResourceDescriptor
	for _, d := range s.Predicate.BuildDefinition.ResolvedDependencies {
		if d.Name == role {
			out = append(out, d)
		}
	}
	return out
}

// Outputs are the subjects' names, sorted.
func (s *Step) Outputs() []string {
	var out []string
	for _, sub := range s.Subject {
		out = append(out, sub.Name)
	}
	sort.Strings(out)
	return out
}

// Argv is the command the step ran.
func (s *Step) Argv() []string { return s.Predicate.BuildDefinition.ExternalParameters.Argv }

func isHex64(s string) bool { return len(s) == 64 && isHex(s) }
func isHex40(s string) bool { return (len(s) == 40 || len(s) == 64) && isHex(s) }

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return s != ""
}
