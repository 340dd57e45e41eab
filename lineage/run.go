package lineage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/datalfs/datalfs/gitrepo"
	"github.com/datalfs/datalfs/internal/gitcmd"
	"github.com/datalfs/datalfs/s3ref"
)

// RunOptions describe one `datalfs run`. Paths are as given on the command
// line, relative to Dir.
type RunOptions struct {
	Dir        string // the working directory the command runs in
	Step       string
	Inputs     []string // paths, or s3://BUCKET/KEY?versionId=V
	Outputs    []string
	Params     []string // FILE[:KEY]
	EnvFiles   []string // FILE, or NAME@sha256:HEX (a container image digest)
	AllowDirty bool
	Argv       []string
	Version    string // datalfs's version, recorded
	// Validate checks the outputs (absolute paths) that are mapped manifests
	// and returns an error when one fails; nil skips the check.
	Validate func(ctx context.Context, top string, outputs []string) error
	Stdin    io.Reader
	Stdout   io.Writer
	Stderr   io.Writer
	Now      func() time.Time // nil: time.Now
}

// UsageError is a refusal before anything ran: bad arguments, a dirty
// tree. Commands exit 2.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usage(format string, a ...any) error { return &UsageError{fmt.Errorf(format, a...)} }

// ExitError is the command's own failure: its exit status is passed
// through and nothing is recorded.
type ExitError struct{ Code int }

func (e *ExitError) Error() string {
	return fmt.Sprintf("the command exited with status %d: nothing recorded", e.Code)
}

// RunResult is what a successful run recorded.
type RunResult struct {
	Record string // path of the record, relative to the top
	Step   *Step
}

var imageDigest = regexp.MustCompile(`^[^\s@]+@sha256:([0-9a-f]{64})$`)

// Run runs the command, and when it exits 0 and its outputs pass
// validation, writes the step's record and stages it with the outputs.
func Run(ctx context.Context, o RunOptions) (*RunResult, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if err := CheckName(o.Step); err != nil {
		return nil, &UsageError{err}
	}
	if len(o.Argv) == 0 {
		return nil, usage("no command: give it after --")
	}
	if len(o.Outputs) == 0 {
		return nil, usage("declare at least one --output")
	}
	wd := o.Dir
	if wd == "" {
		var err error
		if wd, err = os.Getwd(); err != nil {
			return nil, err
		}
	}
	r, err := Open(ctx, wd)
	if err != nil {
		return nil, &UsageError{err}
	}
	head, err := r.Resolve(ctx, "HEAD")
	if err != nil {
		return nil, usage("the repository has no commit yet: commit the code and inputs first")
	}
	workdir, err := r.Rel(wd)
	if err != nil {
		return nil, &UsageError{err}
	}
	if workdir == "" {
		workdir = "."
	}

	pl, err := r.resolve(ctx, o, wd, head)
	if err != nil {
		return nil, err
	}
	record := RecordPath(o.Step)
	outputs, deps := pl.outputs, pl.deps
	dirty := r.dirty(ctx, head, pl.modified, append(outputs, record), pl.committed)
	if len(dirty) > 0 && !o.AllowDirty {
		return nil, usage("refusing to run: the record would not describe a commit, because %s; commit first, or pass --allow-dirty (the record then says the tree was dirty)", strings.Join(dirty, "; "))
	}
	src := ResourceDescriptor{Name: DepSource, Digest: map[string]string{"gitCommit": head}}
	if len(dirty) > 0 {
		src.Annotations = &Annotations{Dirty: true}
	}
	if url := r.OriginURL(ctx); url != "" {
		src.URI = "git+" + url // never a URL with credentials in it
	}
	deps = append([]ResourceDescriptor{src}, deps...)

	started := o.Now().UTC()
	cmd := exec.CommandContext(ctx, o.Argv[0], o.Argv[1:]...)
	cmd.Dir = wd
	cmd.Stdin, cmd.Stdout, cmd.Stderr = o.Stdin, o.Stdout, o.Stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			c := ee.ExitCode()
			if c < 0 { // killed by a signal: exit as a shell would
				c = 128 + int(syscall.SIGTERM)
				if ws, ok := ee.Sys().(interface{ Signal() syscall.Signal }); ok {
					c = 128 + int(ws.Signal())
				}
			}
			return nil, &ExitError{Code: c}
		}
		return nil, usage("run %s: %v", o.Argv[0], err)
	}
	finished := o.Now().UTC()

	var subjects []Subject
	var abs []string
	for _, q := range outputs {
		sum, _, err := r.Digest(ctx, gitrepo.Source{}, q)
		if err != nil {
			return nil, fmt.Errorf("the command exited 0 but did not write its output %s: nothing recorded", q)
		}
		subjects = append(subjects, Subject{Name: q, Digest: map[string]string{"sha256": sum}})
		abs = append(abs, r.Path(q))
	}
	if o.Validate != nil {
		if err := o.Validate(ctx, r.Top, abs); err != nil {
			return nil, fmt.Errorf("an output fails validation, nothing recorded: %w", err)
		}
	}
	sort.Slice(subjects, func(i, j int) bool { return subjects[i].Name < subjects[j].Name })
	sort.Strings(outputs)
	st := &Statement{
		Type:          StatementType,
		Subject:       subjects,
		PredicateType: PredicateType,
		Predicate: Provenance{
			BuildDefinition: BuildDefinition{
				BuildType: BuildType,
				ExternalParameters: Parameters{
					Step: o.Step, Argv: o.Argv, Workdir: workdir, Outputs: outputs, Params: pl.params,
				},
				ResolvedDependencies: deps,
			},
			RunDetails: RunDetails{
				Builder:  Builder{ID: BuilderID, Version: map[string]string{"datalfs": o.Version}},
				Metadata: Metadata{StartedOn: started.Format(time.RFC3339Nano), FinishedOn: finished.Format(time.RFC3339Nano)},
			},
		},
	}
	data, err := Marshal(st)
	if err != nil {
		return nil, err
	}
	step, err := Parse(record, data)
	if err != nil {
		return nil, fmt.Errorf("internal error: the new record does not parse: %w", err)
	}
	if err := writeFile(r.Path(record), data); err != nil {
		return nil, err
	}
	if err := r.Stage(ctx, append(outputs, record)...); err != nil {
		return nil, fmt.Errorf("stage the record and outputs: %w", err)
	}
	return &RunResult{Record: record, Step: step}, nil
}

// plan is what Run resolved before running: the declared files as paths
// from the top, with their digests.
type plan struct {
	outputs   []string
	deps      []ResourceDescriptor // without the source
	params    []Param
	modified  []string // tracked files that differ from HEAD
	committed []string // declared files HEAD must hold
}

// resolve checks and digests the declared files of o, relative to wd.
func (r *Repo) resolve(ctx context.Context, o RunOptions, wd, head string) (*plan, error) {
	rel := func(p string) (string, error) {
		if !filepath.IsAbs(p) {
			p = filepath.Join(wd, p)
		}
		return r.Rel(p)
	}
	modSet, modList, err := r.modified(ctx)
	if err != nil {
		return nil, err
	}
	// digestOf reads a declared file as committed when it is unchanged:
	// a Git LFS file is then a pointer, and its oid is its digest.
	digestOf := func(q string) (string, bool, error) {
		if !modSet[q] && r.Exists(ctx, gitrepo.Source{Rev: head}, q) {
			return r.Digest(ctx, gitrepo.Source{Rev: head}, q)
		}
		return r.Digest(ctx, gitrepo.Source{}, q)
	}
	declared := map[string]string{} // path -> role, to refuse a path in two roles
	claim := func(p, role string) error {
		if prev, ok := declared[p]; ok && prev != role {
			return usage("%s is declared both as %s and as %s", p, prev, role)
		}
		declared[p] = role
		return nil
	}
	var outputs []string
	for _, p := range o.Outputs {
		q, err := rel(p)
		if err != nil {
			return nil, &UsageError{err}
		}
		if strings.HasPrefix(q, Dir+"/") || q == "." {
			return nil, usage("--output %s: not a file the step can write", p)
		}
		if err := claim(q, "an output"); err != nil {
			return nil, err
		}
		outputs = append(outputs, q)
	}
	existing, err := r.Load(ctx, gitrepo.Source{})
	if err != nil {
		return nil, &UsageError{fmt.Errorf("the records in the working tree: %w", err)}
	}
	for _, s := range existing {
		for _, q := range s.Outputs() {
			if s.Name != o.Step && declared[q] != "" {
				return nil, usage("%s is already the output of step %s: give this step that name, or remove %s first", q, s.Name, s.Path)
			}
		}
	}
	var deps []ResourceDescriptor
	var mustBeCommitted []string
	for _, in := range o.Inputs {
		if strings.HasPrefix(in, "s3://") {
			ref, err := s3ref.Parse(in)
			if err != nil {
				return nil, &UsageError{fmt.Errorf("--input: %w", err)}
			}
			if ref.VersionID == "" {
				return nil, usage("--input %s: pin it to a version (?versionId=...) so the record says which bytes were read", in)
			}
			deps = append(deps, ResourceDescriptor{Name: DepInput, URI: ref.String(), Annotations: &Annotations{VersionID: ref.VersionID}})
			continue
		}
		q, err := rel(in)
		if err != nil {
			return nil, &UsageError{err}
		}
		if err := claim(q, "an input"); err != nil {
			return nil, err
		}
		sum, isLFS, err := digestOf(q)
		if err != nil {
			return nil, usage("--input %s: %v", in, err)
		}
		deps = append(deps, ResourceDescriptor{Name: DepInput, URI: q, Digest: map[string]string{"sha256": sum}, Annotations: &Annotations{Commit: head, LFS: isLFS}})
		mustBeCommitted = append(mustBeCommitted, q)
	}
	var params []Param
	for _, ps := range o.Params {
		f, key := ParseParam(ps)
		q, err := rel(f)
		if err != nil {
			return nil, &UsageError{err}
		}
		if err := claim(q, "a parameter file"); err != nil {
			return nil, err
		}
		v, err := r.paramValue(ctx, gitrepo.Source{}, ParamSpec{File: q, Key: key})
		if err != nil {
			return nil, usage("--param %s: %v", ps, err)
		}
		params = append(params, Param{File: q, Key: key, Value: v})
		mustBeCommitted = append(mustBeCommitted, q)
	}
	for _, e := range o.EnvFiles {
		if m := imageDigest.FindStringSubmatch(e); m != nil {
			deps = append(deps, ResourceDescriptor{Name: DepEnv, URI: e, Digest: map[string]string{"sha256": m[1]}})
			continue
		}
		q, err := rel(e)
		if err != nil {
			return nil, &UsageError{err}
		}
		if err := claim(q, "an environment file"); err != nil {
			return nil, err
		}
		sum, _, err := digestOf(q)
		if err != nil {
			return nil, usage("--env-file %s: %v", e, err)
		}
		deps = append(deps, ResourceDescriptor{Name: DepEnv, URI: q, Digest: map[string]string{"sha256": sum}})
		mustBeCommitted = append(mustBeCommitted, q)
	}
	code := r.codeFiles(ctx, wd, o.Argv, declared)
	for _, c := range code {
		sum, _, err := digestOf(c)
		if err != nil {
			return nil, usage("%v", err)
		}
		deps = append(deps, ResourceDescriptor{Name: DepCode, URI: c, Digest: map[string]string{"sha256": sum}})
	}
	mustBeCommitted = append(mustBeCommitted, code...)

	return &plan{outputs: outputs, deps: deps, params: params, modified: modList, committed: mustBeCommitted}, nil
}

// codeFiles are the arguments that name tracked files other than declared
// inputs, outputs, parameters and environment files: the scripts the
// command ran.
func (r *Repo) codeFiles(ctx context.Context, wd string, argv []string, declared map[string]string) []string {
	seen := map[string]bool{}
	var out []string
	for _, a := range argv {
		if a == "" || strings.HasPrefix(a, "-") || strings.Contains(a, "://") {
			continue
		}
		p := a
		if !filepath.IsAbs(p) {
			p = filepath.Join(wd, p)
		}
		st, err := os.Stat(p)
		if err != nil || !st.Mode().IsRegular() {
			continue
		}
		q, err := r.Rel(p)
		if err != nil || declared[q] != "" || seen[q] || strings.HasPrefix(q, Dir+"/") {
			continue
		}
		if _, err := r.Git(ctx, "ls-files", "--error-unmatch", "--", q); err != nil {
			continue // not tracked: not code the repository holds
		}
		seen[q] = true
		out = append(out, q)
	}
	sort.Strings(out)
	return out
}

// modified lists the tracked files that differ from HEAD, in the index or
// the working tree.
func (r *Repo) modified(ctx context.Context) (map[string]bool, []string, error) {
	out, err := r.Git(ctx, "status", "--porcelain=v1", "-z", "--untracked-files=no")
	if err != nil {
		return nil, nil, err
	}
	set := map[string]bool{}
	var order []string
	fields := gitcmd.SplitNUL(out)
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		if len(f) < 4 {
			continue
		}
		if f[0] == 'R' || f[0] == 'C' {
			i++ // the source path follows
		}
		set[f[3:]] = true
		order = append(order, f[3:])
	}
	return set, order, nil
}

// dirty lists why the tree does not match head: tracked files that differ
// (except the step's own outputs and record), and declared files head does
// not hold.
func (r *Repo) dirty(ctx context.Context, head string, modified []string, mine, needed []string) []string {
	skip := map[string]bool{}
	for _, p := range mine {
		skip[p] = true
	}
	var changed []string
	for _, p := range modified {
		if !skip[p] {
			changed = append(changed, p)
		}
	}
	var reasons []string
	if len(changed) > 0 {
		reasons = append(reasons, "tracked files differ from HEAD: "+list(changed))
	}
	var missing []string
	for _, p := range needed {
		if !r.Exists(ctx, gitrepo.Source{Rev: head}, p) {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		reasons = append(reasons, "not committed: "+list(missing))
	}
	return reasons
}

func list(ps []string) string {
	if len(ps) > 10 {
		return strings.Join(ps[:10], ", ") + fmt.Sprintf(" and %d more", len(ps)-10)
	}
	return strings.Join(ps, ", ")
}

// writeFile writes data to path through a temporary file and a rename.
func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	_ = os.Chmod(tmp.Name(), 0o644)
	return os.Rename(tmp.Name(), path)
}
