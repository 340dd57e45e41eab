package verify

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/datalfs/datalfs/internal/mems3"
)

// historyRepo makes a repository in a sealed git environment, with the
// current directory inside it, and commits a pointer for each object.
func historyRepo(t *testing.T, objs ...object) string {
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
	git := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("git", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q", "-b", "main")
	for _, o := range objs {
		ptr := fmt.Sprintf("version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %d\n", o.ptr.Oid, o.ptr.Size)
		if err := os.WriteFile(o.ptr.Path, []byte(ptr), 0o644); err != nil {
			t.Fatal(err)
		}
		git("add", o.ptr.Path)
		git("commit", "-q", "-m", "add "+o.ptr.Path)
	}
	return git("rev-parse", "HEAD")
}

func TestHistory(t *testing.T) {
	s, _ := newStore(t)
	a, b := newObject(100, 1, "a.bin"), newObject(200, 2, "b.bin")
	head := historyRepo(t, a, b)
	upload(t, s, a)

	var checked bool
	sum, err := History(context.Background(), s, HistoryOptions{
		Revs: []string{"HEAD"}, Jobs: 4,
		Checked: func(done, total int) { checked = checked || total == 2 },
	})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Checked != 2 || sum.Present != 1 || len(sum.Problems) != 1 || sum.OriginErr != nil {
		t.Fatalf("History = %+v, want 2 checked, 1 present, 1 problem", sum)
	}
	p := sum.Problems[0]
	if p.Path != "b.bin" || p.State != Missing || p.Origin.Commit != head || p.Origin.Path != "b.bin" {
		t.Errorf("problem = %+v, want b.bin missing, added in %s", p, head)
	}
	if !checked {
		t.Error("the Checked progress was never called with the total")
	}
}

// TestHistoryMissingBucket: every HEAD answers 404 when the bucket itself
// is missing; History must say so rather than call every object missing.
func TestHistoryMissingBucket(t *testing.T) {
	srv := mems3.Start(t, "bucket")
	s := storeAt(t, srv.URL+"/nosuchbucket/repo")
	historyRepo(t, newObject(10, 1, "a.bin"))
	sum, err := History(context.Background(), s, HistoryOptions{Revs: []string{"HEAD"}, Jobs: 1})
	if err == nil || !strings.Contains(err.Error(), `bucket "nosuchbucket" does not exist`) {
		t.Fatalf("History on a missing bucket = %+v, %v; want an error naming the bucket", sum, err)
	}
}

// TestHistoryBadRev: a rev that names nothing is an error that says how
// to give one, not an empty success.
func TestHistoryBadRev(t *testing.T) {
	s, _ := newStore(t)
	historyRepo(t, newObject(10, 1, "a.bin"))
	_, err := History(context.Background(), s, HistoryOptions{Revs: []string{"no-such-branch"}, Jobs: 1})
	if err == nil || !strings.Contains(err.Error(), "check that each REF names a branch") {
		t.Fatalf("History(no-such-branch) error = %v, want a scan error", err)
	}
}
