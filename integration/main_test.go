package integration

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/datalfs/datalfs/integration/internal/s3test"
	"github.com/datalfs/datalfs/internal/app"
)

// Environment variables that point the tests at their tools. Unset, the
// tools are looked up on PATH.
const (
	envGitLFS    = "DATALFS_TEST_GIT_LFS"     // git-lfs of the version go.mod pins
	envGitLFSOld = "DATALFS_TEST_GIT_LFS_OLD" // an older git-lfs (Debian's 3.3.0) for TestScriptsOldClient
	envGateway   = "DATALFS_TEST_VERSITYGW"   // versitygw
	envRace      = "DATALFS_TEST_RACE"        // "1" builds the separately built agent with -race
)

const (
	scriptDir = "testdata/script"
	region    = "us-east-1"
	// oldClientTag marks a script that TestScriptsOldClient also runs: a
	// comment line "# tags: oldclient" in the script's leading comment.
	oldClientTag = "oldclient"
	// builtBinaryTag marks a script that runs the datalfs binary built from
	// cmd/datalfs with go build, instead of this test binary under the name
	// datalfs: "# tags: builtbinary".
	builtBinaryTag = "builtbinary"
)

// harness is what every script shares: the agent, one gateway and the
// git-lfs clients to test with. It is made once, by the first test that
// needs it, and torn down by TestMain.
type harness struct {
	tmp     string
	datalfs string // this test binary under the name datalfs: the CLI in-process
	built   string // where the agent built from cmd/datalfs goes (see builtAgent)
	// builtScripts names the scripts tagged builtbinary.
	builtScripts map[string]bool
	buildOnce    sync.Once
	buildErr     error
	gw           *gateway
	s3           *s3.Client
	accessKey    string
	secretKey    string
	current      *lfsClient
	old          *lfsClient // nil when no old client is configured
	// unavailable says why scripts cannot run on this machine (a tool is
	// missing or has the wrong version): they skip, or fail when CI=true.
	unavailable    string
	oldUnavailable string
	buckets        atomic.Int64
}

// lfsClient is one git-lfs binary and the PATH directories that put it, and
// the agent, first: binDir with the in-process agent, builtDir with the
// agent built from cmd/datalfs.
type lfsClient struct {
	version  string
	binDir   string
	builtDir string
	old      bool
}

var (
	harnessOnce sync.Once
	shared      *harness
	sharedErr   error
)

// TestMain runs the tests or, when this binary was started under the name
// datalfs, the datalfs command line itself: testscript.Main puts a copy of
// this binary named datalfs first on PATH, so scripts, git-lfs starting
// `datalfs transfer` and the fault tests all run the real commands
// in-process, with coverage (-coverpkg) and the race detector (-race) of
// this test binary.
func TestMain(m *testing.M) {
	testscript.Main(closingM{m}, map[string]func(){
		"datalfs": func() { os.Exit(app.Main()) },
	})
}

// closingM runs the tests, then tears the shared harness down.
type closingM struct{ m *testing.M }

func (c closingM) Run() int {
	code := c.m.Run()
	if shared != nil {
		shared.close(code != 0)
	}
	return code
}

// TestScripts runs every script in testdata/script with the pinned git-lfs.
func TestScripts(t *testing.T) {
	h := requireHarness(t)
	testscript.Run(t, h.params(h.current, scriptDir, nil))
}

// TestScriptsOldClient runs the scripts tagged "oldclient" with an older
// git-lfs, the one named by DATALFS_TEST_GIT_LFS_OLD.
func TestScriptsOldClient(t *testing.T) {
	h := requireHarness(t)
	if h.old == nil {
		skipOrFail(t, h.oldUnavailable)
	}
	files, err := taggedScripts(scriptDir, oldClientTag)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no script in %s is tagged %q", scriptDir, oldClientTag)
	}
	testscript.Run(t, h.params(h.old, "", files))
}

// requireHarness returns the shared harness, skipping the test when a tool
// is missing (failing instead when CI=true).
func requireHarness(t *testing.T) *harness {
	t.Helper()
	harnessOnce.Do(func() { shared, sharedErr = newHarness() })
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	if shared.unavailable != "" {
		skipOrFail(t, shared.unavailable)
	}
	return shared
}

// skipOrFail skips the test with reason, or fails it when CI=true: in CI a
// suite that did nothing must not look green.
func skipOrFail(t *testing.T, reason string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true and %s", reason)
	}
	t.Skip(reason)
}

// newHarness finds the tools and the in-process agent and starts the gateway. A
// missing tool is reported in unavailable; anything else that goes wrong is
// an error.
func newHarness() (*harness, error) {
	tmp, err := os.MkdirTemp("", "datalfs-integration-")
	if err != nil {
		return nil, fmt.Errorf("create temp dir: %w", err)
	}
	h := &harness{tmp: tmp}
	gitLFS, why := findTool(envGitLFS, "git-lfs")
	if why == "" {
		_, why = findTool("", "git")
	}
	gwBin, why2 := findTool(envGateway, "versitygw")
	if why == "" {
		why = why2
	}
	if why != "" {
		h.unavailable = why
		return h, nil
	}
	want, err := pinnedGitLFSVersion()
	if err != nil {
		return h, err
	}
	if h.current, err = h.newClient("current", gitLFS, false); err != nil {
		return h, err
	}
	if h.current.version != want {
		h.unavailable = fmt.Sprintf("%s is git-lfs %s, want %s as pinned in go.mod; set %s or run scripts/test.sh",
			gitLFS, h.current.version, want, envGitLFS)
		return h, nil
	}
	if err := h.setupOldClient(want); err != nil {
		return h, err
	}

	if h.datalfs, err = inProcessAgent(); err != nil {
		return h, err
	}
	h.built = filepath.Join(tmp, "bin", "datalfs")
	built, err := taggedScripts(scriptDir, builtBinaryTag)
	if err != nil {
		return h, err
	}
	h.builtScripts = map[string]bool{}
	for _, f := range built {
		h.builtScripts[strings.TrimSuffix(filepath.Base(f), ".txtar")] = true
	}
	for _, c := range []*lfsClient{h.current, h.old} {
		if c == nil {
			continue
		}
		for dir, agent := range map[string]string{c.binDir: h.datalfs, c.builtDir: h.built} {
			if err := os.Symlink(agent, filepath.Join(dir, "datalfs")); err != nil {
				return h, fmt.Errorf("link agent: %w", err)
			}
		}
	}

	h.accessKey, h.secretKey = rand.Text(), rand.Text()
	if h.gw, err = startGateway(gwBin, filepath.Join(tmp, "gateway"), h.accessKey, h.secretKey); err != nil {
		return h, err
	}
	h.s3 = s3test.NewClient(h.gw.endpoint, h.accessKey, h.secretKey, region)
	return h, nil
}

// setupOldClient configures the old git-lfs from DATALFS_TEST_GIT_LFS_OLD,
// or records why there is none.
func (h *harness) setupOldClient(pinned string) error {
	path := os.Getenv(envGitLFSOld)
	if path == "" {
		h.oldUnavailable = envGitLFSOld + " is not set (scripts/test.sh sets it to Debian's git-lfs)"
		return nil
	}
	c, err := h.newClient("old", path, true)
	if err != nil {
		return err
	}
	if !versionLess(c.version, pinned) {
		return fmt.Errorf("%s=%s is git-lfs %s, which is not older than the pinned %s", envGitLFSOld, path, c.version, pinned)
	}
	h.old = c
	return nil
}

// close stops the gateway and removes the temp dir. After a failure the
// gateway's log is printed, since it may say why a request failed.
func (h *harness) close(failed bool) {
	if h.gw != nil {
		h.gw.stop()
		if tail := h.gw.logTail(); failed && strings.TrimSpace(tail) != "" {
			fmt.Fprintf(os.Stderr, "--- versitygw log (tail) ---\n%s\n", tail)
		}
	}
	os.RemoveAll(h.tmp)
}

// findTool returns the path of a tool from the environment variable env, or
// from PATH, or a reason why it is missing.
func findTool(env, name string) (path, missing string) {
	if env != "" {
		if p := os.Getenv(env); p != "" {
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Sprintf("%s=%s: %v", env, p, err)
			}
			return p, ""
		}
	}
	p, err := exec.LookPath(name)
	if err != nil {
		if env == "" {
			return "", fmt.Sprintf("%s is not on PATH", name)
		}
		return "", fmt.Sprintf("%s is not on PATH and %s is not set (scripts/test.sh installs it)", name, env)
	}
	return p, ""
}

// newClient checks the version of the git-lfs at path and makes the PATH
// directories that hold it.
func (h *harness) newClient(name, path string, old bool) (*lfsClient, error) {
	out, err := exec.Command(path, "version").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%s version: %w: %s", path, err, out)
	}
	m := regexp.MustCompile(`^git-lfs/(\d+\.\d+\.\d+)`).FindSubmatch(out)
	if m == nil {
		return nil, fmt.Errorf("%s version printed %q, not git-lfs/X.Y.Z", path, out)
	}
	c := &lfsClient{version: string(m[1]), binDir: filepath.Join(h.tmp, "path-"+name),
		builtDir: filepath.Join(h.tmp, "path-"+name+"-built"), old: old}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	for _, dir := range []string{c.binDir, c.builtDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create PATH directory: %w", err)
		}
		if err := os.Symlink(abs, filepath.Join(dir, "git-lfs")); err != nil {
			return nil, fmt.Errorf("link git-lfs: %w", err)
		}
	}
	return c, nil
}

// pinnedGitLFSVersion returns the git-lfs version that go.mod requires,
// without the leading "v".
func pinnedGitLFSVersion() (string, error) {
	b, err := os.ReadFile(filepath.Join("..", "go.mod"))
	if err != nil {
		return "", fmt.Errorf("read go.mod: %w", err)
	}
	m := regexp.MustCompile(`(?m)^\s*github\.com/git-lfs/git-lfs/v3 v(\d+\.\d+\.\d+)\b`).FindSubmatch(b)
	if m == nil {
		return "", fmt.Errorf("go.mod does not require github.com/git-lfs/git-lfs/v3")
	}
	return string(m[1]), nil
}

// versionLess reports whether dotted version a is lower than b.
func versionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		x, _ := strconv.Atoi(as[i])
		y, _ := strconv.Atoi(bs[i])
		if x != y {
			return x < y
		}
	}
	return len(as) < len(bs)
}

// inProcessAgent returns the copy of this test binary that testscript.Main
// put, named datalfs, in the directory it added first to PATH.
func inProcessAgent() (string, error) {
	dir, _, _ := strings.Cut(os.Getenv("PATH"), string(os.PathListSeparator))
	p := filepath.Join(dir, "datalfs")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("testscript.Main put no datalfs first on PATH: %w", err)
	}
	return p, nil
}

// builtAgent builds cmd/datalfs into h.built the first time a script
// tagged builtbinary needs it.
func (h *harness) builtAgent() error {
	h.buildOnce.Do(func() { h.buildErr = buildAgent(h.built) })
	return h.buildErr
}

// buildAgent builds cmd/datalfs into out, with the race detector when
// DATALFS_TEST_RACE=1.
func buildAgent(out string) error {
	args := []string{"build", "-o", out}
	if os.Getenv(envRace) == "1" {
		args = append(args, "-race")
	}
	args = append(args, "github.com/datalfs/datalfs/cmd/datalfs")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if b, err := exec.CommandContext(ctx, "go", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, b)
	}
	return nil
}

// taggedScripts returns the scripts in dir whose leading comment has a line
// "# tags: ..." naming tag.
func taggedScripts(dir, tag string) ([]string, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.txtar"))
	if err != nil {
		return nil, err
	}
	re := regexp.MustCompile(`(?m)^#\s*tags:.*\b` + regexp.QuoteMeta(tag) + `\b`)
	var files []string
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		if i := strings.Index(string(b), "\n-- "); i >= 0 {
			b = b[:i] // only the comment and commands, not the archive's files
		}
		if re.Match(b) {
			files = append(files, p)
		}
	}
	return files, nil
}

// params returns the testscript parameters for running scripts (dir, or
// files when dir is empty) with client c.
func (h *harness) params(c *lfsClient, dir string, files []string) testscript.Params {
	return testscript.Params{
		Dir:                 dir,
		Files:               files,
		Setup:               h.setup(c),
		Cmds:                h.commands(),
		RequireExplicitExec: true,
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "oldclient":
				return c.old, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
	}
}

// cmdExitcode is "exitcode N PROGRAM [ARGS...]": it runs PROGRAM as exec
// does and fails unless it exits with status N (0 to 255). Its stdout and
// stderr stay for the next stdout and stderr commands, so a script checks a
// command's status and output without `sh -c '...; echo exit=$?'`. A
// program that cannot start, or ends by a signal, fails the script.
func cmdExitcode(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("exitcode does not support !: the status it names is the assertion")
	}
	if len(args) < 2 {
		ts.Fatalf("usage: exitcode N PROGRAM [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil || want < 0 || want > 255 {
		ts.Fatalf("exitcode: %q is not an exit status (0 to 255)", args[0])
	}
	got := 0
	var exitErr *exec.ExitError
	switch err := ts.Exec(args[1], args[2:]...); {
	case err == nil:
	case errors.As(err, &exitErr) && exitErr.ExitCode() >= 0:
		got = exitErr.ExitCode()
	default:
		ts.Fatalf("exitcode: %s: %v", args[1], err)
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
}

// setup seals each script's environment: its own HOME with a global git
// config and git-lfs's filters, PATH with the agent (in-process, or the
// built one for a script tagged builtbinary) and the chosen git-lfs first, the gateway's keys in the standard AWS variables and a fresh
// bucket. Scripts see ENDPOINT, BUCKET and LFSURL ($ENDPOINT/$BUCKET/repo).
func (h *harness) setup(c *lfsClient) func(*testscript.Env) error {
	return func(e *testscript.Env) error {
		home := filepath.Join(e.WorkDir, "home")
		if err := os.Mkdir(home, 0o755); err != nil {
			return err
		}
		script := strings.TrimPrefix(filepath.Base(e.WorkDir), "script-")
		bucket := h.bucketName(script)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s3test.CreateBucket(ctx, h.s3, bucket, false); err != nil {
			return err
		}
		env := h.sealedEnv(c, home)
		if h.builtScripts[script] {
			if err := h.builtAgent(); err != nil {
				return err
			}
			env["PATH"] = c.builtDir + string(os.PathListSeparator) + os.Getenv("PATH")
		}
		for k, v := range env {
			e.Setenv(k, v)
		}
		for _, kv := range [][2]string{
			{"ENDPOINT", h.gw.endpoint},
			{"BUCKET", bucket},
			{"LFSURL", h.gw.endpoint + "/" + bucket + "/repo"},
			{"GIT_LFS_VERSION", c.version},
		} {
			e.Setenv(kv[0], kv[1])
		}
		for _, args := range homeGitSetup {
			cmd := exec.CommandContext(ctx, "git", args...)
			cmd.Env, cmd.Dir = e.Vars, home
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("git %s: %w\n%s", strings.Join(args, " "), err, out)
			}
		}
		return nil
	}
}

// sealedEnv is the environment every script and fault test starts from:
// its own HOME, PATH with the agent and client c first, no system git
// config, no prompts, the C locale and the gateway's keys in the standard
// AWS variables. GOCOVERDIR and GORACE pass through, so that the in-process
// agent writes its coverage and reads its race options wherever it runs.
func (h *harness) sealedEnv(c *lfsClient, home string) map[string]string {
	env := map[string]string{
		"HOME":                      home,
		"PATH":                      c.binDir + string(os.PathListSeparator) + os.Getenv("PATH"),
		"GIT_CONFIG_NOSYSTEM":       "1",
		"GIT_TERMINAL_PROMPT":       "0",
		"LC_ALL":                    "C",
		"AWS_ACCESS_KEY_ID":         h.accessKey,
		"AWS_SECRET_ACCESS_KEY":     h.secretKey,
		"AWS_REGION":                region,
		"AWS_EC2_METADATA_DISABLED": "true",
	}
	for _, k := range []string{"GOCOVERDIR", "GORACE"} {
		if v, ok := os.LookupEnv(k); ok {
			env[k] = v
		}
	}
	return env
}

// homeGitSetup are the git commands that give a sealed HOME its global
// config: a user, main as the default branch, and git-lfs's filters.
var homeGitSetup = [][]string{
	{"config", "--global", "user.name", "datalfs test"},
	{"config", "--global", "user.email", "test@datalfs.invalid"},
	{"config", "--global", "init.defaultBranch", "main"},
	{"config", "--global", "advice.detachedHead", "false"},
	{"lfs", "install"},
}

// bucketName returns a new valid bucket name that includes the script's
// name, for reading the gateway's log.
func (h *harness) bucketName(script string) string {
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r - 'A' + 'a'
		}
		return '-'
	}, script)
	if len(name) > 40 {
		name = name[:40]
	}
	return fmt.Sprintf("t%d-%s", h.buckets.Add(1), strings.Trim(name, "-"))
}

// TestExitcodeCommand runs small scripts through the exitcode command alone
// (no tools needed) and checks that it fails exactly when it must: the
// converted scripts' exit-status assertions are only as good as this.
func TestExitcodeCommand(t *testing.T) {
	tests := []struct {
		name, script string
		wantFail     string // "" when the script must pass
	}{
		{"zero", "exitcode 0 true\n", ""},
		{"status and output kept", "exitcode 3 sh -c 'echo out; echo err >&2; exit 3'\nstdout '^out$'\nstderr '^err$'\n", ""},
		{"wrong status", "exitcode 0 sh -c 'exit 1'\n", "exited with status 1, want 0"},
		{"success when failure is wanted", "exitcode 2 true\n", "exited with status 0, want 2"},
		{"no such program", "exitcode 1 no-such-program-datalfs\n", "exitcode: no-such-program-datalfs:"},
		{"killed by a signal", "exitcode 1 sh -c 'kill -9 $$'\n", "exitcode: sh: signal: killed"},
		{"negated", "! exitcode 0 true\n", "does not support !"},
		{"not a status", "exitcode x true\n", `"x" is not an exit status`},
		{"status too large", "exitcode 256 true\n", `"256" is not an exit status`},
		{"no program", "exitcode 0\n", "usage: exitcode N PROGRAM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "s.txtar"), []byte(tt.script), 0o644); err != nil {
				t.Fatal(err)
			}
			rt := &recordingT{}
			testscript.RunT(rt, testscript.Params{
				Dir:                 dir,
				Cmds:                map[string]func(*testscript.TestScript, bool, []string){"exitcode": cmdExitcode},
				RequireExplicitExec: true,
			})
			switch log := rt.log.String(); {
			case tt.wantFail == "" && rt.failed:
				t.Errorf("script failed, want it to pass:\n%s", log)
			case tt.wantFail != "" && !rt.failed:
				t.Errorf("script passed, want it to fail with %q:\n%s", tt.wantFail, log)
			case tt.wantFail != "" && !strings.Contains(log, tt.wantFail):
				t.Errorf("script failed without %q:\n%s", tt.wantFail, log)
			}
		})
	}
}

// recordingT is a testscript.T that records a failure and the log instead
// of failing the enclosing test, for tests of the harness's own commands.
type recordingT struct {
	mu     sync.Mutex
	failed bool
	log    strings.Builder
}

func (r *recordingT) Log(args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintln(&r.log, args...)
}

func (r *recordingT) Fatal(args ...any) {
	r.Log(args...)
	r.FailNow()
}

func (r *recordingT) FailNow() {
	r.mu.Lock()
	r.failed = true
	r.mu.Unlock()
	runtime.Goexit()
}

func (r *recordingT) Skip(args ...any) {
	r.Log(args...)
	runtime.Goexit()
}

func (r *recordingT) Run(name string, f func(testscript.T)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
}

func (r *recordingT) Parallel()     {}
func (r *recordingT) Verbose() bool { return true }
