package gitrepo

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// gitLFS is the pinned git-lfs the end-to-end tests use.
func gitLFS(t *testing.T) string {
	t.Helper()
	p := os.Getenv("DATALFS_TEST_GIT_LFS")
	if p == "" {
		if home, err := os.UserHomeDir(); err == nil {
			p = filepath.Join(home, ".cache/datalfs/bin/git-lfs")
		}
	}
	if _, err := os.Stat(p); err != nil {
		t.Skipf("no git-lfs at %q (set DATALFS_TEST_GIT_LFS): %v", p, err)
	}
	return p
}

// lfsEnv runs `git lfs env` in dir and returns its KEY=VALUE lines.
func lfsEnv(t *testing.T, bin, dir string) map[string]string {
	t.Helper()
	cmd := exec.Command(bin, "env")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git lfs env: %v", err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = v
		}
	}
	return env
}

// TestLFSStorageAsGitLFS: the object and temp dirs are the ones git-lfs
// itself uses, for lfs.storage unset, relative, absolute, "~/..." (taken
// literally by git-lfs) and set only in .lfsconfig (which git-lfs
// ignores), in a clone, in a linked worktree and in a bare clone.
func TestLFSStorageAsGitLFS(t *testing.T) {
	bin := gitLFS(t)
	dir, _ := origin(t)
	base := filepath.Dir(dir)
	git(t, dir, "worktree", "add", "-q", filepath.Join(base, "linked"))
	bare := filepath.Join(base, "bare.git")
	git(t, base, "clone", "-q", "--bare", dir, bare)
	abs := filepath.Join(base, "abs store")
	for _, tt := range []struct {
		name, storage, lfsconfig, wantObjects string
	}{
		{name: "unset", wantObjects: filepath.Join(dir, ".git/lfs/objects")},
		{name: "relative", storage: "rel/store", wantObjects: filepath.Join(dir, ".git/rel/store/objects")},
		{name: "absolute", storage: abs, wantObjects: filepath.Join(abs, "objects")},
		{name: "tilde", storage: "~/store", wantObjects: filepath.Join(dir, ".git/~/store/objects")},
		{name: ".lfsconfig", lfsconfig: "[lfs]\n\tstorage = from-lfsconfig\n", wantObjects: filepath.Join(dir, ".git/lfs/objects")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.storage != "" {
				git(t, dir, "config", "lfs.storage", tt.storage)
				defer git(t, dir, "config", "--unset", "lfs.storage")
				git(t, bare, "config", "lfs.storage", tt.storage)
				defer git(t, bare, "config", "--unset", "lfs.storage")
			}
			r := open(t, bare)
			want := strings.Replace(tt.wantObjects, filepath.Join(dir, ".git"), bare, 1)
			if env := lfsEnv(t, bin, bare); r.ObjectDir() != env["LocalMediaDir"] || r.ObjectDir() != want || r.TempDir() != env["TempDir"] {
				t.Errorf("bare: ObjectDir(), TempDir() = %q, %q; git-lfs uses %q, %q; want objects in %q",
					r.ObjectDir(), r.TempDir(), env["LocalMediaDir"], env["TempDir"], want)
			}
			for _, wt := range []string{dir, filepath.Join(base, "linked")} {
				lfsconfig := filepath.Join(wt, ".lfsconfig")
				if tt.lfsconfig != "" {
					write(t, lfsconfig, tt.lfsconfig)
				}
				r := open(t, wt)
				env := lfsEnv(t, bin, wt)
				if got := r.ObjectDir(); got != env["LocalMediaDir"] || got != tt.wantObjects {
					t.Errorf("%s: ObjectDir() = %q; git-lfs uses %q, want %q", wt, got, env["LocalMediaDir"], tt.wantObjects)
				}
				if got := r.TempDir(); got != env["TempDir"] {
					t.Errorf("%s: TempDir() = %q; git-lfs uses %q", wt, got, env["TempDir"])
				}
				os.Remove(lfsconfig)
			}
		})
	}
}

// TestOpenObject: an object is read from the store only when its content
// hashes to its oid; a missing or damaged one is a typed error.
func TestOpenObject(t *testing.T) {
	dir, _ := origin(t)
	r := open(t, dir)
	content := "the content\n"
	sum := sha256.Sum256([]byte(content))
	oid := hex.EncodeToString(sum[:])
	size := int64(len(content))

	var missing *MissingLFSError
	if _, err := r.OpenObject(oid, size); !errors.As(err, &missing) || missing.Path != r.ObjectPath(oid) {
		t.Fatalf("OpenObject(absent) = %v, want a MissingLFSError at %s", err, r.ObjectPath(oid))
	}
	if want := filepath.Join(dir, ".git/lfs/objects", oid[:2], oid[2:4], oid); r.ObjectPath(oid) != want {
		t.Errorf("ObjectPath = %s, want %s", r.ObjectPath(oid), want)
	}
	write(t, r.ObjectPath(oid), content)
	f, err := r.OpenObject(oid, size)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(f)
	f.Close()
	if string(got) != content {
		t.Errorf("OpenObject read %q, want %q", got, content)
	}
	write(t, r.ObjectPath(oid), strings.ToUpper(content))
	var damaged *DamagedLFSError
	if _, err := r.OpenObject(oid, size); !errors.As(err, &damaged) {
		t.Errorf("OpenObject(damaged) = %v, want a DamagedLFSError", err)
	}
	if _, err := r.OpenObject(oid, size+1); err == nil || !strings.Contains(err.Error(), "the pointer says") {
		t.Errorf("OpenObject(wrong size) = %v", err)
	}
}

// TestReadPointer: a pointer is recognised and anything else comes back
// whole.
func TestReadPointer(t *testing.T) {
	oid := strings.Repeat("ab", 32)
	ptr := "version https://git-lfs.github.com/spec/v1\noid sha256:" + oid + "\nsize 12\n"
	_, p, err := ReadPointer(io.NopCloser(strings.NewReader(ptr)))
	if err != nil || p == nil || p.Oid != oid || p.Size != 12 {
		t.Errorf("ReadPointer(pointer) = %+v, %v", p, err)
	}
	for _, text := range []string{"", "version 1 but not a pointer\n", strings.Repeat("x", 5000)} {
		rc, p, err := ReadPointer(io.NopCloser(strings.NewReader(text)))
		if err != nil || p != nil {
			t.Fatalf("ReadPointer(%.20q) = %+v, %v", text, p, err)
		}
		if got, _ := io.ReadAll(rc); string(got) != text {
			t.Errorf("ReadPointer(%.20q) gave back %d bytes, want %d", text, len(got), len(text))
		}
	}
}
