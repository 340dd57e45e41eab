package export_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/datalfs/datalfs/export"
	"github.com/datalfs/datalfs/internal/mems3"
	"github.com/datalfs/datalfs/s3store"
	"github.com/datalfs/datalfs/transfer/storetest"
)

// fixture is a repository whose LFS objects are in an in-memory bucket.
type fixture struct {
	srv  *mems3.Server
	repo string
	want map[string][]byte // path -> content a checkout would have
	oids map[string]string // LFS path -> oid
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+t.TempDir(),
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@e", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@e")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// newFixture commits LFS pointers (objects of the given sizes, uploaded to
// the bucket unless missing), plain files, an executable and a symlink.
func newFixture(t *testing.T, lfsSizes map[string]int64, missing ...string) *fixture {
	t.Helper()
	srv := mems3.Start(t, "bucket")
	// The code under test runs git too: keep the user's config out.
	t.Setenv("GIT_CONFIG_GLOBAL", "/dev/null")
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	f := &fixture{srv: srv, repo: t.TempDir(), want: map[string][]byte{}, oids: map[string]string{}}
	git(t, f.repo, "init", "-q", "-b", "main")
	write := func(rel string, b []byte) {
		p := filepath.Join(f.repo, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	seed := uint64(1)
	var paths []string
	for p := range lfsSizes {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		data, oid := storetest.Object(lfsSizes[p], seed)
		seed++
		f.want[p], f.oids[p] = data, oid
		write(p, fmt.Appendf(nil, "version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %d\n", oid, len(data)))
		if !contains(missing, p) {
			srv.Put(t, "bucket", "repo/lfs/objects/"+oid[:2]+"/"+oid[2:4]+"/"+oid, data)
		}
	}
	big, _ := storetest.Object(300<<10, 99)
	for rel, b := range map[string][]byte{
		"README.md":        []byte("hello\n"),
		"src/big.txt":      big,
		"src/deep/x/y.txt": []byte("y"),
		"run.sh":           []byte("#!/bin/sh\necho hi\n"),
		"empty":            nil,
	} {
		write(rel, b)
		f.want[rel] = b
	}
	if err := os.Chmod(filepath.Join(f.repo, "run.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("README.md", filepath.Join(f.repo, "link")); err != nil {
		t.Fatal(err)
	}
	git(t, f.repo, "config", "-f", ".lfsconfig", "lfs.url", srv.URL+"/bucket/repo")
	f.want[".lfsconfig"], _ = os.ReadFile(filepath.Join(f.repo, ".lfsconfig"))
	git(t, f.repo, "add", "-A")
	git(t, f.repo, "commit", "-q", "-m", "first")
	return f
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// opener opens the store named by the commit's LFS URL, as the command does.
func (f *fixture) opener(t *testing.T) export.Opener {
	return func(ctx context.Context, commit string) (export.Store, error) {
		raw, err := export.LFSURL(ctx, f.repo, commit)
		if err != nil {
			return nil, err
		}
		loc, err := s3store.ParseURL(raw)
		if err != nil {
			return nil, err
		}
		opts := s3store.DefaultOptions()
		opts.Concurrency = 1 // every range one GET, in order, as the command sets it
		return s3store.New(ctx, loc, opts)
	}
}

func (f *fixture) run(t *testing.T, o export.Options) *export.Result {
	t.Helper()
	if o.Repo == "" {
		o.Repo = f.repo
	}
	if o.ChunkSize == 0 {
		o.ChunkSize = 1 << 20 // so that the 5 MiB object is fetched in ranges
		o.RangeAbove = 1 << 20
	}
	res, err := export.Run(context.Background(), f.opener(t), o)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res
}

// files returns every file under dir (symlinks as "-> target"), and fails
// on a leftover temp dir.
func files(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	got := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.Name() == ".datalfs-export" {
			t.Errorf("temp dir %s left behind", p)
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			got[filepath.ToSlash(rel)] = []byte("-> " + target)
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			got[filepath.ToSlash(rel)] = b
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func (f *fixture) wantAll() map[string][]byte {
	w := map[string][]byte{"link": []byte("-> README.md")}
	for k, v := range f.want {
		w[k] = v
	}
	return w
}

func diffFiles(t *testing.T, got, want map[string][]byte) {
	t.Helper()
	for p, b := range want {
		g, ok := got[p]
		switch {
		case !ok:
			t.Errorf("%s missing", p)
		case !bytes.Equal(g, b):
			t.Errorf("%s: %d bytes differ from the %d wanted", p, len(g), len(b))
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%s exported but not wanted", p)
		}
	}
}

var lfsSet = map[string]int64{"data/small.bin": 4 << 10, "data/mid.bin": 700 << 10, "data/large.bin": 5<<20 + 123, "model/w.bin": 2 << 10}

func TestExportAll(t *testing.T) {
	f := newFixture(t, lfsSet)
	out := filepath.Join(t.TempDir(), "out")
	res := f.run(t, export.Options{Out: out, Buffers: 2, PerObject: 3})
	diffFiles(t, files(t, out), f.wantAll())
	if len(res.Problems) > 0 || res.Written != len(f.wantAll()) || res.Skipped != 0 {
		t.Errorf("result = %+v, want %d written, none skipped, no problems", res, len(f.wantAll()))
	}
	if fi, err := os.Stat(filepath.Join(out, "run.sh")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("run.sh mode = %v (%v), want 0755", fi.Mode(), err)
	}
	// The 5 MiB object came in ranges of 1 MiB.
	got := map[string]bool{}
	for _, r := range f.srv.Ranges() {
		got[r] = true
	}
	size := lfsSet["data/large.bin"]
	for a := int64(0); a < size; a += 1 << 20 {
		if r := fmt.Sprintf("bytes=%d-%d", a, min(a+1<<20, size)-1); !got[r] {
			t.Errorf("no GET of %s among %q", r, f.srv.Ranges())
		}
	}
}

func TestExportProgress(t *testing.T) {
	f := newFixture(t, lfsSet)
	var buf bytes.Buffer
	f.run(t, export.Options{Out: t.TempDir(), Progress: &buf})
	if want := fmt.Sprintf("export: %d/%d files", len(f.wantAll()), len(f.wantAll())); !strings.Contains(buf.String(), want) {
		t.Errorf("progress display %q does not end with %q", buf.String(), want)
	}
}

func TestExportResume(t *testing.T) {
	f := newFixture(t, lfsSet)
	out := t.TempDir()
	f.run(t, export.Options{Out: out})
	good := filepath.Join(out, "data/mid.bin")
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := os.Chtimes(good, old, old); err != nil {
		t.Fatal(err)
	}
	// Damage one LFS file in place (same size), cut another short, damage a git file.
	damaged := append([]byte(nil), f.want["data/large.bin"]...)
	damaged[len(damaged)/2] ^= 1
	os.WriteFile(filepath.Join(out, "data/large.bin"), damaged, 0o644)
	os.WriteFile(filepath.Join(out, "data/small.bin"), f.want["data/small.bin"][:100], 0o644)
	os.WriteFile(filepath.Join(out, "src/big.txt"), []byte("changed"), 0o644)
	os.Chmod(filepath.Join(out, "run.sh"), 0o644)
	gets := f.srv.Requests("GET")

	res := f.run(t, export.Options{Out: out})
	diffFiles(t, files(t, out), f.wantAll())
	if res.Written != 3 || res.Skipped != len(f.wantAll())-3 || len(res.Problems) > 0 {
		t.Errorf("second run: %d written, %d skipped, problems %v; want 3 written, %d skipped",
			res.Written, res.Skipped, res.Problems, len(f.wantAll())-3)
	}
	if fi, err := os.Stat(good); err != nil || !fi.ModTime().Equal(old) {
		t.Errorf("a good file was rewritten: mtime %v, want %v", fi.ModTime(), old)
	}
	if fi, _ := os.Stat(filepath.Join(out, "run.sh")); fi.Mode().Perm() != 0o755 {
		t.Errorf("run.sh mode = %v, want 0755 restored", fi.Mode())
	}
	// 6 ranges for the large object and 1 GET for the small one.
	if n := f.srv.Requests("GET") - gets; n != 7 {
		t.Errorf("second run made %d GETs, want 7", n)
	}
}

func TestExportShards(t *testing.T) {
	f := newFixture(t, lfsSet)
	union := map[string][]byte{}
	for k := 1; k <= 2; k++ {
		out := t.TempDir()
		res := f.run(t, export.Options{Out: out, Shard: export.Shard{K: k, N: 2}})
		got := files(t, out)
		if len(got) == 0 || len(got) == len(f.wantAll()) || len(res.Problems) > 0 {
			t.Errorf("shard %d/2 has %d of %d files (problems %v)", k, len(got), len(f.wantAll()), res.Problems)
		}
		for p, b := range got {
			if _, dup := union[p]; dup {
				t.Errorf("%s in both shards", p)
			}
			union[p] = b
		}
	}
	diffFiles(t, union, f.wantAll())
}

func TestExportSelect(t *testing.T) {
	f := newFixture(t, lfsSet)
	out := t.TempDir()
	f.run(t, export.Options{Out: out, Include: []string{"data/*.bin"}, Exclude: []string{"data/large.bin"}})
	diffFiles(t, files(t, out), map[string][]byte{"data/small.bin": f.want["data/small.bin"], "data/mid.bin": f.want["data/mid.bin"]})

	out = t.TempDir()
	f.run(t, export.Options{Out: out, Paths: []string{"model", "src/deep"}})
	diffFiles(t, files(t, out), map[string][]byte{"model/w.bin": f.want["model/w.bin"], "src/deep/x/y.txt": []byte("y")})
}

func TestExportMissingObject(t *testing.T) {
	f := newFixture(t, lfsSet, "data/mid.bin")
	out := t.TempDir()
	res := f.run(t, export.Options{Out: out})
	if len(res.Problems) != 1 || !errors.Is(res.Problems[0], fs.ErrNotExist) ||
		!strings.Contains(res.Problems[0].Error(), "data/mid.bin") || !strings.Contains(res.Problems[0].Error(), f.oids["data/mid.bin"]) {
		t.Fatalf("problems = %v, want one naming data/mid.bin and its oid as not found", res.Problems)
	}
	want := f.wantAll()
	delete(want, "data/mid.bin")
	diffFiles(t, files(t, out), want)
}

func TestExportCorruptObject(t *testing.T) {
	f := newFixture(t, lfsSet)
	oid := f.oids["data/large.bin"]
	bad := append([]byte(nil), f.want["data/large.bin"]...)
	bad[3<<20] ^= 1
	f.srv.Put(t, "bucket", "repo/lfs/objects/"+oid[:2]+"/"+oid[2:4]+"/"+oid, bad)
	out := t.TempDir()
	res := f.run(t, export.Options{Out: out})
	if len(res.Problems) != 1 || !strings.Contains(res.Problems[0].Error(), "corrupt") {
		t.Fatalf("problems = %v, want data/large.bin corrupt", res.Problems)
	}
	if _, err := os.Lstat(filepath.Join(out, "data/large.bin")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a corrupt object was written: %v", err)
	}
}

func TestExportBare(t *testing.T) {
	f := newFixture(t, lfsSet)
	bare := filepath.Join(t.TempDir(), "bare.git")
	git(t, "", "clone", "-q", "--bare", f.repo, bare)
	out := t.TempDir()
	res := f.run(t, export.Options{Repo: bare, Out: out})
	if len(res.Problems) > 0 {
		t.Fatal(res.Problems)
	}
	diffFiles(t, files(t, out), f.wantAll())
}

func TestExportUsage(t *testing.T) {
	f := newFixture(t, nil)
	_, err := export.Run(context.Background(), f.opener(t), export.Options{Repo: f.repo, Rev: "nosuch", Out: t.TempDir()})
	if !errors.Is(err, export.ErrUsage) {
		t.Errorf("Run(rev nosuch) = %v, want a usage error", err)
	}
	if _, err := export.ParseShard("3/2"); !errors.Is(err, export.ErrUsage) {
		t.Errorf("ParseShard(3/2) = %v, want a usage error", err)
	}
	// No LFS URL anywhere: a usage error, and nothing half done.
	git(t, f.repo, "rm", "-q", ".lfsconfig")
	os.WriteFile(filepath.Join(f.repo, "p.bin"), []byte("version https://git-lfs.github.com/spec/v1\noid sha256:"+strings.Repeat("a", 64)+"\nsize 3\n"), 0o644)
	git(t, f.repo, "add", "-A")
	git(t, f.repo, "commit", "-q", "-m", "no url")
	_, err = export.Run(context.Background(), f.opener(t), export.Options{Repo: f.repo, Out: t.TempDir()})
	if !errors.Is(err, export.ErrUsage) || !strings.Contains(err.Error(), "lfs.url") {
		t.Errorf("Run without an LFS URL = %v, want a usage error naming lfs.url", err)
	}
}

// TestExportNeverFollowsSymlinks: a symlink left in DIR where the commit
// has a directory is reported, and nothing is written through it.
func TestExportNeverFollowsSymlinks(t *testing.T) {
	f := newFixture(t, lfsSet)
	out, outside := t.TempDir(), t.TempDir()
	// The symlinked directory even holds the right content.
	os.WriteFile(filepath.Join(outside, "big.txt"), f.want["src/big.txt"], 0o644)
	if err := os.Symlink(outside, filepath.Join(out, "src")); err != nil {
		t.Fatal(err)
	}
	res := f.run(t, export.Options{Out: out})
	if len(res.Problems) != 2 || !strings.Contains(res.Problems[0].Error(), "in the way") {
		t.Errorf("problems = %v, want src/big.txt and src/deep/x/y.txt refused", res.Problems)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 1 {
		t.Errorf("files written through the symlink: %v", entries)
	}
	if res.Skipped != 0 {
		t.Errorf("%d files counted as already there, want none (src/big.txt behind the symlink is not in DIR)", res.Skipped)
	}
}

// TestExportStopsOnAccessDenied: a failure every file would share (here
// access denied) ends the export with one error instead of one per file.
func TestExportStopsOnAccessDenied(t *testing.T) {
	f := newFixture(t, lfsSet)
	f.srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			return false
		}
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>no</Message></Error>`)
		return true
	})
	out := t.TempDir()
	res, err := export.Run(context.Background(), f.opener(t), export.Options{Repo: f.repo, Out: out})
	if err == nil || !errors.Is(err, fs.ErrPermission) || errors.Is(err, export.ErrUsage) {
		t.Fatalf("Run = %v, %v; want an access-denied error", res, err)
	}
	if _, err := os.Stat(filepath.Join(out, ".datalfs-export")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("temp dir left behind: %v", err)
	}
}

// TestExportRefusesConcurrentRun: a second export into the same directory
// while one runs is refused, and leaves the first one's temp dir alone.
func TestExportRefusesConcurrentRun(t *testing.T) {
	f := newFixture(t, lfsSet)
	out := t.TempDir()
	entered, release := make(chan struct{}), make(chan struct{})
	f.srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodGet {
			select {
			case entered <- struct{}{}:
				<-release
			default:
			}
		}
		return false
	})
	done := make(chan error, 1)
	go func() {
		_, err := export.Run(context.Background(), f.opener(t), export.Options{Repo: f.repo, Out: out, Jobs: 1})
		done <- err
	}()
	<-entered // the first export is downloading
	_, err := export.Run(context.Background(), f.opener(t), export.Options{Repo: f.repo, Out: out})
	if err == nil || !strings.Contains(err.Error(), "another datalfs export") {
		t.Errorf("second Run = %v, want it refused", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("first Run: %v", err)
	}
	diffFiles(t, files(t, out), f.wantAll())
}

func TestLFSURLPrecedence(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	head := git(t, f.repo, "rev-parse", "HEAD")
	if got, err := export.LFSURL(ctx, f.repo, head); err != nil || got != f.srv.URL+"/bucket/repo" {
		t.Errorf("LFSURL from .lfsconfig = %q, %v; want %q", got, err, f.srv.URL+"/bucket/repo")
	}
	// The commit's .lfsconfig counts, not the working tree's.
	git(t, f.repo, "config", "-f", ".lfsconfig", "lfs.url", "http://127.0.0.1:1/elsewhere/x")
	if got, _ := export.LFSURL(ctx, f.repo, head); got != f.srv.URL+"/bucket/repo" {
		t.Errorf("LFSURL = %q, want the committed .lfsconfig's", got)
	}
	// git config wins over .lfsconfig, as in git-lfs.
	git(t, f.repo, "config", "lfs.url", "http://127.0.0.1:2/mine/y")
	if got, _ := export.LFSURL(ctx, f.repo, head); got != "http://127.0.0.1:2/mine/y" {
		t.Errorf("LFSURL = %q, want git config's", got)
	}
}

// TestExportShortObject: an object shorter in the bucket than its pointer
// says is that file's problem, not the end of the export.
func TestExportShortObject(t *testing.T) {
	f := newFixture(t, lfsSet)
	oid := f.oids["data/small.bin"]
	f.srv.Put(t, "bucket", "repo/lfs/objects/"+oid[:2]+"/"+oid[2:4]+"/"+oid, f.want["data/small.bin"][:100])
	out := t.TempDir()
	res := f.run(t, export.Options{Out: out})
	if len(res.Problems) != 1 || !strings.Contains(res.Problems[0].Error(), "data/small.bin") || !strings.Contains(res.Problems[0].Error(), "corrupt") {
		t.Fatalf("problems = %v, want data/small.bin corrupt", res.Problems)
	}
	want := f.wantAll()
	delete(want, "data/small.bin")
	diffFiles(t, files(t, out), want)
}
