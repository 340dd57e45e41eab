package precommit

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// gitEnv seals git from the user's configuration.
func gitEnv(t *testing.T) []string {
	home := t.TempDir()
	return append(os.Environ(),
		"HOME="+home, "XDG_CONFIG_HOME="+home, "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "LC_ALL=C")
}

func run(t *testing.T, env []string, dir string, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustRun(t *testing.T, env []string, dir string, name string, args ...string) string {
	t.Helper()
	out, err := run(t, env, dir, name, args...)
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return out
}

func newRepo(t *testing.T) (string, []string) {
	env := gitEnv(t)
	dir := t.TempDir()
	mustRun(t, env, dir, "git", "init", "-q", "-b", "main")
	return dir, env
}

func writeExec(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// fakeDatalfs writes a stand-in for the datalfs binary that logs its
// arguments to log and exits with the status in $FAKE_DATALFS_EXIT.
func fakeDatalfs(t *testing.T, log string) string {
	p := filepath.Join(t.TempDir(), "datalfs")
	writeExec(t, p, "#!/bin/sh\necho \"datalfs $*\" >> '"+log+"'\nexit ${FAKE_DATALFS_EXIT:-0}\n")
	return p
}

func TestInstallFreshAndCommit(t *testing.T) {
	ctx := context.Background()
	repo, env := newRepo(t)
	log := filepath.Join(t.TempDir(), "log")
	bin := fakeDatalfs(t, log)
	if err := Install(ctx, filepath.Join(repo, ".git"), bin); err != nil {
		t.Fatal(err)
	}
	hook := filepath.Join(repo, ".git", "hooks", HookName)
	if got := readFile(t, hook); got != Script(bin) {
		t.Errorf("hook content (-want +got):\n%s", cmp.Diff(Script(bin), got))
	}
	if ok, err := Installed(ctx, repo); err != nil || !ok {
		t.Errorf("Installed = %v, %v, want true, nil", ok, err)
	}

	os.WriteFile(filepath.Join(repo, "a.txt"), []byte("a\n"), 0o644)
	mustRun(t, env, repo, "git", "add", "a.txt")
	mustRun(t, env, repo, "git", "commit", "-q", "-m", "a")
	if got, want := readFile(t, log), "datalfs manifest validate --staged\ndatalfs lineage verify --staged\n"; got != want {
		t.Errorf("hook ran %q, want %q", got, want)
	}

	// A failing validation refuses the commit; --no-verify still works.
	os.WriteFile(filepath.Join(repo, "b.txt"), []byte("b\n"), 0o644)
	mustRun(t, env, repo, "git", "add", "b.txt")
	envFail := append(env, "FAKE_DATALFS_EXIT=1")
	if out, err := run(t, envFail, repo, "git", "commit", "-q", "-m", "b"); err == nil {
		t.Fatalf("commit with failing hook succeeded:\n%s", out)
	}
	mustRun(t, envFail, repo, "git", "commit", "-q", "--no-verify", "-m", "b")
}

func TestInstallChainsExistingHook(t *testing.T) {
	ctx := context.Background()
	repo, env := newRepo(t)
	log := filepath.Join(t.TempDir(), "log")
	bin := fakeDatalfs(t, log)
	hooks := filepath.Join(repo, ".git", "hooks")
	existing := "#!/bin/sh\necho existing >> '" + log + "'\nexit ${EXISTING_EXIT:-0}\n"
	writeExec(t, filepath.Join(hooks, HookName), existing)
	lfsHook := "#!/bin/sh\ngit lfs pre-push \"$@\"\n"
	for _, h := range []string{"pre-push", "post-checkout", "post-commit", "post-merge"} {
		writeExec(t, filepath.Join(hooks, h), lfsHook)
	}

	for i := 0; i < 2; i++ { // the second install must change nothing
		if err := Install(ctx, filepath.Join(repo, ".git"), bin); err != nil {
			t.Fatalf("install %d: %v", i, err)
		}
	}
	if got := readFile(t, filepath.Join(hooks, ChainedName)); got != existing {
		t.Errorf("chained hook (-want +got):\n%s", cmp.Diff(existing, got))
	}
	for _, h := range []string{"pre-push", "post-checkout", "post-commit", "post-merge"} {
		if got := readFile(t, filepath.Join(hooks, h)); got != lfsHook {
			t.Errorf("%s changed to %q", h, got)
		}
	}

	os.WriteFile(filepath.Join(repo, "a.txt"), []byte("a\n"), 0o644)
	mustRun(t, env, repo, "git", "add", "a.txt")
	mustRun(t, env, repo, "git", "commit", "-q", "-m", "a")
	if got, want := readFile(t, log), "existing\ndatalfs manifest validate --staged\ndatalfs lineage verify --staged\n"; got != want {
		t.Errorf("hooks ran %q, want %q", got, want)
	}

	// The chained hook's failure blocks the commit with its own status.
	os.WriteFile(filepath.Join(repo, "b.txt"), []byte("b\n"), 0o644)
	mustRun(t, env, repo, "git", "add", "b.txt")
	cmd := exec.Command(filepath.Join(hooks, HookName))
	cmd.Dir = repo
	cmd.Env = append(env, "EXISTING_EXIT=7")
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 7 {
		t.Errorf("hook with failing chained hook: %v, want exit status 7", err)
	}

	if err := Uninstall(ctx, repo); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(hooks, HookName)); got != existing {
		t.Errorf("restored hook (-want +got):\n%s", cmp.Diff(existing, got))
	}
	if exists(filepath.Join(hooks, ChainedName)) {
		t.Errorf("%s still there after uninstall", ChainedName)
	}
	if err := Uninstall(ctx, repo); err != nil {
		t.Errorf("second uninstall: %v", err)
	}
	if got := readFile(t, filepath.Join(hooks, HookName)); got != existing {
		t.Errorf("second uninstall changed the foreign hook")
	}
}

func TestHooksPath(t *testing.T) {
	ctx := context.Background()
	abs := filepath.Join(t.TempDir(), "shared-hooks")
	tests := []struct {
		name      string
		hooksPath string
		want      func(repo string) string
	}{
		{"default", "", func(r string) string { return filepath.Join(r, ".git", "hooks") }},
		{"relative", ".githooks", func(r string) string { return filepath.Join(r, ".githooks") }},
		{"absolute", abs, func(string) string { return abs }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo, env := newRepo(t)
			if tt.hooksPath != "" {
				mustRun(t, env, repo, "git", "config", "core.hooksPath", tt.hooksPath)
			}
			for _, from := range []string{filepath.Join(repo, ".git"), repo} {
				got, err := HooksDir(ctx, from)
				if err != nil {
					t.Fatal(err)
				}
				want, _ := filepath.EvalSymlinks(tt.want(repo))
				if want == "" {
					want = tt.want(repo)
				}
				gotR, _ := filepath.EvalSymlinks(got)
				if gotR == "" {
					gotR = got
				}
				if gotR != want {
					t.Errorf("HooksDir(%s) = %s, want %s", from, got, want)
				}
			}
			if err := Install(ctx, filepath.Join(repo, ".git"), "/nonexistent/datalfs"); err != nil {
				t.Fatal(err)
			}
			if !exists(filepath.Join(tt.want(repo), HookName)) {
				t.Errorf("no hook in %s", tt.want(repo))
			}
			if err := Uninstall(ctx, filepath.Join(repo, ".git")); err != nil {
				t.Fatal(err)
			}
			if exists(filepath.Join(tt.want(repo), HookName)) {
				t.Errorf("hook left in %s after uninstall", tt.want(repo))
			}
		})
	}
}

func TestInstallRefusesToClobberChained(t *testing.T) {
	ctx := context.Background()
	repo, _ := newRepo(t)
	hooks := filepath.Join(repo, ".git", "hooks")
	writeExec(t, filepath.Join(hooks, HookName), "#!/bin/sh\nexit 0\n")
	writeExec(t, filepath.Join(hooks, ChainedName), "#!/bin/sh\nexit 0\n")
	err := Install(ctx, repo, "datalfs")
	if err == nil || !strings.Contains(err.Error(), "merge them by hand") {
		t.Errorf("Install with both hooks present = %v, want an error saying to merge them", err)
	}
}

func TestScriptFallsBackToPath(t *testing.T) {
	repo, env := newRepo(t)
	log := filepath.Join(t.TempDir(), "log")
	bin := fakeDatalfs(t, log)
	hook := filepath.Join(t.TempDir(), "pre-commit")
	writeExec(t, hook, Script("/moved/away/datalfs"))
	var pathEnv []string
	for _, e := range env {
		if !strings.HasPrefix(e, "PATH=") {
			pathEnv = append(pathEnv, e)
		}
	}
	pathEnv = append(pathEnv, "PATH="+filepath.Dir(bin)+":/usr/bin:/bin")
	mustRun(t, pathEnv, repo, hook)
	if got := readFile(t, log); got != "datalfs manifest validate --staged\ndatalfs lineage verify --staged\n" {
		t.Errorf("fallback ran %q", got)
	}
	out, err := run(t, append(pathEnv[:len(pathEnv)-1:len(pathEnv)-1], "PATH=/usr/bin:/bin"), repo, hook)
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(out, "not on your PATH") {
		t.Errorf("hook without datalfs: %v %q, want exit 2 saying it is not on PATH", err, out)
	}
}
