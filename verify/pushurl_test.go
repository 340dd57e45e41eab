package verify

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/datalfs/datalfs/gitrepo"
)

// TestCheckPushURL: --push-missing goes ahead when pushes and downloads
// use one LFS URL (a trailing slash aside) and is refused, naming both,
// when lfs.pushurl sends pushes elsewhere.
func TestCheckPushURL(t *testing.T) {
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	dir := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	const down, up = "https://s3.us-east-1.amazonaws.com/bucket/repo", "https://s3.us-east-1.amazonaws.com/other/repo"
	git("init", "-q")
	git("config", "lfs.url", down)
	for _, tc := range []struct {
		pushURL string // "" for none
		wantErr bool
	}{
		{"", false},
		{down + "/", false},
		{up, true},
	} {
		if tc.pushURL != "" {
			git("config", "lfs.pushurl", tc.pushURL)
		}
		repo, err := gitrepo.Open(context.Background(), dir)
		if err != nil {
			t.Fatal(err)
		}
		err = CheckPushURL(repo, "")
		if got := err != nil; got != tc.wantErr {
			t.Errorf("CheckPushURL with lfs.pushurl %q = %v, want error %v", tc.pushURL, err, tc.wantErr)
		}
		if err != nil && (!strings.Contains(err.Error(), "pushes go to "+up) || !strings.Contains(err.Error(), "downloads come from "+down)) {
			t.Errorf("CheckPushURL = %v, want it to name both URLs", err)
		}
	}
}
