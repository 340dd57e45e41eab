package dataset

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/datalfs/datalfs/internal/mems3"
	"github.com/datalfs/datalfs/s3store"
)

// TestBuildFile: the manifest lands at the path (its directory made), and
// when the listing or the rename fails what was at the path stays and no
// temporary file is left.
func TestBuildFile(t *testing.T) {
	srv := mems3.Start(t, "data")
	ctx := context.Background()
	srv.Put(t, "data", "train/a.jpg", []byte("a"))
	store, err := s3store.New(ctx, s3store.Location{Bucket: "data", Endpoint: srv.URL}, s3store.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	opt := BuildOptions{Bucket: "data", Prefix: "train/"}
	dir := t.TempDir()

	out := filepath.Join(dir, "new", "m.jsonl")
	st, err := BuildFile(ctx, store.Objects(), opt, out)
	if err != nil || st.Records != 1 {
		t.Fatalf("BuildFile = %+v, %v; want 1 record", st, err)
	}
	if b, err := os.ReadFile(out); err != nil || !strings.Contains(string(b), `"id":"a.jpg"`) {
		t.Errorf("manifest = %q, %v; want the record of a.jpg", b, err)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("manifest mode = %v, %v; want 0644", fi.Mode(), err)
	}
	assertOnly(t, filepath.Join(dir, "new"), "m.jsonl")

	// The listing fails (a labels file without a key column): the old
	// manifest stays.
	bad := opt
	bad.Labels = strings.NewReader("label,name\ncat,a.jpg\n")
	if _, err := BuildFile(ctx, store.Objects(), bad, out); err == nil {
		t.Fatal("BuildFile with bad labels succeeded")
	}
	if b, _ := os.ReadFile(out); !strings.Contains(string(b), `"id":"a.jpg"`) {
		t.Errorf("manifest after a failed build = %q, want the old one", b)
	}
	assertOnly(t, filepath.Join(dir, "new"), "m.jsonl")

	// The rename fails: the path is a directory, which a file cannot
	// replace.
	taken := filepath.Join(dir, "taken")
	if err := os.MkdirAll(filepath.Join(taken, "keep"), 0o755); err != nil {
		t.Fatal(err)
	}
	var ce *CreateError
	if _, err := BuildFile(ctx, store.Objects(), opt, taken); err == nil || errors.As(err, &ce) {
		t.Fatalf("BuildFile onto a directory = %v, want a rename error", err)
	}
	assertOnly(t, dir, "new", "taken")
	assertOnly(t, taken, "keep")

	// The output cannot be created: its directory is a file.
	if _, err := BuildFile(ctx, store.Objects(), opt, filepath.Join(out, "x.jsonl")); !errors.As(err, &ce) {
		t.Errorf("BuildFile under a file = %v, want a *CreateError", err)
	}
}

// TestWriteLockWholeOrNothing: `manifest lock -o` writes the lock whole; when
// the rename fails (the path is a directory) nothing but what was there is
// left, and a good write round-trips through ReadLock.
func TestWriteLockWholeOrNothing(t *testing.T) {
	dir := t.TempDir()
	l := Lock{Version: 1, Commit: "c0ffee", Digest: "sha256:00", Manifests: []LockManifest{{Path: "m.jsonl"}}}
	path := filepath.Join(dir, "run.lock")
	if err := WriteLock(path, l); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadLock(path); err != nil || got.Commit != "c0ffee" {
		t.Fatalf("ReadLock after WriteLock = %+v, %v", got, err)
	}
	taken := filepath.Join(dir, "taken")
	if err := os.MkdirAll(filepath.Join(taken, "keep"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteLock(taken, l); err == nil || !strings.Contains(err.Error(), "write lock file "+taken) {
		t.Fatalf("WriteLock onto a directory = %v, want an error naming the lock file", err)
	}
	assertOnly(t, dir, "run.lock", "taken")
	assertOnly(t, taken, "keep")
}
