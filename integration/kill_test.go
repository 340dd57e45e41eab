//go:build linux

package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	fp "github.com/datalfs/datalfs/integration/faultproxy"
)

// asyncCmd is a command started in the background.
type asyncCmd struct {
	cmd  *exec.Cmd
	out  bytes.Buffer
	done chan struct{}
	err  error
}

// start starts a command in its own process group and returns at once. The
// command is killed when it outlives cmdTimeout.
func (e *faultEnv) start(dir string, extra []string, name string, args ...string) *asyncCmd {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	a := &asyncCmd{done: make(chan struct{})}
	a.cmd = exec.CommandContext(ctx, name, args...)
	a.cmd.Dir = e.path(dir)
	a.cmd.Env = append(append([]string(nil), e.vars...), extra...)
	a.cmd.Stdout, a.cmd.Stderr = &a.out, &a.out
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	a.cmd.Cancel = func() error { return syscall.Kill(-a.cmd.Process.Pid, syscall.SIGKILL) }
	a.cmd.WaitDelay = 5 * time.Second
	if err := a.cmd.Start(); err != nil {
		cancel()
		e.t.Fatal(err)
	}
	go func() {
		defer cancel()
		a.err = a.cmd.Wait()
		if ctx.Err() != nil {
			a.err = fmt.Errorf("did not finish within %v: %w", cmdTimeout, a.err)
		}
		close(a.done)
	}()
	e.t.Cleanup(func() {
		select {
		case <-a.done:
		default:
			_ = syscall.Kill(-a.cmd.Process.Pid, syscall.SIGKILL)
			<-a.done
		}
	})
	return a
}

// wait waits for the command and returns its output and error; the output
// joins the test's record for the secret check.
func (e *faultEnv) wait(a *asyncCmd) (string, error) {
	<-a.done
	e.mu.Lock()
	e.output = append(e.output, a.out.String())
	e.mu.Unlock()
	return a.out.String(), a.err
}

// waitUntil polls cond until it holds or 30 s pass.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// agents returns the pids of the running `datalfs transfer` processes that
// this test started (their environment carries the test's marker).
func (e *faultEnv) agents() []int {
	e.t.Helper()
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		e.t.Fatalf("list /proc: %v", err)
	}
	var pids []int
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		cmdline, err1 := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline"))
		environ, err2 := os.ReadFile(filepath.Join("/proc", d.Name(), "environ"))
		if err1 != nil || err2 != nil {
			continue // gone, or not ours to read
		}
		argv := strings.Split(string(cmdline), "\x00")
		if len(argv) < 2 || filepath.Base(argv[0]) != "datalfs" || argv[1] != "transfer" {
			continue
		}
		if bytes.Contains(append([]byte{0}, environ...), []byte("\x00"+markerVar+"="+e.marker+"\x00")) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// killAgents sends SIGKILL to the test's agents and returns how many.
func (e *faultEnv) killAgents() int {
	e.t.Helper()
	pids := e.agents()
	if len(pids) == 0 {
		e.t.Fatal("no `datalfs transfer` process of this test to kill")
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			e.t.Fatalf("kill %d: %v", pid, err)
		}
	}
	return len(pids)
}

// TestKillDuringDownload kills a pull while an object's bytes are coming
// in (a proxy stall holds the download in flight): either the agents with
// SIGKILL, or git's whole process group. The killed run's temp file has
// mode 0600 while in flight. Repeating the pull completes with the right
// bytes and removes or takes over the killed run's temp file: a file whose
// sidecar vouches for a prefix is resumed from there (the proxy sees a
// ranged GET and sends only the rest); one without is deleted.
func TestKillDuringDownload(t *testing.T) {
	requireHarness(t)
	cases := []struct {
		name     string
		size     int64
		stallAt  int64
		killAll  bool // kill git's process group instead of the agents
		resumed  bool // the repeated run resumes from the sidecar
		minResum int64
	}{
		// 12 MiB in: the sidecar vouches for at least 8 MiB.
		{name: "agent-20MiB", size: 20 << 20, stallAt: 12 << 20, resumed: true, minResum: 8 << 20},
		// 512 KiB in: no sidecar yet, so the repeat starts over.
		{name: "git-group-1MiB", size: 1 << 20, stallAt: 512 << 10, killAll: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newFaultEnv(t, "DATALFS_IDLE_TIMEOUT=60s") // the stall must hold the agent
			contents := e.source(map[string]int64{"data.bin": c.size})
			oid := oidOf(contents["data.bin"])
			e.publish()
			e.clone("dst")
			e.proxy.SetRules(fp.Rule{Method: "GET", Path: fp.ObjectKeys, Fault: fp.StallBodyAfter(c.stallAt, 50*time.Second)})

			pull := e.start("dst", nil, "git", "lfs", "pull")
			waitUntil(t, "the download to stall", func() bool { return e.proxy.Stalled() == 1 })
			var temp string
			waitUntil(t, "the temp file to reach the stall", func() bool {
				temps := e.agentTemps("dst")
				for _, p := range temps {
					if fi, err := os.Stat(p); err == nil && strings.HasSuffix(p, ".datalfs") && fi.Size() >= c.stallAt {
						temp = p
						return true
					}
				}
				return false
			})
			fi, err := os.Stat(temp)
			if err != nil {
				t.Fatal(err)
			}
			if perm := fi.Mode().Perm(); perm != 0o600 {
				t.Errorf("temp file %s in flight has mode %v, want 0600", temp, perm)
			}
			sidecar, _ := os.ReadFile(temp + ".done")
			vouched, _ := strconv.ParseInt(strings.TrimSpace(string(sidecar)), 10, 64)
			if c.resumed && vouched < c.minResum {
				t.Fatalf("sidecar of %s vouches for %d bytes, want at least %d", temp, vouched, c.minResum)
			}

			var killed string
			if c.killAll {
				if err := syscall.Kill(-pull.cmd.Process.Pid, syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				killed = "git's process group"
			} else {
				killed = fmt.Sprintf("%d agent processes", e.killAgents())
			}
			out, err := e.wait(pull)
			if err == nil {
				t.Fatalf("the killed pull succeeded:\n%s", tail(userLines(out), 20))
			}
			t.Logf("killed %s; the pull ended with %v: %s", killed, err, strings.TrimSpace(tail(userLines(out), 3)))
			if _, err := os.Stat(temp); err != nil {
				t.Logf("the killed run left no temp file (%v)", err)
			}

			// The stalled request ends when the proxy sees the connection
			// close; only then is its event recorded and can be cleared.
			waitUntil(t, "the proxy to finish the killed run's requests", func() bool { return e.proxy.Active() == 0 })
			e.proxy.SetRules()
			e.proxy.ClearEvents()
			e.must("dst", "git", "lfs", "pull")
			e.checkWorktree("dst", contents)
			if !e.checkLocal("dst", false, "")[oid] {
				t.Errorf("object %s is not in .git/lfs/objects after the repeated pull", oid)
			}
			if _, err := os.Stat(temp); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the killed run's temp file %s is still there after the repeated pull (%v)", temp, err)
			}
			gets := matching(e.proxy.Events(), getObject)
			if len(gets) != 1 {
				logEvents(t, e.proxy.Events())
				t.Fatalf("the repeated pull sent %d GETs, want 1", len(gets))
			}
			from, ranged := rangeStart(gets[0].Range)
			if c.resumed {
				if !ranged || from != vouched {
					t.Errorf("the repeated pull asked for Range %q, want bytes=%d- (what the sidecar vouched for)", gets[0].Range, vouched)
				}
				if gets[0].RespBytes != c.size-vouched {
					t.Errorf("the repeated pull received %d bytes, want the missing %d", gets[0].RespBytes, c.size-vouched)
				}
			} else if ranged && from != 0 {
				t.Errorf("the repeated pull resumed at byte %d without a sidecar", from)
			}
			t.Logf("outcome: killed %s with %d of %d bytes on disk (sidecar: %d); the repeat fetched %d bytes (Range %q), completed, temp file gone",
				killed, fi.Size(), c.size, vouched, gets[0].RespBytes, gets[0].Range)
		})
	}
}

// TestKillDuringMultipartUpload kills the agents of a push while a 20 MiB
// object goes up in 5 MiB parts, once parts 1 and 2 are stored and parts 3
// and 4 are held by a proxy stall. The unfinished upload stays in the
// bucket; the repeated push resumes it, sends only parts 3 and 4 (the
// proxy sees no second request for parts 1 and 2), completes it with the
// right bytes, and leaves no unfinished upload.
func TestKillDuringMultipartUpload(t *testing.T) {
	e := newFaultEnv(t, "DATALFS_MULTIPART_THRESHOLD=5MiB", "DATALFS_PART_SIZE=5MiB", "DATALFS_IDLE_TIMEOUT=60s")
	const size = 20 << 20
	contents := e.source(map[string]int64{"data.bin": size})
	content := contents["data.bin"]
	key := keyOf(content)
	stall := fp.StallBeforeHeaders(50 * time.Second)
	e.proxy.SetRules(
		fp.Rule{Method: "PUT", Path: fp.ObjectKeys, Query: []string{"uploadId", "partNumber=3"}, Fault: stall},
		fp.Rule{Method: "PUT", Path: fp.ObjectKeys, Query: []string{"uploadId", "partNumber=4"}, Fault: stall},
	)

	push := e.start("src", nil, "git", "push", "origin", "main")
	stored := func() map[string]bool {
		m := map[string]bool{}
		for _, ev := range matching(e.proxy.Events(), uploadPart) {
			if ev.Status == 200 {
				m[ev.Param("partNumber")] = true
			}
		}
		return m
	}
	waitUntil(t, "parts 1 and 2 stored and parts 3 and 4 stalled", func() bool {
		s := stored()
		return s["1"] && s["2"] && e.proxy.Stalled() == 2
	})
	n := e.killAgents()
	out, err := e.wait(push)
	if err == nil {
		t.Fatalf("the killed push succeeded:\n%s", tail(userLines(out), 20))
	}
	t.Logf("killed %d agents; the push ended with %v: %s", n, err, strings.TrimSpace(tail(userLines(out), 3)))
	if got := e.bucketObject(key); got != nil {
		t.Fatalf("the object is complete in the bucket after the kill (%d bytes)", len(got))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pending := e.pendingUploads()
	if len(pending) != 1 || pending[0] != key {
		t.Fatalf("unfinished uploads after the kill: %v, want one for %s", pending, key)
	}
	ups, err := e.h.s3.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &e.bucket})
	if err != nil {
		t.Fatal(err)
	}
	parts, err := e.h.s3.ListParts(ctx, &s3.ListPartsInput{Bucket: &e.bucket, Key: &key, UploadId: ups.Uploads[0].UploadId})
	if err != nil {
		t.Fatal(err)
	}
	var have []int32
	for _, p := range parts.Parts {
		have = append(have, aws.ToInt32(p.PartNumber))
	}
	t.Logf("the bucket holds parts %v of the unfinished upload", have)

	waitUntil(t, "the proxy to finish the killed run's requests", func() bool { return e.proxy.Active() == 0 })
	e.proxy.SetRules()
	e.proxy.ClearEvents()
	e.must("src", "git", "push", "origin", "main")
	events := e.proxy.Events()
	sent := map[string]int64{}
	for _, ev := range matching(events, uploadPart) {
		sent[ev.Param("partNumber")] += ev.UpBytes
	}
	for _, p := range []string{"1", "2"} {
		if sent[p] != 0 {
			t.Errorf("the repeated push sent part %s again (%d bytes)", p, sent[p])
		}
	}
	for _, p := range []string{"3", "4"} {
		if sent[p] != 5<<20 {
			t.Errorf("the repeated push sent %d bytes of part %s, want %d", sent[p], p, 5<<20)
		}
	}
	if len(matching(events, fp.Rule{Method: "POST", Query: []string{"uploads"}})) != 0 {
		t.Errorf("the repeated push started a new multipart upload instead of resuming")
		logEvents(t, events)
	}
	if got := e.bucketObject(key); !bytes.Equal(got, content) {
		t.Errorf("s3://%s/%s holds %d bytes that differ from the source's %d", e.bucket, key, len(got), len(content))
	}
	if p := e.pendingUploads(); len(p) != 0 {
		t.Errorf("unfinished uploads after the repeated push: %v", p)
	}
	e.checkBucket()
	t.Logf("outcome: killed with parts %v stored; the repeat sent parts 3 and 4 only (%d + %d bytes) and completed", have, sent["3"], sent["4"])
}

// TestDiskFullDownload pulls a 2 MiB object into a repository whose LFS
// storage (lfs.storage) is a 1 MiB tmpfs. The pull fails with a message
// that names the object and says the disk is full, and leaves no temp file
// and nothing in lfs/objects. With space again, the pull completes.
func TestDiskFullDownload(t *testing.T) {
	e := newFaultEnv(t)
	contents := e.source(map[string]int64{"data.bin": 2 << 20})
	oid := oidOf(contents["data.bin"])
	e.publish()
	e.clone("dst")

	store := filepath.Join(e.dir, "lfs-store")
	if err := os.Mkdir(store, 0o755); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root; this test runs as uid " + strconv.Itoa(os.Geteuid()))
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", store).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a 1 MiB tmpfs here (%v: %s)", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", store).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", store, err, out)
		}
	})
	e.must("dst", "git", "config", "lfs.storage", store)

	start := time.Now()
	out, err := e.run("dst", "git", "lfs", "pull")
	took := time.Since(start)
	if err == nil {
		t.Fatalf("pull into a full disk succeeded:\n%s", tail(userLines(out), 20))
	}
	line := errorLine(userLines(out), oid)
	if !strings.Contains(line, "no space left on device") {
		t.Errorf("the error does not say the disk is full:\n%s", tail(userLines(out), 20))
	}
	if e.checkLocal("dst", false, "")[oid] {
		t.Errorf("object %s is in lfs/objects after a failed pull", oid)
	}
	var left []string
	_ = filepath.Walk(store, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			left = append(left, fmt.Sprintf("%s (%d bytes)", p, fi.Size()))
		}
		return nil
	})
	if len(left) > 0 {
		t.Errorf("files left on the full disk: %v", left)
	}
	t.Logf("outcome: failed after %.1fs with %q; no file left on the tmpfs", took.Seconds(), shortLine(line, oid, keyOf(contents["data.bin"])))

	e.must("dst", "git", "config", "--unset", "lfs.storage")
	e.must("dst", "git", "lfs", "pull")
	e.checkWorktree("dst", contents)
	e.checkLocal("dst", false, "")
}
