package gitrepo

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// sealGit keeps the user's and the system's git configuration out.
func sealGit(t *testing.T) string {
	t.Helper()
	home, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"HOME": home, "XDG_CONFIG_HOME": filepath.Join(home, ".config"), "GIT_CONFIG_NOSYSTEM": "1",
		"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
		"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com", "LC_ALL": "C",
	} {
		t.Setenv(k, v)
	}
	return home
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Unusual names every reader must handle.
const (
	spaced  = "data/with space.jsonl"
	unicode = "data/ünï €.jsonl"
	dashed  = "-dash.jsonl"
)

// origin makes a repository with one commit, its files under unusual
// names, and returns its directory and the commit.
func origin(t *testing.T) (string, string) {
	t.Helper()
	dir := filepath.Join(sealGit(t), "origin")
	git(t, filepath.Dir(dir), "init", "-q", "-b", "main", dir)
	write(t, filepath.Join(dir, ".gitattributes"), "*.jsonl manifest-schema=schemas/s.json manifest-label=/label\n")
	for _, name := range []string{spaced, unicode, dashed, "plain.txt"} {
		write(t, filepath.Join(dir, filepath.FromSlash(name)), "committed "+name+"\n")
	}
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-q", "-m", "one")
	return dir, git(t, dir, "rev-parse", "HEAD")
}

func open(t *testing.T, dir string) *Repo {
	t.Helper()
	r, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return r
}

// TestOpenLayouts: a clone, a linked worktree, a bare clone and a clone
// without a checkout each open with the right paths, and each reads the
// commit's files, their content and their attributes.
func TestOpenLayouts(t *testing.T) {
	ctx := context.Background()
	src, commit := origin(t)
	base := filepath.Dir(src)
	git(t, base, "clone", "-q", src, "clone")
	git(t, base, "clone", "-q", "--bare", src, "bare.git")
	git(t, base, "clone", "-q", "--no-checkout", src, "nocheckout")
	git(t, filepath.Join(base, "clone"), "worktree", "add", "-q", filepath.Join(base, "linked"))

	clone := filepath.Join(base, "clone")
	tests := []struct {
		name, dir              string
		top, gitDir, commonDir string
	}{
		{"clone", filepath.Join(clone, "data"), clone, filepath.Join(clone, ".git"), filepath.Join(clone, ".git")},
		{"linked worktree", filepath.Join(base, "linked"), filepath.Join(base, "linked"),
			filepath.Join(clone, ".git/worktrees/linked"), filepath.Join(clone, ".git")},
		{"bare", filepath.Join(base, "bare.git"), "", filepath.Join(base, "bare.git"), filepath.Join(base, "bare.git")},
		{"no checkout", filepath.Join(base, "nocheckout"), filepath.Join(base, "nocheckout"),
			filepath.Join(base, "nocheckout/.git"), filepath.Join(base, "nocheckout/.git")},
	}
	want := []string{dashed, ".gitattributes", unicode, spaced, "plain.txt"}
	sort.Strings(want)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := open(t, tt.dir)
			if r.Top != tt.top || r.GitDir != tt.gitDir || r.CommonDir != tt.commonDir {
				t.Errorf("Open = top %q, git dir %q, common dir %q; want %q, %q, %q", r.Top, r.GitDir, r.CommonDir, tt.top, tt.gitDir, tt.commonDir)
			}
			got, err := r.Resolve(ctx, "main")
			if err != nil || got != commit {
				t.Fatalf("Resolve(main) = %q, %v; want %s", got, err, commit)
			}
			at := Source{Rev: commit}
			files, err := r.Files(ctx, at)
			sort.Strings(files)
			if err != nil || !cmp.Equal(want, files) {
				t.Errorf("Files(commit) = %q, %v; want %q", files, err, want)
			}
			for _, name := range []string{spaced, unicode, dashed} {
				data, err := r.ReadFile(ctx, at, name)
				if err != nil || string(data) != "committed "+name+"\n" {
					t.Errorf("ReadFile(commit, %q) = %q, %v", name, data, err)
				}
			}
			attrs, err := r.Attributes(ctx, at, []string{spaced, unicode, dashed, "plain.txt"})
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{spaced, unicode, dashed} {
				if v, err := attrs[name].Value(AttrLabel); v != "/label" || err != nil {
					t.Errorf("attribute %s of %q at the commit = %q, %v; want /label", AttrLabel, name, v, err)
				}
			}
			if v, _ := attrs["plain.txt"].Value(AttrSchema); v != "" {
				t.Errorf("plain.txt has %s %q, want none", AttrSchema, v)
			}
			tree, err := r.Tree(ctx, commit, []string{"data"})
			if err != nil || len(tree) != 2 || tree[0].Mode != ModeFile || tree[0].Size != int64(len("committed "+tree[0].Path+"\n")) {
				t.Errorf("Tree(commit, data) = %+v, %v", tree, err)
			}
		})
	}

	if _, err := Open(ctx, base); !errors.Is(err, ErrNotRepo) {
		t.Errorf("Open outside a repository = %v, want ErrNotRepo", err)
	}
	if _, err := OpenWorktree(ctx, filepath.Join(base, "bare.git")); !errors.Is(err, ErrNoWorktree) {
		t.Errorf("OpenWorktree(bare) = %v, want ErrNoWorktree", err)
	}
}

// TestSources: the working tree, the index and a commit each give their
// own files and content, under unusual names too.
func TestSources(t *testing.T) {
	ctx := context.Background()
	dir, commit := origin(t)
	for _, name := range []string{spaced, unicode, dashed} {
		write(t, filepath.Join(dir, filepath.FromSlash(name)), "staged "+name+"\n")
	}
	git(t, dir, "add", "-A")
	for _, name := range []string{spaced, unicode, dashed} {
		write(t, filepath.Join(dir, filepath.FromSlash(name)), "worktree "+name+"\n")
	}
	write(t, filepath.Join(dir, "data/new file.jsonl"), "new\n")
	git(t, dir, "add", "--", "data/new file.jsonl")
	r := open(t, dir)

	for _, s := range []struct {
		src  Source
		want string
	}{{Source{}, "worktree "}, {Source{Staged: true}, "staged "}, {Source{Rev: commit}, "committed "}} {
		for _, name := range []string{spaced, unicode, dashed} {
			data, err := r.ReadFile(ctx, s.src, name)
			if err != nil || string(data) != s.want+name+"\n" {
				t.Errorf("ReadFile(%s, %q) = %q, %v; want %q", s.src, name, data, err, s.want+name+"\n")
			}
			rc, err := r.Open(ctx, s.src, name)
			if err != nil {
				t.Fatalf("Open(%s, %q): %v", s.src, name, err)
			}
			data, err = io.ReadAll(rc)
			if cerr := rc.Close(); err == nil {
				err = cerr
			}
			if err != nil || string(data) != s.want+name+"\n" {
				t.Errorf("Open(%s, %q) read %q, %v", s.src, name, data, err)
			}
		}
		files, err := r.Files(ctx, s.src, "data/")
		inCommit := s.src.Rev != ""
		want := []string{"data/new file.jsonl", unicode, spaced}
		if inCommit {
			want = []string{unicode, spaced}
		}
		sort.Strings(files)
		sort.Strings(want)
		if err != nil || !cmp.Equal(want, files) {
			t.Errorf("Files(%s, data/) = %q, %v; want %q", s.src, files, err, want)
		}
		if got := r.Exists(ctx, s.src, "data/new file.jsonl"); got == inCommit {
			t.Errorf("Exists(%s, data/new file.jsonl) = %v", s.src, got)
		}
	}
	_, err := r.Open(ctx, Source{Rev: commit}, "data/new file.jsonl")
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open(commit, a later file) = %v, want os.ErrNotExist", err)
	}
	if _, err := r.ReadFile(ctx, Source{Staged: true}, "nowhere"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadFile(index, nowhere) = %v, want os.ErrNotExist", err)
	}
	staged, err := r.StagedFiles(ctx)
	sort.Strings(staged)
	want := []string{dashed, "data/new file.jsonl", unicode, spaced}
	sort.Strings(want)
	if err != nil || !cmp.Equal(want, staged) {
		t.Errorf("StagedFiles = %q, %v; want %q", staged, err, want)
	}
}

// TestResolve: revisions that git would read as options are refused
// before git sees them; names of no commit are errors.
func TestResolve(t *testing.T) {
	dir, commit := origin(t)
	r := open(t, dir)
	ctx := context.Background()
	for _, rev := range []string{"", "-h", "--output=/tmp/x", "--all"} {
		if got, err := r.Resolve(ctx, rev); err == nil || !strings.Contains(err.Error(), "is not a revision") {
			t.Errorf("Resolve(%q) = %q, %v; want it refused", rev, got, err)
		}
	}
	if got, err := r.Resolve(ctx, "no-such-branch"); err == nil || !strings.Contains(err.Error(), "names no commit") {
		t.Errorf("Resolve(no-such-branch) = %q, %v", got, err)
	}
	tree := git(t, dir, "rev-parse", "HEAD^{tree}")
	if got, err := r.Resolve(ctx, tree); err == nil {
		t.Errorf("Resolve(a tree) = %q, want an error", got)
	}
	if got, err := r.Resolve(ctx, commit[:10]); err != nil || got != commit {
		t.Errorf("Resolve(short id) = %q, %v; want %s", got, err, commit)
	}
}

// TestRel: paths given on the command line, from a subdirectory, with
// unusual names, and outside the working tree.
func TestRel(t *testing.T) {
	dir, _ := origin(t)
	r := open(t, dir)
	t.Chdir(filepath.Join(dir, "data"))
	got, err := r.RelAll([]string{"with space.jsonl", "../" + dashed, "./ünï €.jsonl"})
	want := []string{spaced, dashed, unicode}
	if err != nil || !cmp.Equal(want, got) {
		t.Errorf("RelAll = %q, %v; want %q", got, err, want)
	}
	if got, err := r.Rel("../../elsewhere"); err == nil || !strings.Contains(err.Error(), "outside the repository") {
		t.Errorf("Rel(outside) = %q, %v", got, err)
	}
}

// TestOriginURL: remote.origin.url is given only when it holds no user
// name or credentials.
func TestOriginURL(t *testing.T) {
	dir, _ := origin(t)
	r := open(t, dir)
	ctx := context.Background()
	if got := r.OriginURL(ctx); got != "" {
		t.Errorf("OriginURL without a remote = %q", got)
	}
	git(t, dir, "remote", "add", "origin", "https://example.com/o/r.git")
	if got := r.OriginURL(ctx); got != "https://example.com/o/r.git" {
		t.Errorf("OriginURL = %q", got)
	}
	git(t, dir, "remote", "set-url", "origin", "https://user:secret@example.com/o/r.git")
	if got := r.OriginURL(ctx); got != "" {
		t.Errorf("OriginURL with credentials = %q, want none", got)
	}
}
