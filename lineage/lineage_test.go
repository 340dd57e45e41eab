package lineage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"github.com/datalfs/datalfs/gitrepo"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testRepo is a real git repository in a temporary directory.
type testRepo struct {
	t   *testing.T
	dir string
}

func newRepo(t *testing.T) *testRepo {
	t.Helper()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r := &testRepo{t: t, dir: dir}
	r.git("init", "-q", "-b", "main")
	r.git("config", "user.email", "t@example.com")
	r.git("config", "user.name", "t")
	r.git("config", "commit.gpgsign", "false")
	return r
}

func (r *testRepo) git(args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = r.dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func (r *testRepo) write(path, content string) {
	r.t.Helper()
	p := filepath.Join(r.dir, filepath.FromSlash(path))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

func (r *testRepo) read(path string) string {
	r.t.Helper()
	b, err := os.ReadFile(filepath.Join(r.dir, filepath.FromSlash(path)))
	if err != nil {
		r.t.Fatal(err)
	}
	return string(b)
}

func (r *testRepo) commit(msg string) string {
	r.git("add", "-A")
	r.git("commit", "-q", "-m", msg)
	return r.git("rev-parse", "HEAD")
}

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

var fixed = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// opts is a run of `sh -c SCRIPT` in the repository with a fixed clock.
func (r *testRepo) opts(step, script string, in, out []string) RunOptions {
	return RunOptions{
		Dir: r.dir, Step: step, Inputs: in, Outputs: out, Argv: []string{"sh", "-c", script},
		Version: "test", Now: func() time.Time { return fixed }, Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{},
	}
}

// pipeline commits an XML export and two scripts, runs to-csv and filter
// and commits each.
func pipeline(t *testing.T) *testRepo {
	r := newRepo(t)
	r.write("data/export.xml", "<a>\n<i f=\"a\" l=\"cat\"/>\n<i f=\"b\" l=\"dog\"/>\n</a>\n")
	r.write("scripts/to_csv.sh", `sed -n 's/.*f="\([^"]*\)" l="\([^"]*\)".*/\1,\2/p' "$1" > "$2"`+"\n")
	r.write("scripts/filter.sh", "awk -F, -v want=\"$3\" '$2==want {print \"{\\\"id\\\":\\\"\" $1 \"\\\"}\"}' \"$1\" > \"$2\"\n")
	r.write("params.yaml", "filter:\n  label: cat\n  n: 3\n")
	r.commit("init")
	ctx := context.Background()
	o := r.opts("to-csv", "", []string{"data/export.xml"}, []string{"data/train.csv"})
	o.Argv = []string{"sh", "scripts/to_csv.sh", "data/export.xml", "data/train.csv"}
	if _, err := Run(ctx, o); err != nil {
		t.Fatalf("Run(to-csv): %v", err)
	}
	r.commit("to-csv")
	o = r.opts("filter", "", []string{"data/train.csv"}, []string{"data/train.jsonl"})
	o.Argv = []string{"sh", "scripts/filter.sh", "data/train.csv", "data/train.jsonl", "cat"}
	o.Params = []string{"params.yaml:filter.label"}
	if _, err := Run(ctx, o); err != nil {
		t.Fatalf("Run(filter): %v", err)
	}
	r.commit("filter")
	return r
}

func TestRunWritesCanonicalStatement(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	r.write("in.txt", "hello\n")
	r.write("params.json", `{"train": {"lr": 0.5, "layers": [8, 16]}}`)
	r.write("params.yaml", "seed: 7\nname: x\n")
	r.write("requirements.txt", "numpy==2.0\n")
	r.write("gen.sh", "tr a-z A-Z < in.txt > out.txt\n")
	head := r.commit("init")

	o := r.opts("upper", "", []string{"in.txt"}, []string{"out.txt"})
	o.Argv = []string{"sh", "gen.sh"}
	o.Params = []string{"params.json:train.layers.1", "params.yaml:seed", "params.json"}
	o.EnvFiles = []string{"requirements.txt", "python@sha256:" + strings.Repeat("ab", 32)}
	res, err := Run(ctx, o)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	raw := r.read(RecordPath("upper"))
	canon, err := Canonical([]byte(raw))
	if err != nil || string(canon) != raw {
		t.Errorf("the record is not canonical JSON:\n%s", raw)
	}
	var generic map[string]any
	if err := json.Unmarshal([]byte(raw), &generic); err != nil {
		t.Fatal(err)
	}
	if generic["_type"] != StatementType || generic["predicateType"] != PredicateType {
		t.Errorf("_type, predicateType = %v, %v", generic["_type"], generic["predicateType"])
	}
	s := res.Step
	if got, want := s.Subject[0].Digest["sha256"], sum("HELLO\n"); s.Subject[0].Name != "out.txt" || got != want {
		t.Errorf("subject = %v, want out.txt with sha256 %s", s.Subject[0], want)
	}
	if s.Commit() != head || s.Dirty() {
		t.Errorf("commit, dirty = %s, %v; want %s, false", s.Commit(), s.Dirty(), head)
	}
	in := s.Deps(DepInput)
	if len(in) != 1 || in[0].URI != "in.txt" || in[0].Digest["sha256"] != sum("hello\n") || in[0].Annotations.Commit != head {
		t.Errorf("inputs = %+v", in)
	}
	if code := s.Deps(DepCode); len(code) != 1 || code[0].URI != "gen.sh" {
		t.Errorf("code = %+v, want gen.sh", code)
	}
	env := s.Deps(DepEnv)
	if len(env) != 2 || env[0].Digest["sha256"] != sum("numpy==2.0\n") || env[1].Digest["sha256"] != strings.Repeat("ab", 32) {
		t.Errorf("env = %+v", env)
	}
	var vals []string
	for _, p := range s.Predicate.BuildDefinition.ExternalParameters.Params {
		vals = append(vals, compact(p.Value))
	}
	if got, want := strings.Join(vals, " "), `16 7 {"train":{"layers":[8,16],"lr":0.5}}`; got != want {
		t.Errorf("param values = %s, want %s", got, want)
	}
	if st := r.git("diff", "--cached", "--name-only"); st != ".datalfs/lineage/upper.json\nout.txt" {
		t.Errorf("staged = %q, want the record and the output", st)
	}

	// Same inputs, same clock: the same bytes.
	if _, err := Run(ctx, o); err != nil {
		t.Fatalf("second Run: %v", err)
	}
	if again := r.read(RecordPath("upper")); again != raw {
		t.Errorf("a re-run wrote different bytes:\n%s\nvs\n%s", again, raw)
	}
}

func TestRunFailureRecordsNothing(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	r.write("in.txt", "x\n")
	r.commit("init")
	_, err := Run(ctx, r.opts("s", "echo partial > out.txt; exit 7", []string{"in.txt"}, []string{"out.txt"}))
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 7 {
		t.Fatalf("Run(exit 7) = %v, want ExitError{7}", err)
	}
	if _, err := os.Stat(filepath.Join(r.dir, RecordPath("s"))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a record was written for a failed command")
	}
	_, err = Run(ctx, r.opts("s", "kill -INT $$", []string{"in.txt"}, []string{"out.txt"}))
	if !errors.As(err, &ee) || ee.Code != 130 {
		t.Errorf("Run(killed by SIGINT) = %v, want ExitError{130}", err)
	}
	if st := r.git("diff", "--cached", "--name-only"); st != "" {
		t.Errorf("staged after a failed command: %q", st)
	}
	// An output the command did not write, and an output failing validation.
	if _, err := Run(ctx, r.opts("s", "true", nil, []string{"none.txt"})); err == nil || !strings.Contains(err.Error(), "did not write its output none.txt") {
		t.Errorf("Run(no output) = %v", err)
	}
	o := r.opts("s", "echo y > out.txt", nil, []string{"out.txt"})
	o.Validate = func(context.Context, string, []string) error { return errors.New("out.txt: 1 bad record") }
	if _, err := Run(ctx, o); err == nil || !strings.Contains(err.Error(), "1 bad record") {
		t.Errorf("Run(invalid output) = %v", err)
	}
	if _, err := os.Stat(filepath.Join(r.dir, RecordPath("s"))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a record was written for an invalid output")
	}
	// One output, one step.
	if _, err := Run(ctx, r.opts("s", "echo y > out.txt", nil, []string{"out.txt"})); err != nil {
		t.Fatal(err)
	}
	r.commit("s")
	_, err = Run(ctx, r.opts("t", "echo z > out.txt", nil, []string{"out.txt"}))
	if !errors.As(err, new(*UsageError)) || !strings.Contains(err.Error(), "out.txt is already the output of step s") {
		t.Errorf("Run(second step, same output) = %v", err)
	}
	if got := r.read("out.txt"); got != "y\n" {
		t.Errorf("out.txt = %q: the refused step ran", got)
	}
}

func TestRunRefusesDirtyTree(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	r.write("in.txt", "x\n")
	r.write("other.txt", "o\n")
	r.commit("init")
	r.write("other.txt", "changed\n")
	r.write("new.txt", "not committed\n")
	o := r.opts("s", "cat in.txt new.txt > out.txt", []string{"in.txt", "new.txt"}, []string{"out.txt"})
	_, err := Run(ctx, o)
	var ue *UsageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "differ from HEAD: other.txt") || !strings.Contains(err.Error(), "not committed: new.txt") {
		t.Fatalf("Run(dirty) = %v, want a refusal naming other.txt and new.txt", err)
	}
	if _, err := os.Stat(filepath.Join(r.dir, "out.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the command ran although the tree was dirty")
	}
	o.AllowDirty = true
	res, err := Run(ctx, o)
	if err != nil || !res.Step.Dirty() {
		t.Fatalf("Run(--allow-dirty) = %v, dirty %v; want a record saying dirty", err, res != nil && res.Step.Dirty())
	}
}

func TestRunInputsLFSAndS3(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	oid := strings.Repeat("3c", 32)
	r.write("big.bin", "version https://git-lfs.github.com/spec/v1\noid sha256:"+oid+"\nsize 12345\n")
	r.commit("init")
	o := r.opts("s", "echo y > out.txt", []string{"big.bin", "s3://bkt/raw/a b.xml?versionId=v%2F1"}, []string{"out.txt"})
	res, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	in := res.Step.Deps(DepInput)
	if len(in) != 2 || in[0].Digest["sha256"] != oid || !in[0].Annotations.LFS {
		t.Errorf("LFS input = %+v, want its oid %s", in, oid)
	}
	if in[1].URI != "s3://bkt/raw/a b.xml?versionId=v%2F1" || in[1].Annotations.VersionID != "v/1" {
		t.Errorf("S3 input = %+v", in[1])
	}
	o.Inputs = []string{"s3://bkt/raw/a.xml"}
	if _, err := Run(ctx, o); err == nil || !strings.Contains(err.Error(), "pin it to a version") {
		t.Errorf("Run(unpinned s3 input) = %v", err)
	}
}

func TestStatusVerifyAndWhy(t *testing.T) {
	ctx := context.Background()
	r := pipeline(t)
	repo := r.repo()
	if got := r.read("data/train.jsonl"); got != "{\"id\":\"a\"}\n" {
		t.Fatalf("pipeline output = %q", got)
	}
	st, err := repo.Status(ctx, gitrepo.Source{})
	if err != nil || len(st) != 2 || st[0].Outdated() || st[1].Outdated() {
		t.Fatalf("Status after the runs = %+v, %v; want both up to date", st, err)
	}
	g := mustGraph(t, repo, gitrepo.Source{})
	n, err := g.Why("data/train.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	n.WriteText(&text)
	for _, want := range []string{"made by step filter", "made by step to-csv", "data/export.xml", `param params.yaml:filter.label = "cat"`} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("why text lacks %q:\n%s", want, text.String())
		}
	}
	down, _ := g.Downstream("data/export.xml")
	if len(down) != 2 || down[0].Name != "to-csv" || down[1].Name != "filter" {
		t.Errorf("Downstream(export.xml) = %v, want to-csv, filter", down)
	}

	r.write("data/export.xml", "<a>\n<i f=\"a\" l=\"dog\"/>\n</a>\n")
	r.write("params.yaml", "filter:\n  label: dog\n  n: 3\n")
	st, err = repo.Status(ctx, gitrepo.Source{})
	if err != nil {
		t.Fatal(err)
	}
	if got := statusLine(st); got != `to-csv: input data/export.xml changed | filter: parameter params.yaml:filter.label changed: "cat" -> "dog"; upstream step to-csv is outdated` {
		t.Errorf("Status = %s", got)
	}
	r.git("checkout", "--", ".")

	res, err := repo.Verify(ctx, gitrepo.Source{Rev: r.git("rev-parse", "HEAD")})
	if err != nil || res.Checked != 2 || len(res.Problems) != 0 {
		t.Fatalf("Verify(HEAD) = %+v, %v; want 2 checked, no problems", res, err)
	}
	// A hand edit of the CSV, staged.
	r.write("data/train.csv", "a,cat\nz,cat\n")
	r.git("add", "data/train.csv")
	res, err = repo.Verify(ctx, gitrepo.Source{Staged: true})
	if err != nil || res.Checked != 1 || len(res.Problems) != 1 || !strings.Contains(res.Problems[0].String(), "step to-csv: output data/train.csv in the index has sha256") {
		t.Errorf("Verify(staged hand edit) = %+v, %v", res, err)
	}
	// Nothing lineage describes is staged: nothing to check.
	r.git("reset", "-q", "--hard")
	r.write("README", "x\n")
	r.git("add", "README")
	if res, err := repo.Verify(ctx, gitrepo.Source{Staged: true}); err != nil || res.Checked != 0 || len(res.Problems) != 0 {
		t.Errorf("Verify(staged, unrelated) = %+v, %v", res, err)
	}
}

func statusLine(st []StepStatus) string {
	var parts []string
	for _, s := range st {
		parts = append(parts, s.Step.Name+": "+strings.Join(s.Reasons, "; "))
	}
	return strings.Join(parts, " | ")
}

func mustGraph(t *testing.T, repo *Repo, src gitrepo.Source) *Graph {
	t.Helper()
	steps, err := repo.Load(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	g, err := NewGraph(steps)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestVerifyCatchesBadRecords(t *testing.T) {
	ctx := context.Background()
	r := pipeline(t)
	repo := r.repo()
	// A cycle: to-csv now claims to read filter's output.
	raw := r.read(RecordPath("to-csv"))
	r.write(RecordPath("to-csv"), strings.Replace(raw, `"uri": "data/export.xml"`, `"uri": "data/train.jsonl"`, 1))
	r.write(RecordPath("broken"), `{"_type": "nope"}`)
	r.write(RecordPath("pointer"), "version https://git-lfs.github.com/spec/v1\noid sha256:"+strings.Repeat("1", 64)+"\nsize 3\n")
	head := r.commit("tamper")
	res, err := repo.Verify(ctx, gitrepo.Source{Rev: head})
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, p := range res.Problems {
		all = append(all, p.String())
	}
	got := strings.Join(all, "\n")
	for _, want := range []string{"broken.json: _type is \"nope\"", "pointer.json is a Git LFS pointer", "cycle: ", "input data/train.jsonl is not at commit"} {
		if !strings.Contains(got, want) {
			t.Errorf("Verify problems lack %q:\n%s", want, got)
		}
	}
}

func TestRepro(t *testing.T) {
	ctx := context.Background()
	r := pipeline(t)
	r.write("scripts/noise.sh", "od -An -N8 -tx1 /dev/urandom > data/noise.txt\n")
	r.commit("noise")
	o := r.opts("noise", "", nil, []string{"data/noise.txt"})
	o.Argv = []string{"sh", "scripts/noise.sh"}
	if _, err := Run(ctx, o); err != nil {
		t.Fatal(err)
	}
	head := r.commit("noise run")
	repo := r.repo()
	var log bytes.Buffer
	res, err := repo.Repro(ctx, head, "filter", &log)
	if err != nil || !res.Reproduced() {
		t.Errorf("Repro(filter) = %+v, %v; want reproduced", res, err)
	}
	res, err = repo.Repro(ctx, head, "noise", &log)
	if err != nil || res.Reproduced() || res.Outputs[0].Got == "" {
		t.Errorf("Repro(noise) = %+v, %v; want diverged", res, err)
	}
	if wl := r.git("worktree", "list", "--porcelain"); strings.Count(wl, "worktree ") != 1 {
		t.Errorf("a temporary worktree is left:\n%s", wl)
	}
	if _, err := repo.Repro(ctx, head, "nosuch", &log); err == nil {
		t.Errorf("Repro(nosuch) succeeded")
	}
}

func TestExportAndClosureDigest(t *testing.T) {
	ctx := context.Background()
	r := pipeline(t)
	repo := r.repo()
	steps, err := repo.Load(ctx, gitrepo.Source{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Export(&buf, "ns", steps); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("export = %d lines, want 2", len(lines))
	}
	var ev struct {
		EventType string
		Run       struct{ RunID string }
		Job       struct {
			Name   string
			Facets struct {
				SourceCodeLocation struct{ Type, Version string }
			}
		}
		Inputs []struct {
			Name   string
			Facets struct {
				Version struct{ DatasetVersion string }
			}
		}
	}
	if err := json.Unmarshal([]byte(lines[1]), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.EventType != "COMPLETE" || ev.Job.Name != "to-csv" || len(ev.Run.RunID) != 36 ||
		ev.Job.Facets.SourceCodeLocation.Version != steps[1].Commit() ||
		len(ev.Inputs) != 1 || ev.Inputs[0].Facets.Version.DatasetVersion != "sha256:"+steps[1].Deps(DepInput)[0].Digest["sha256"] {
		t.Errorf("event = %+v", ev)
	}

	head := r.git("rev-parse", "HEAD")
	d1, names, err := repo.ClosureDigest(ctx, head, []string{"data/train.jsonl"})
	if err != nil || len(names) != 2 || !strings.HasPrefix(d1, "sha256:") {
		t.Fatalf("ClosureDigest = %s, %v, %v", d1, names, err)
	}
	if d, _, _ := repo.ClosureDigest(ctx, head, []string{"data/export.xml"}); d != "" {
		t.Errorf("ClosureDigest(source data) = %s, want empty", d)
	}
	raw := r.read(RecordPath("to-csv"))
	r.write(RecordPath("to-csv"), strings.Replace(raw, "2026-01-02T03:04:05Z", "2026-01-02T03:04:06Z", 1))
	head2 := r.commit("rerun")
	if d2, _, _ := repo.ClosureDigest(ctx, head2, []string{"data/train.jsonl"}); d2 == d1 || d2 == "" {
		t.Errorf("ClosureDigest did not change with an upstream record: %s", d2)
	}
}

func TestParamValue(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	r.write("p.yaml", "a:\n  b: [1, two]\n  c: {d: true}\n")
	r.write("p.json", `{"x": 1e3}`)
	repo := r.repo()
	for _, tc := range []struct{ spec, want, err string }{
		{"p.yaml:a.b.1", `"two"`, ""},
		{"p.yaml:a.c", `{"d":true}`, ""},
		{"p.json:x", `1e3`, ""},
		{"p.yaml:a.z", "", `has no key "a.z"`},
		{"p.json:x.y", "", `has no key`},
		{"none.json", "", "no such file"},
	} {
		f, k := ParseParam(tc.spec)
		v, err := repo.paramValue(ctx, gitrepo.Source{}, ParamSpec{File: f, Key: k})
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("paramValue(%s) error = %v, want %q", tc.spec, err, tc.err)
			}
			continue
		}
		if err != nil || string(v) != tc.want {
			t.Errorf("paramValue(%s) = %s, %v; want %s", tc.spec, v, err, tc.want)
		}
	}
}

// repo opens the test repository.
func (r *testRepo) repo() *Repo {
	r.t.Helper()
	repo, err := Open(context.Background(), r.dir)
	if err != nil {
		r.t.Fatal(err)
	}
	return repo
}
