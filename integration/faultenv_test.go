package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/datalfs/datalfs/integration/faultproxy"
	"github.com/datalfs/datalfs/integration/internal/s3test"
)

// The fault tests drive real git, git-lfs and the agent through a
// faultproxy in front of the shared gateway. Every command runs with a
// deadline well under the suite's budget, so an agent that hangs fails the
// test instead of stalling CI.
const (
	cmdTimeout = 60 * time.Second
	// faultAttempts and faultIdle make faults resolve fast: the agent tries
	// each request faultAttempts times and gives up on bytes that stop
	// moving for faultIdle.
	faultAttempts = "3"
	faultIdle     = "2s"
	// markerVar carries a per-test random value into every process the test
	// starts, so that the kill tests find their own agents in /proc and
	// nobody else's.
	markerVar = "DATALFS_FAULT_TEST"
)

// faultEnv is one fault test's world: a bucket of its own, a proxy in front
// of the shared gateway, a sealed HOME, and a record of everything every
// command printed (checked for the secret key when the test ends).
type faultEnv struct {
	t      *testing.T
	h      *harness
	dir    string
	bucket string
	proxy  *faultproxy.Proxy
	lfsURL string // PROXY/BUCKET/repo
	marker string
	vars   []string

	mu     sync.Mutex
	output []string // every command's combined output
}

// newFaultEnv makes a fault test's world. extra holds NAME=VALUE settings
// added to (or replacing) the environment of every command.
func newFaultEnv(t *testing.T, extra ...string) *faultEnv {
	t.Helper()
	h := requireHarness(t)
	e := &faultEnv{t: t, h: h, dir: t.TempDir(), marker: rand.Text()}
	e.bucket = h.bucketName(t.Name())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s3test.CreateBucket(ctx, h.s3, e.bucket, false); err != nil {
		t.Fatal(err)
	}
	p, err := faultproxy.Start(h.gw.endpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	e.proxy = p
	e.lfsURL = p.URL() + "/" + e.bucket + "/repo"
	home := filepath.Join(e.dir, "home")
	if err := os.Mkdir(home, 0o755); err != nil {
		t.Fatal(err)
	}
	vars := h.sealedEnv(h.current, home)
	for k, v := range map[string]string{
		"AWS_CONFIG_FILE":             filepath.Join(home, "no-aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(home, "no-aws-credentials"),
		"DATALFS_MAX_ATTEMPTS":        faultAttempts,
		"DATALFS_IDLE_TIMEOUT":        faultIdle,
		markerVar:                     e.marker,
		// Every trace git and git-lfs have: the secret must not show
		// up in any of them, under faults too.
		"GIT_TRACE":          "1",
		"GIT_TRANSFER_TRACE": "1",
		"GIT_CURL_VERBOSE":   "1",
	} {
		vars[k] = v
	}
	for _, kv := range extra {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	for k, v := range vars {
		e.vars = append(e.vars, k+"="+v)
	}
	sort.Strings(e.vars)
	for _, args := range homeGitSetup {
		e.must(home, "git", args...)
	}
	t.Cleanup(e.checkNoSecret)
	return e
}

// run runs name with args in dir (relative to the test's dir) under the
// test's environment and the command deadline, and returns its combined
// output, which it also keeps for the secret check.
func (e *faultEnv) run(dir, name string, args ...string) (string, error) {
	return e.runEnv(dir, nil, name, args...)
}

// runEnv is run with extra NAME=VALUE settings.
func (e *faultEnv) runEnv(dir string, extra []string, name string, args ...string) (string, error) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	bin := name
	if name == "datalfs" {
		bin = e.h.datalfs // exec looks names up in our PATH, not the command's
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = e.path(dir)
	cmd.Env = append(append([]string(nil), e.vars...), extra...)
	cmd.WaitDelay = 5 * time.Second // a child holding the pipes must not hang the test
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	e.mu.Lock()
	e.output = append(e.output, out.String())
	e.mu.Unlock()
	if ctx.Err() != nil {
		e.t.Fatalf("%s %s in %s did not finish within %v: the agent hangs\n%s", name, strings.Join(args, " "), dir, cmdTimeout, tail(out.String(), 60))
	}
	e.t.Logf("%s %s (in %s): %v after %.1fs", name, strings.Join(args, " "), dir, errOrOK(err), time.Since(start).Seconds())
	return out.String(), err
}

func errOrOK(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

// must runs a command that has to succeed.
func (e *faultEnv) must(dir, name string, args ...string) string {
	e.t.Helper()
	out, err := e.run(dir, name, args...)
	if err != nil {
		e.t.Fatalf("%s %s in %s: %v\n%s", name, strings.Join(args, " "), dir, err, tail(out, 80))
	}
	return out
}

// path returns p relative to the test's dir (or p itself when absolute).
func (e *faultEnv) path(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(e.dir, p)
}

// source creates a repository "src" whose LFS URL is the proxy's, with the
// agent installed, *.bin tracked, and the given files (name -> size, content
// from the name) committed, and a bare remote "remote.git" as origin. It
// returns the source's file contents.
func (e *faultEnv) source(files map[string]int64) map[string][]byte {
	e.t.Helper()
	e.must("", "git", "init", "-q", "--bare", "remote.git")
	e.must("", "git", "init", "-q", "src")
	e.must("src", "git", "config", "-f", ".lfsconfig", "lfs.url", e.lfsURL)
	e.must("src", "datalfs", "install")
	e.must("src", "git", "lfs", "track", "*.bin")
	contents := map[string][]byte{}
	for name, size := range files {
		p := filepath.Join(e.dir, "src", name)
		if err := writeRandomFile(p, size, e.t.Name()+"/"+name); err != nil {
			e.t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			e.t.Fatal(err)
		}
		contents[name] = b
	}
	e.must("src", "git", "add", ".")
	e.must("src", "git", "commit", "-q", "-m", "data")
	e.must("src", "git", "remote", "add", "origin", filepath.Join(e.dir, "remote.git"))
	return contents
}

// publish pushes the source's commit and LFS objects with no faults set.
func (e *faultEnv) publish() {
	e.t.Helper()
	e.must("src", "git", "push", "-q", "origin", "main")
	e.proxy.ClearEvents()
}

// clone makes a clone named name of the remote without LFS content, with
// the agent installed, ready for `git lfs pull`.
func (e *faultEnv) clone(name string) {
	e.t.Helper()
	if out, err := e.runEnv("", []string{"GIT_LFS_SKIP_SMUDGE=1"}, "git", "clone", "-q", "remote.git", name); err != nil {
		e.t.Fatalf("git clone: %v\n%s", err, tail(out, 80))
	}
	e.must(name, "datalfs", "install")
}

// oidOf returns the LFS oid of content.
func oidOf(content []byte) string {
	s := sha256.Sum256(content)
	return hex.EncodeToString(s[:])
}

// keyOf returns the bucket key of content under the test's prefix.
func keyOf(content []byte) string {
	oid := oidOf(content)
	return path.Join("repo/lfs/objects", oid[0:2], oid[2:4], oid)
}

// bucketObject returns the bytes stored under key, or nil when there is
// no such object.
func (e *faultEnv) bucketObject(key string) []byte {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := e.h.getObject(ctx, e.bucket, key)
	if err != nil {
		var nf interface{ ErrorCode() string }
		if errors.As(err, &nf) && (nf.ErrorCode() == "NoSuchKey" || nf.ErrorCode() == "NotFound") {
			return nil
		}
		e.t.Fatal(err)
	}
	return b
}

// checkBucket asserts that every object in the bucket holds exactly the
// bytes its oid names: no wrong bytes ever reach a final key.
func (e *faultEnv) checkBucket() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	objs, err := s3test.List(ctx, e.h.s3, e.bucket, "")
	if err != nil {
		e.t.Fatal(err)
	}
	for _, o := range objs {
		b, err := e.h.getObject(ctx, e.bucket, o.Key)
		if err != nil {
			e.t.Fatal(err)
		}
		if oidOf(b) != path.Base(o.Key) {
			e.t.Errorf("s3://%s/%s holds %d bytes with sha256 %s: wrong bytes under an object key", e.bucket, o.Key, len(b), oidOf(b))
		}
	}
}

// pendingUploads returns the keys of the bucket's unfinished multipart uploads.
func (e *faultEnv) pendingUploads() []string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := e.h.s3.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &e.bucket})
	if err != nil {
		e.t.Fatal(err)
	}
	var keys []string
	for _, u := range out.Uploads {
		keys = append(keys, aws.ToString(u.Key))
	}
	return keys
}

// logPending logs every unfinished multipart upload with its parts.
func (e *faultEnv) logPending() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := e.h.s3.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &e.bucket})
	if err != nil {
		e.t.Logf("list uploads: %v", err)
		return
	}
	for _, u := range out.Uploads {
		var parts []string
		lp, err := e.h.s3.ListParts(ctx, &s3.ListPartsInput{Bucket: &e.bucket, Key: u.Key, UploadId: u.UploadId})
		if err == nil {
			for _, p := range lp.Parts {
				parts = append(parts, fmt.Sprintf("%d (%d bytes, %v)", aws.ToInt32(p.PartNumber), aws.ToInt64(p.Size), aws.ToTime(p.LastModified).Format(time.StampMilli)))
			}
		}
		e.t.Logf("unfinished upload %s of %s, started %v: parts %v (%v)", aws.ToString(u.UploadId), aws.ToString(u.Key),
			aws.ToTime(u.Initiated).Format(time.StampMilli), parts, err)
	}
}

// lfsDir returns the LFS directory of the repository in dir (its git common
// dir's lfs, or lfs.storage when set).
func (e *faultEnv) lfsDir(repo string) string {
	e.t.Helper()
	out, err := exec.Command("git", "-C", e.path(repo), "config", "lfs.storage").Output()
	if err == nil && strings.TrimSpace(string(out)) != "" {
		return strings.TrimSpace(string(out))
	}
	return filepath.Join(e.path(repo), ".git", "lfs")
}

// checkLocal asserts what must hold in a repository after any transfer,
// failed or not: every file in lfs/objects hashes to its name, and lfs/tmp
// holds no file of the agent (*.datalfs, *.done). It returns the oids in
// lfs/objects.
func (e *faultEnv) checkLocal(repo string, partialOK bool, oid string) map[string]bool {
	e.t.Helper()
	dir := e.lfsDir(repo)
	oids := map[string]bool{}
	err := filepath.WalkDir(filepath.Join(dir, "objects"), func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil || d.IsDir() {
			return err
		}
		ok, err := hashesTo(p, d.Name())
		if err != nil {
			return err
		}
		if !ok {
			e.t.Errorf("%s does not hash to its name: wrong bytes in the LFS store", p)
		}
		oids[d.Name()] = true
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	temps := e.agentTemps(repo)
	if partialOK {
		// A download that failed on the network keeps its verified part,
		// OID.datalfs and its sidecar OID.datalfs.done, and nothing else.
		want := []string{oid + ".datalfs", oid + ".datalfs.done"}
		var got []string
		for _, f := range temps {
			got = append(got, filepath.Base(f))
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			e.t.Errorf("after a failed download lfs/tmp holds %q, want %q", got, want)
		}
		return oids
	}
	for _, f := range temps {
		e.t.Errorf("agent temp file left behind: %s", f)
	}
	return oids
}

// agentTemps lists the agent's files in the repository's lfs/tmp.
func (e *faultEnv) agentTemps(repo string) []string {
	e.t.Helper()
	var found []string
	err := filepath.WalkDir(filepath.Join(e.lfsDir(repo), "tmp"), func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".datalfs") || strings.HasSuffix(p, ".done")) {
			found = append(found, p)
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return found
}

// checkWorktree asserts that the files in repo have the source's content.
func (e *faultEnv) checkWorktree(repo string, want map[string][]byte) {
	e.t.Helper()
	for name, content := range want {
		got, err := os.ReadFile(filepath.Join(e.path(repo), name))
		if err != nil {
			e.t.Fatal(err)
		}
		if !bytes.Equal(got, content) {
			e.t.Errorf("%s/%s: %d bytes differ from the source's %d", repo, name, len(got), len(content))
		}
	}
}

// checkNoSecret asserts that no command printed the secret key.
func (e *faultEnv) checkNoSecret() {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, out := range e.output {
		n += len(out)
		if strings.Contains(out, e.h.secretKey) {
			e.t.Errorf("the secret key appears in a command's output:\n%s", tail(out, 40))
		}
	}
	e.t.Logf("secret key absent from %d commands' output (%d bytes, traces on)", len(e.output), n)
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("[... %d lines]", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// userLines drops the trace lines (which start with a time stamp) from a
// command's output: what is left is what a user without traces sees.
func userLines(out string) string {
	var b strings.Builder
	for _, l := range strings.Split(out, "\n") {
		if traceLine(l) {
			continue
		}
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}

// traceLine reports whether l is a GIT_TRACE line: "HH:MM:SS.micros ...".
func traceLine(l string) bool {
	if len(l) < 9 || l[2] != ':' || l[5] != ':' {
		return false
	}
	_, err1 := strconv.Atoi(l[0:2])
	_, err2 := strconv.Atoi(l[3:5])
	return err1 == nil && err2 == nil
}
