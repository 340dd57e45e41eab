package dataset

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/datalfs/datalfs/gitrepo"
	"github.com/datalfs/datalfs/manifest"
)

// TestValidateAndDatasetAgreeOnValuelessAttrs: a manifest-* attribute given
// without a value (`manifest-ref` rather than `manifest-ref=/uri`) is an
// error for `manifest validate` and for the dataset commands alike, in the
// working tree and at a commit. The dataset commands once dropped it
// silently and read every *-ref field instead.
func TestValidateAndDatasetAgreeOnValuelessAttrs(t *testing.T) {
	for _, k := range []string{"HOME", "XDG_CONFIG_HOME"} {
		t.Setenv(k, t.TempDir())
	}
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	dir := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	files := map[string]string{
		".gitattributes": "data/*.jsonl manifest-schema=schemas/s.json manifest-ref\n",
		"schemas/s.json": `{"type": "object"}`,
		"data/a.jsonl":   `{"id": "a", "source-ref": "s3://bucket/a.bin"}` + "\n",
	}
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git("init", "-q", "-b", "main")
	git("add", "-A")
	git("commit", "-q", "-m", "valueless manifest-ref")

	ctx := context.Background()
	var validateErr error
	err := manifest.Check(ctx, manifest.Request{Dir: dir}, func(_ *manifest.Report, err error) {
		if err != nil && validateErr == nil {
			validateErr = err
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if validateErr == nil || !strings.Contains(validateErr.Error(), "manifest-ref needs a value") {
		t.Errorf("manifest validate: %v, want an error naming manifest-ref", validateErr)
	}

	repo := openTestRepo(t, dir)
	head := strings.TrimSpace(gitOut(t, dir, "rev-parse", "HEAD"))
	for _, rev := range []string{"", head} {
		ms, err := repo.Manifests(ctx, rev, nil)
		if err == nil || !strings.Contains(err.Error(), "manifest-ref needs a value") {
			t.Errorf("Manifests(rev %q) = %+v, %v; want the error validate gives", rev, ms, err)
		}
	}
}

func openTestRepo(t *testing.T, dir string) *Repo {
	t.Helper()
	g, err := gitrepo.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return &Repo{Repo: g}
}

func gitOut(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git %v: %v", args, err)
	}
	return string(out)
}
