package app

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestLineageExitCodes runs the commands in-process in a real repository:
// the command's exit status passes through, a dirty tree is a usage error,
// and verify and status exit 1 on problems.
func TestLineageExitCodes(t *testing.T) {
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	t.Setenv("HOME", t.TempDir())
	dir := t.TempDir()
	t.Chdir(dir)
	git := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q")
	git("config", "user.email", "t@example.com")
	git("config", "user.name", "t")
	if err := os.WriteFile("in.txt", []byte("a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git("add", "in.txt")
	git("commit", "-q", "-m", "in")

	datalfs := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"datalfs"}, args...), strings.NewReader(""), &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	steps := []struct {
		args   []string
		code   int
		output string
	}{
		{[]string{"run", "--step", "s", "--input", "in.txt", "--output", "out.txt", "--", "sh", "-c", "exit 7"}, 7, "exited with status 7"},
		{[]string{"run", "--step", "s", "--input", "in.txt", "--output", "out.txt", "--", "sh", "-c", "cp in.txt out.txt"}, exitOK, "recorded step s"},
		{[]string{"run", "--step", "t", "--input", "out.txt", "--output", "t.txt", "--", "cp", "out.txt", "t.txt"}, exitUsage, "not committed: out.txt"},
		{[]string{"lineage", "verify", "--staged"}, exitOK, ""},
		{[]string{"run", "--step", "bad name", "--output", "x", "--", "true"}, exitUsage, "step name"},
		{[]string{"why", "--format", "svg", "out.txt"}, exitUsage, "want text, json, dot or mermaid"},
		{[]string{"why", "out.txt"}, exitOK, "made by step s"},
		{[]string{"lineage", "repro", "nosuch"}, exitUsage, `no step "nosuch"`},
	}
	for _, s := range steps {
		code, stdout, stderr := datalfs(s.args...)
		if code != s.code || !strings.Contains(stdout+stderr, s.output) {
			t.Errorf("datalfs %v: exit %d, output %q; want exit %d, output containing %q", s.args, code, stdout+stderr, s.code, s.output)
		}
		if s.args[0] == "lineage" && s.args[1] == "verify" {
			git("commit", "-q", "-m", "s")
		}
	}
	if err := os.WriteFile("in.txt", []byte("b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, stdout, _ := datalfs("lineage", "status"); code != exitProblems || !strings.Contains(stdout, "s: outdated: input in.txt changed") {
		t.Errorf("lineage status after an input changed: exit %d, %q", code, stdout)
	}
	if err := os.WriteFile("out.txt", []byte("hand edit\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git("commit", "-q", "-a", "-m", "edit")
	if code, stdout, _ := datalfs("lineage", "verify"); code != exitProblems || !strings.Contains(stdout, "output out.txt in commit") {
		t.Errorf("lineage verify after a hand edit: exit %d, %q", code, stdout)
	}
}
