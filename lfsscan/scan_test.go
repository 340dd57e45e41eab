package lfsscan

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// sealGit makes git ignore the user's and the system's configuration.
func sealGit(t *testing.T) {
	t.Helper()
	home := t.TempDir()
	for k, v := range map[string]string{
		"HOME":                home,
		"XDG_CONFIG_HOME":     filepath.Join(home, ".config"),
		"GIT_CONFIG_NOSYSTEM": "1",
		"GIT_AUTHOR_NAME":     "t",
		"GIT_AUTHOR_EMAIL":    "t@example.invalid",
		"GIT_COMMITTER_NAME":  "t",
		"GIT_COMMITTER_EMAIL": "t@example.invalid",
		"LC_ALL":              "C",
	} {
		t.Setenv(k, v)
	}
}

// repo is a temporary git repository for tests.
type repo struct {
	t   *testing.T
	dir string
}

func newRepo(t *testing.T) *repo {
	t.Helper()
	sealGit(t)
	r := &repo{t: t, dir: t.TempDir()}
	r.git("init", "-q", "-b", "main")
	return r
}

func (r *repo) git(args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = r.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func (r *repo) write(path, content string) {
	r.t.Helper()
	p := filepath.Join(r.dir, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

func (r *repo) commit(msg string) string {
	r.t.Helper()
	r.git("add", "-A")
	r.git("commit", "-q", "--allow-empty", "-m", msg)
	return r.git("rev-parse", "HEAD")
}

// object is fake LFS content: its oid, size and pointer file.
type object struct {
	oid     string
	size    int64
	pointer string
}

func lfsObject(content string) object {
	sum := sha256.Sum256([]byte(content))
	oid := hex.EncodeToString(sum[:])
	return object{oid: oid, size: int64(len(content)),
		pointer: fmt.Sprintf("version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %d\n", oid, len(content))}
}

type found struct {
	Oid  string
	Size int64
	Path string
}

func summarize(ps []Pointer) []found {
	var out []found
	for _, p := range ps {
		out = append(out, found{p.Oid, p.Size, p.Path})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func TestScan(t *testing.T) {
	a1, a2 := lfsObject("a, first version"), lfsObject("a, second version")
	b, c, d := lfsObject("b content"), lfsObject("c on a topic branch"), lfsObject("d only in a tag")
	e := lfsObject("e only on a remote-tracking branch")
	f := lfsObject("f only under refs/custom")
	r := newRepo(t)
	ctx := context.Background()

	// main: a1 and b; then a2 replaces a1, b is deleted; a copy of the a2
	// pointer under a second path; a text file; a big non-pointer file; an
	// empty pointer; a pointer-looking file that is not one.
	r.write("data/a.bin", a1.pointer)
	r.write("data/b.bin", b.pointer)
	r.write("notes.txt", "plain text\n")
	first := r.commit("first")
	r.write("data/a.bin", a2.pointer)
	r.write("copy/a.bin", a2.pointer)
	r.git("rm", "-q", "data/b.bin")
	r.write("big.txt", strings.Repeat("x", 4096)+a1.pointer)
	r.write("empty.bin", "version https://git-lfs.github.com/spec/v1\noid sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\nsize 0\n")
	r.write("fake.bin", "version https://git-lfs.github.com/spec/v1\noid sha256:nothex\nsize 3\n")
	r.commit("second")
	// topic branch with c; a tag on a detached commit with d; a
	// remote-tracking branch with e.
	r.git("checkout", "-q", "-b", "topic")
	r.write("topic/c.bin", c.pointer)
	r.commit("topic")
	r.git("checkout", "-q", "--detach", first)
	r.write("tagged/d.bin", d.pointer)
	r.commit("tagged")
	r.git("tag", "-a", "-m", "v1", "v1")
	r.write("remote/e.bin", e.pointer)
	r.commit("remote")
	r.git("update-ref", "refs/remotes/origin/other", "HEAD")
	// A ref outside branches, tags and remotes (as the stash is) with f.
	r.write("kept/f.bin", f.pointer)
	r.commit("kept")
	r.git("update-ref", "refs/custom/kept", "HEAD")
	r.git("checkout", "-q", "main")

	tests := []struct {
		name string
		opts Options
		want []found
	}{
		{"current branch, whole history", Options{Revs: Current}, []found{
			{a2.oid, a2.size, "copy/a.bin"}, {a1.oid, a1.size, "data/a.bin"}, {b.oid, b.size, "data/b.bin"},
		}},
		{"current branch, tip only", Options{Revs: Current, Mode: Tips}, []found{
			{a2.oid, a2.size, "copy/a.bin"},
		}},
		{"a named branch", Options{Revs: []string{"topic"}, Mode: Tips}, []found{
			{a2.oid, a2.size, "copy/a.bin"}, {c.oid, c.size, "topic/c.bin"},
		}},
		// Objects in main's trees are excluded, as git excludes them.
		{"a range", Options{Revs: []string{"main..topic"}}, []found{
			{c.oid, c.size, "topic/c.bin"},
		}},
		{"published refs", Options{Revs: Published}, []found{
			{a2.oid, a2.size, "copy/a.bin"}, {a1.oid, a1.size, "data/a.bin"}, {b.oid, b.size, "data/b.bin"},
			{e.oid, e.size, "remote/e.bin"}, {d.oid, d.size, "tagged/d.bin"}, {c.oid, c.size, "topic/c.bin"},
		}},
		// The tag's commit descends from the first, so it still has a1 and b.
		{"published tips", Options{Revs: Published, Mode: Tips}, []found{
			{a2.oid, a2.size, "copy/a.bin"}, {a1.oid, a1.size, "data/a.bin"}, {b.oid, b.size, "data/b.bin"},
			{e.oid, e.size, "remote/e.bin"}, {d.oid, d.size, "tagged/d.bin"}, {c.oid, c.size, "topic/c.bin"},
		}},
		{"unpublished refs", Options{Revs: Unpublished}, []found{
			{f.oid, f.size, "kept/f.bin"},
		}},
		{"every ref", Options{Revs: Everything}, []found{
			{a2.oid, a2.size, "copy/a.bin"}, {a1.oid, a1.size, "data/a.bin"}, {b.oid, b.size, "data/b.bin"},
			{f.oid, f.size, "kept/f.bin"}, {e.oid, e.size, "remote/e.bin"}, {d.oid, d.size, "tagged/d.bin"},
			{c.oid, c.size, "topic/c.bin"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Dir = filepath.Join(r.dir, "data") // from a subdirectory
			got, err := Scan(ctx, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, summarize(got)); diff != "" {
				t.Errorf("Scan(%v) mismatch (-want +got):\n%s", tt.opts.Revs, diff)
			}
		})
	}
}

func TestScanBlobAndPath(t *testing.T) {
	a := lfsObject("content of a")
	r := newRepo(t)
	r.write("dir with space/a.bin", a.pointer)
	r.commit("one")
	got, err := Scan(context.Background(), Options{Dir: r.dir, Revs: Current})
	if err != nil {
		t.Fatal(err)
	}
	want := []Pointer{{Oid: a.oid, Size: a.size, Blob: r.git("rev-parse", "HEAD:dir with space/a.bin"), Path: "dir with space/a.bin"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Scan mismatch (-want +got):\n%s", diff)
	}
}

func TestScanEmptyRepository(t *testing.T) {
	r := newRepo(t)
	for _, revs := range [][]string{Current, Published, Everything, Unpublished} {
		got, err := Scan(context.Background(), Options{Dir: r.dir, Revs: revs})
		if err != nil || len(got) != 0 {
			t.Errorf("Scan(%v) in an empty repository = %v, %v; want nothing, no error", revs, got, err)
		}
	}
}

func TestScanErrors(t *testing.T) {
	r := newRepo(t)
	r.write("a.txt", "a\n")
	r.commit("one")
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"unknown ref", Options{Dir: r.dir, Revs: []string{"nosuchbranch"}}, "nosuchbranch"},
		{"an option", Options{Dir: r.dir, Revs: []string{"--output=/tmp/x"}}, "is not a revision"},
		{"no revisions", Options{Dir: r.dir}, "no revisions"},
		{"not a repository", Options{Dir: t.TempDir(), Revs: Current}, "not a git repository"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Scan(context.Background(), tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Scan(%v) error = %v, want one containing %q", tt.opts.Revs, err, tt.want)
			}
		})
	}
}

func TestScanCancelled(t *testing.T) {
	r := newRepo(t)
	r.write("a.txt", "a\n")
	r.commit("one")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Scan(ctx, Options{Dir: r.dir, Revs: Current}); err == nil {
		t.Error("Scan with a cancelled context succeeded, want an error")
	}
}

func TestOrigins(t *testing.T) {
	a1, a2, b := lfsObject("a one"), lfsObject("a two"), lfsObject("b")
	r := newRepo(t)
	r.write("a.bin", a1.pointer)
	c1 := r.commit("one")
	r.write("a.bin", a2.pointer)
	r.write("sub/b.bin", b.pointer)
	c2 := r.commit("two")
	r.write("later/b.bin", b.pointer) // b again, later: the first commit still wins
	r.commit("three")
	blob := func(rev string) string { return r.git("rev-parse", rev) }
	blobs := map[string]bool{blob(c1 + ":a.bin"): true, blob(c2 + ":a.bin"): true, blob(c2 + ":sub/b.bin"): true,
		"0123456789012345678901234567890123456789": true}
	got, err := Origins(context.Background(), r.dir, Current, blobs)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Origin{
		blob(c1 + ":a.bin"):     {c1, "a.bin"},
		blob(c2 + ":a.bin"):     {c2, "a.bin"},
		blob(c2 + ":sub/b.bin"): {c2, "sub/b.bin"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Origins mismatch (-want +got):\n%s", diff)
	}
}

func TestDecode(t *testing.T) {
	a := lfsObject("x")
	tests := []struct {
		in     string
		want   Pointer
		wantOK bool
	}{
		{a.pointer, Pointer{Oid: a.oid, Size: 1}, true},
		{strings.TrimSuffix(a.pointer, "\n"), Pointer{Oid: a.oid, Size: 1}, true},
		{"", Pointer{}, false},
		{"hello\n", Pointer{}, false},
		{"version https://git-lfs.github.com/spec/v1\noid md5:abc\nsize 1\n", Pointer{}, false},
		{strings.Replace(a.pointer, "size 1", "size -1", 1), Pointer{}, false},
	}
	for _, tt := range tests {
		got, ok := Decode([]byte(tt.in))
		if ok != tt.wantOK || got != tt.want {
			t.Errorf("Decode(%q) = %+v, %v, want %+v, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}
