package app

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/datalfs/datalfs/internal/mems3"
	"github.com/datalfs/datalfs/s3store"
	"github.com/datalfs/datalfs/transfer/storetest"
)

func TestVerifyRevs(t *testing.T) {
	tests := []struct {
		all     bool
		args    []string
		want    []string
		wantErr string
	}{
		{false, nil, []string{"HEAD"}, ""},
		{true, nil, []string{"--branches", "--tags", "--remotes", "HEAD"}, ""},
		{false, []string{"main", "v1.0", "origin/main..topic"}, []string{"main", "v1.0", "origin/main..topic"}, ""},
		{true, []string{"main"}, nil, "either --all or REFs"},
		{false, []string{"main", "--tip"}, nil, "put flags before REFs"},
	}
	for _, tt := range tests {
		got, err := verifyRevs(tt.all, tt.args)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("verifyRevs(%v, %q) error = %v, want %q", tt.all, tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("verifyRevs(%v, %q) error = %v", tt.all, tt.args, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("verifyRevs(%v, %q) mismatch (-want +got):\n%s", tt.all, tt.args, diff)
		}
	}
}

// testRepo makes a repository in a sealed git environment whose LFS URL is
// lfsURL, with the current directory inside it.
func testRepo(t *testing.T, lfsURL string) string {
	t.Helper()
	home := t.TempDir()
	for k, v := range map[string]string{
		"HOME": home, "XDG_CONFIG_HOME": filepath.Join(home, ".config"), "GIT_CONFIG_NOSYSTEM": "1",
		"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
		"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid", "LC_ALL": "C",
	} {
		t.Setenv(k, v)
	}
	dir := t.TempDir()
	t.Chdir(dir)
	gitT(t, "init", "-q", "-b", "main")
	if lfsURL != "" {
		gitT(t, "config", "lfs.url", lfsURL)
	}
	return dir
}

func gitT(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// commitPointer commits a pointer file for content at path and returns the
// object's oid.
func commitPointer(t *testing.T, path string, size int64, seed uint64) (string, []byte) {
	t.Helper()
	data, oid := storetest.Object(size, seed)
	ptr := fmt.Sprintf("version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %d\n", oid, size)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(ptr), 0o644); err != nil {
		t.Fatal(err)
	}
	gitT(t, "add", path)
	gitT(t, "commit", "-q", "-m", "add "+path)
	return oid, data
}

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(append([]string{"datalfs"}, args...), strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestVerifyCommand(t *testing.T) {
	srv := mems3.Start(t, "bucket")
	dir := testRepo(t, srv.URL+"/bucket/repo")
	oidA, dataA := commitPointer(t, "data/a.bin", 100, 1)
	oidB, dataB := commitPointer(t, "data/b.bin", 200, 2)
	loc, err := s3store.ParseURL(srv.URL + "/bucket/repo")
	if err != nil {
		t.Fatal(err)
	}
	srv.Put(t, "bucket", loc.Key(oidA), dataA)

	code, stdout, stderr := runCmd(t, "verify")
	if code != exitProblems {
		t.Fatalf("verify exit = %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitProblems, stdout, stderr)
	}
	wantLine := regexp.MustCompile(`(?m)^missing: data/b.bin \(oid ` + oidB + `, 200 bytes, added in commit [0-9a-f]{12}\)$`)
	if !wantLine.MatchString(stdout) || strings.Count(stdout, "missing:") != 1 {
		t.Errorf("verify stdout = %q, want one missing line for data/b.bin", stdout)
	}
	if !strings.Contains(stdout, "Checked 2 LFS objects referenced by HEAD") {
		t.Errorf("verify stdout = %q, want a summary", stdout)
	}

	// --push-missing with a local copy in git-lfs's object directory.
	p := filepath.Join(dir, ".git", "lfs", "objects", oidB[0:2], oidB[2:4], oidB)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, dataB, 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runCmd(t, "verify", "--push-missing")
	if code != exitOK || !strings.Contains(stdout, "pushed: data/b.bin") {
		t.Fatalf("verify --push-missing exit = %d, want 0 and a pushed line\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	keys := srv.Keys(t, "bucket", "repo/")
	if diff := cmp.Diff(2, len(keys)); diff != "" {
		t.Errorf("bucket keys after --push-missing = %q, want 2", keys)
	}
	if code, stdout, _ := runCmd(t, "verify", "--all"); code != exitOK || strings.Contains(stdout, "missing:") {
		t.Errorf("verify --all after repair exit = %d, stdout %q; want 0 and nothing missing", code, stdout)
	}

	// The check could not be made: exit 2 and the reason.
	gitT(t, "config", "lfs.url", srv.URL+"/nosuchbucket/repo")
	code, _, stderr = runCmd(t, "verify")
	if code != exitUsage || !strings.Contains(stderr, `bucket "nosuchbucket" does not exist`) {
		t.Errorf("verify on a missing bucket exit = %d, stderr %q; want 2 and the reason", code, stderr)
	}
}

func TestVerifyEmptyRepository(t *testing.T) {
	srv := mems3.Start(t, "bucket")
	testRepo(t, srv.URL+"/bucket/repo")
	code, stdout, stderr := runCmd(t, "verify")
	if code != exitOK || !strings.Contains(stdout, "Checked 0 LFS objects") {
		t.Errorf("verify in an empty repository exit = %d, stdout %q, stderr %q; want 0 and 0 objects", code, stdout, stderr)
	}
}
