package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestPreCommitFramework runs the scripts in testdata/precommit with the
// pre-commit framework (https://pre-commit.com) and the hook this repository
// publishes in .pre-commit-hooks.yaml. Each script finds, in
// $WORK/hooks-repo, a Git repository holding that file with the hook's
// language set to "system", so that pre-commit runs the datalfs on PATH
// instead of building one. Without pre-commit the test skips, or fails
// when CI=true.
func TestPreCommitFramework(t *testing.T) {
	h := requireHarness(t)
	if _, err := exec.LookPath("pre-commit"); err != nil {
		skipOrFail(t, "pre-commit is not installed (scripts/setup.sh ensure_pre_commit installs it)")
	}
	hooks, err := os.ReadFile(filepath.Join("..", ".pre-commit-hooks.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(hooks), "language: golang") {
		t.Fatal(`.pre-commit-hooks.yaml has no "language: golang" line to replace`)
	}
	system := strings.ReplaceAll(string(hooks), "language: golang", "language: system")
	p := h.params(h.current, "testdata/precommit", nil)
	setup := p.Setup
	p.Setup = func(e *testscript.Env) error {
		if err := setup(e); err != nil {
			return err
		}
		dir := filepath.Join(e.WorkDir, "hooks-repo")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, ".pre-commit-hooks.yaml"), []byte(system), 0o644)
	}
	testscript.Run(t, p)
}
