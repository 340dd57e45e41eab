package manifest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const testSchema = `{"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}}`

// sealGit keeps the user's git configuration out of the test.
func sealGit(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", home)
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	t.Setenv("GIT_AUTHOR_NAME", "t")
	t.Setenv("GIT_AUTHOR_EMAIL", "t@example.com")
	t.Setenv("GIT_COMMITTER_NAME", "t")
	t.Setenv("GIT_COMMITTER_EMAIL", "t@example.com")
	t.Setenv("LC_ALL", "C")
}

func gitIn(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
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

// testRepo makes a repository whose .gitattributes map data/*.jsonl to
// schemas/s.json with unique ids.
func testRepo(t *testing.T) string {
	sealGit(t)
	dir := t.TempDir()
	gitIn(t, dir, "init", "-q", "-b", "main")
	write(t, filepath.Join(dir, ".gitattributes"), "data/*.jsonl manifest-schema=schemas/s.json manifest-id=/id\n")
	write(t, filepath.Join(dir, "schemas/s.json"), testSchema)
	write(t, filepath.Join(dir, "data/a.jsonl"), "{\"id\": 1}\n{\"id\": 2}\n")
	write(t, filepath.Join(dir, "data/b.jsonl"), "{\"id\": 1}\n{\"id\": \"x\"}\n")
	write(t, filepath.Join(dir, "other.jsonl"), "not json\n")
	gitIn(t, dir, "add", ".")
	gitIn(t, dir, "commit", "-q", "-m", "init")
	return dir
}

// summary runs Check and renders what it reported, one line per file.
func summary(t *testing.T, req Request) (string, error) {
	t.Helper()
	var sb strings.Builder
	req.Note = func(file, reason string) { _ = WriteNote(&sb, file, reason) }
	err := Check(context.Background(), req, func(r *Report, err error) {
		if err != nil {
			fmt.Fprintf(&sb, "error: %v\n", err)
			return
		}
		for _, p := range r.Shown {
			fmt.Fprintf(&sb, "%s:%s\n", r.File, p)
		}
		fmt.Fprintf(&sb, "%s: %s [%s]\n", r.File, r.Summary(), r.Schema)
	})
	return sb.String(), err
}

func lfsPointer(content string) (oid, pointer string) {
	sum := sha256.Sum256([]byte(content))
	oid = hex.EncodeToString(sum[:])
	return oid, fmt.Sprintf("version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %d\n", oid, len(content))
}

func TestCheckRepo(t *testing.T) {
	dir := testRepo(t)
	sub := filepath.Join(dir, "data")
	tests := []struct {
		name string
		req  Request
		want string
	}{
		{"all mapped", Request{Dir: dir},
			"data/a.jsonl: 2 records, no problems [schemas/s.json]\n" +
				"data/b.jsonl:2: /id: got string, want integer (value \"x\")\n" +
				"data/b.jsonl: 2 records, 1 problem in 1 record [schemas/s.json]\n"},
		{"from a subdirectory", Request{Dir: sub, Files: []string{"a.jsonl"}},
			"a.jsonl: 2 records, no problems [schemas/s.json]\n"},
		{"unmapped file", Request{Dir: dir, Files: []string{"other.jsonl"}},
			"error: other.jsonl: no schema: map it in .gitattributes with `other.jsonl manifest-schema=schemas/NAME.json` or pass --schema\n"},
		{"unmapped skipped", Request{Dir: dir, Files: []string{"other.jsonl", "data/a.jsonl"}, SkipUnmapped: true},
			"data/a.jsonl: 2 records, no problems [schemas/s.json]\n"},
		{"schema override", Request{Dir: dir, Files: []string{"data/b.jsonl"}, Override: Config{Schema: "schemas/s.json", ID: "/id"}},
			"data/b.jsonl:2: /id: got string, want integer (value \"x\")\n" +
				"data/b.jsonl: 2 records, 1 problem in 1 record [schemas/s.json]\n"},
		{"missing file", Request{Dir: dir, Files: []string{"data/none.jsonl"}},
			"error: data/none.jsonl: no such file\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := summary(t, tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckBadConfig(t *testing.T) {
	dir := testRepo(t)
	write(t, filepath.Join(dir, ".gitattributes"), "data/a.jsonl manifest-schema=schemas/none.json\ndata/b.jsonl manifest-schema=schemas/s.json manifest-max-bad=lots\n")
	got, err := summary(t, Request{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	want := "error: data/a.jsonl: schema schemas/none.json: cannot load schemas/none.json: no such file\n" +
		"error: data/b.jsonl: bad .gitattributes: attribute manifest-max-bad: bad allowance \"lots\", want a number of records like 10 or a share like 1%\n"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestCheckOutsideRepo(t *testing.T) {
	sealGit(t)
	dir := t.TempDir()
	write(t, filepath.Join(dir, "s.json"), testSchema)
	write(t, filepath.Join(dir, "m.jsonl"), "{\"id\": 1}\n")
	got, err := summary(t, Request{Dir: dir, Files: []string{"m.jsonl"}, Override: Config{Schema: "s.json"}})
	if err != nil || got != "m.jsonl: 1 record, no problems [s.json]\n" {
		t.Errorf("with --schema: %q, %v", got, err)
	}
	for _, req := range []Request{{Dir: dir, Files: []string{"m.jsonl"}}, {Dir: dir}, {Dir: dir, Staged: true}} {
		var ce *ConfigError
		if _, err := summary(t, req); !errors.As(err, &ce) {
			t.Errorf("Check(%+v) outside a repository = %v, want a *ConfigError", req, err)
		}
	}
}

func TestCheckLFS(t *testing.T) {
	dir := testRepo(t)
	content := "{\"id\": 1}\n{\"id\": 1}\n"
	oid, pointer := lfsPointer(content)
	write(t, filepath.Join(dir, "data/a.jsonl"), pointer)
	req := Request{Dir: dir, Files: []string{"data/a.jsonl"}}

	got, _ := summary(t, req)
	want := "error: data/a.jsonl: is a Git LFS pointer (oid " + oid[:12] + "…, 20 bytes) whose content is not in the local LFS store; run `git lfs pull` to fetch it\n"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("content missing (-want +got):\n%s", diff)
	}

	write(t, filepath.Join(dir, ".git/lfs/objects", oid[0:2], oid[2:4], oid), content)
	got, _ = summary(t, req)
	want = "data/a.jsonl:2: /id: duplicate id, first used on line 1 (value 1)\n" +
		"data/a.jsonl: 2 records, 1 problem in 1 record [schemas/s.json]\n"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("content present (-want +got):\n%s", diff)
	}

	// lfs.storage moves the store; a relative value is inside .git.
	gitIn(t, dir, "config", "lfs.storage", "elsewhere")
	got, _ = summary(t, req)
	if !strings.Contains(got, "not in the local LFS store") {
		t.Errorf("with lfs.storage=elsewhere: %q, want the content to be missing", got)
	}
	write(t, filepath.Join(dir, ".git/elsewhere/objects", oid[0:2], oid[2:4], oid), content)
	got, _ = summary(t, req)
	if !strings.Contains(got, "duplicate id") {
		t.Errorf("with lfs.storage=elsewhere and the object there: %q", got)
	}

	// A store object of the wrong size is refused.
	write(t, filepath.Join(dir, ".git/elsewhere/objects", oid[0:2], oid[2:4], oid), content+"\n")
	got, _ = summary(t, req)
	if !strings.Contains(got, "the pointer says 20") {
		t.Errorf("with a corrupt store object: %q", got)
	}
}

func TestCheckStaged(t *testing.T) {
	dir := testRepo(t)
	// Stage a bad a.jsonl, then fix it in the working tree only.
	write(t, filepath.Join(dir, "data/a.jsonl"), "{\"id\": \"bad\"}\n")
	gitIn(t, dir, "add", "data/a.jsonl")
	write(t, filepath.Join(dir, "data/a.jsonl"), "{\"id\": 3}\n")
	// b.jsonl is bad but unchanged since HEAD: --staged does not look at it.
	got, err := summary(t, Request{Dir: dir, Staged: true})
	if err != nil {
		t.Fatal(err)
	}
	want := "data/a.jsonl:1: /id: got string, want integer (value \"bad\")\n" +
		"data/a.jsonl: 1 record, 1 problem in 1 record [schemas/s.json]\n"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("staged (-want +got):\n%s", diff)
	}
	got, _ = summary(t, Request{Dir: dir, Files: []string{"data/a.jsonl"}})
	if !strings.Contains(got, "no problems") {
		t.Errorf("working tree: %q, want no problems", got)
	}

	// A named file that is not in the index cannot be checked with --staged.
	write(t, filepath.Join(dir, "data/new.jsonl"), "{\"id\": 1}\n")
	got, _ = summary(t, Request{Dir: dir, Staged: true, Files: []string{"data/new.jsonl"}})
	if want := "error: data/new.jsonl: is not in the index (git add it, or leave out --staged)\n"; got != want {
		t.Errorf("unstaged file with --staged: %q, want %q", got, want)
	}

	// Staged LFS pointer: the staged blob is read, its content from the store.
	content := "{\"id\": 5}\n{\"id\": 5}\n"
	oid, pointer := lfsPointer(content)
	write(t, filepath.Join(dir, "data/a.jsonl"), pointer)
	gitIn(t, dir, "add", "data/a.jsonl")
	write(t, filepath.Join(dir, "data/a.jsonl"), "{\"id\": 3}\n")
	write(t, filepath.Join(dir, ".git/lfs/objects", oid[0:2], oid[2:4], oid), content)
	got, _ = summary(t, Request{Dir: dir, Staged: true})
	if !strings.Contains(got, "duplicate id") {
		t.Errorf("staged LFS pointer: %q, want the stored content checked", got)
	}

	// The schema and the attributes are read from the index too.
	write(t, filepath.Join(dir, "data/a.jsonl"), "{\"id\": \"s\"}\n")
	gitIn(t, dir, "add", "data/a.jsonl")
	write(t, filepath.Join(dir, "schemas/s.json"), `{"properties": {"id": {"type": "string"}}}`)
	write(t, filepath.Join(dir, ".gitattributes"), "")
	got, _ = summary(t, Request{Dir: dir, Staged: true})
	if !strings.Contains(got, "want integer") {
		t.Errorf("staged schema: %q, want the staged schema (integer ids) used", got)
	}
	gitIn(t, dir, "add", "schemas/s.json")
	got, _ = summary(t, Request{Dir: dir, Staged: true})
	if !strings.Contains(got, "1 record, no problems") {
		t.Errorf("after staging the new schema: %q", got)
	}
	// Staging the emptied .gitattributes unmaps everything.
	gitIn(t, dir, "add", ".gitattributes")
	got, _ = summary(t, Request{Dir: dir, Staged: true})
	if got != "" {
		t.Errorf("with no mapping staged: %q, want nothing checked", got)
	}
}

// TestCheckLFSDamaged: a store object of the right size whose content does
// not hash to its oid is refused before validation, in the working tree and
// staged, naming the object.
func TestCheckLFSDamaged(t *testing.T) {
	dir := testRepo(t)
	content := "{\"id\": 1}\n{\"id\": 2}\n"
	oid, pointer := lfsPointer(content)
	write(t, filepath.Join(dir, "data/a.jsonl"), pointer)
	gitIn(t, dir, "add", "data/a.jsonl")
	// Same size, one byte changed: the damaged content is itself a bad manifest.
	damaged := strings.Replace(content, "2", "x", 1)
	obj := filepath.Join(dir, ".git/lfs/objects", oid[0:2], oid[2:4], oid)
	write(t, obj, damaged)
	for _, req := range []Request{
		{Dir: dir, Files: []string{"data/a.jsonl"}},
		{Dir: dir, Staged: true},
	} {
		var errs []error
		err := Check(context.Background(), req, func(r *Report, err error) {
			if err != nil {
				errs = append(errs, err)
				return
			}
			t.Errorf("Check(staged=%v) validated %s: %s", req.Staged, r.File, r.Summary())
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(errs) != 1 {
			t.Fatalf("Check(staged=%v) errors = %v, want one", req.Staged, errs)
		}
		var ce *ConfigError
		if !errors.As(errs[0], &ce) || ce.File != "data/a.jsonl" {
			t.Errorf("Check(staged=%v) = %v, want a *ConfigError for data/a.jsonl", req.Staged, errs[0])
		}
		for _, want := range []string{"damaged", oid, obj} {
			if !strings.Contains(errs[0].Error(), want) {
				t.Errorf("Check(staged=%v) = %q, want it to name %q", req.Staged, errs[0], want)
			}
		}
	}
	// The intact object validates.
	write(t, obj, content)
	got, _ := summary(t, Request{Dir: dir, Staged: true})
	if !strings.Contains(got, "data/a.jsonl: 2 records, no problems") {
		t.Errorf("intact object: %q", got)
	}
}

// TestCheckLFSStorageAsGitLFS: the local store is where git-lfs keeps it.
// git-lfs takes lfs.storage "~/store" literally (a directory named "~"
// inside .git; it expands no "~"), and it reads no lfs.storage from
// .lfsconfig; validation once worked the path out by hand and looked in
// $HOME/store instead.
func TestCheckLFSStorageAsGitLFS(t *testing.T) {
	dir := testRepo(t)
	content := "{\"id\": 1}\n{\"id\": 1}\n"
	oid, pointer := lfsPointer(content)
	write(t, filepath.Join(dir, "data/a.jsonl"), pointer)
	req := Request{Dir: dir, Files: []string{"data/a.jsonl"}}
	home := os.Getenv("HOME")

	gitIn(t, dir, "config", "lfs.storage", "~/store")
	write(t, filepath.Join(home, "store/objects", oid[0:2], oid[2:4], oid), content)
	if got, _ := summary(t, req); !strings.Contains(got, "not in the local LFS store") {
		t.Errorf("with lfs.storage=~/store and the object in $HOME/store: %q, want it missing (git-lfs does not look there)", got)
	}
	write(t, filepath.Join(dir, ".git/~/store/objects", oid[0:2], oid[2:4], oid), content)
	if got, _ := summary(t, req); !strings.Contains(got, "duplicate id") {
		t.Errorf("with lfs.storage=~/store and the object in .git/~/store: %q, want it read", got)
	}
}
