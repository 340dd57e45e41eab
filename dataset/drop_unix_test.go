//go:build unix

package dataset

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/datalfs/datalfs/gitrepo"
)

// TestDropRecordsWriteFails: when the rewritten manifest cannot be written
// (a full disk, here a file size limit), DropRecords reports it, the
// manifest is unchanged and no temporary file is left beside it.
func TestDropRecordsWriteFails(t *testing.T) {
	dir := t.TempDir()
	var data strings.Builder
	for i := range 200 {
		fmt.Fprintf(&data, `{"id":"%d","ref":"s3://data/%d"}`+"\n", i, i)
	}
	p := filepath.Join(dir, "a.jsonl")
	if err := os.WriteFile(p, []byte(data.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	repo := &Repo{Repo: &gitrepo.Repo{Top: dir}}
	m := Manifest{Path: "a.jsonl", Config: Config{ID: "/id", Refs: []string{"/ref"}}}

	// Files this process writes may grow to 1 KiB until the call returns;
	// Go ignores SIGXFSZ, so the write fails with EFBIG.
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		t.Skip(err)
	}
	small := lim
	small.Cur = 1024
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &small); err != nil {
		t.Skip(err)
	}
	n, err := repo.DropRecords(context.Background(), m, map[string]bool{"7": true})
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		t.Fatal(err)
	}
	if err == nil {
		t.Fatalf("DropRecords with a 1 KiB file size limit = %d, nil; want an error", n)
	}
	if b, _ := os.ReadFile(p); string(b) != data.String() {
		t.Errorf("manifest changed after a failed rewrite: %d bytes, want %d", len(b), data.Len())
	}
	assertOnly(t, dir, "a.jsonl")
}
