package doctor

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/datalfs/datalfs/gitrepo"
	"github.com/datalfs/datalfs/internal/mems3"
)

func constant(r Result) func(context.Context) Result {
	return func(context.Context) Result { return r }
}

func TestRunNeeds(t *testing.T) {
	var ranC atomic.Bool
	checks := []Check{
		{Name: "a", Run: constant(Result{Status: Pass, Message: "a ok"})},
		{Name: "b", Needs: []string{"a"}, Run: constant(Result{Status: Fail, Message: "b broken", Fix: "fix b"})},
		{Name: "c", Needs: []string{"b"}, Run: func(context.Context) Result { ranC.Store(true); return Result{Status: Pass} }},
		{Name: "d", Needs: []string{"c"}, Run: constant(Result{Status: Pass})},
		{Name: "e", Needs: []string{"a"}, Run: constant(Result{Status: Warn, Message: "e risky"})},
		{Name: "f", Needs: []string{"e"}, Run: constant(Result{Status: Pass, Message: "f ok"})},
	}
	got := Run(context.Background(), checks, time.Second)
	want := []Report{
		{"a", Result{Status: Pass, Message: "a ok"}},
		{"b", Result{Status: Fail, Message: "b broken", Fix: "fix b"}},
		{"c", Result{Status: Skip, Message: "not checked: needs b"}},
		{"d", Result{Status: Skip, Message: "not checked: needs c"}},
		{"e", Result{Status: Warn, Message: "e risky"}},
		{"f", Result{Status: Pass, Message: "f ok"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Run mismatch (-want +got):\n%s", diff)
	}
	if ranC.Load() {
		t.Error("a check whose need failed ran anyway")
	}
	if !Failed(got) {
		t.Error("Failed = false with a failing check")
	}
	if Failed(got[4:]) {
		t.Error("Failed = true with warnings only")
	}
}

func TestRunParallelAndTimeout(t *testing.T) {
	// Each of the three checks waits until all three have started, so they
	// pass only if Run starts them together; run one after another, the
	// first would wait out its deadline. No wall-clock bound is needed.
	var started sync.WaitGroup
	started.Add(3)
	together := func(ctx context.Context) Result {
		started.Done()
		all := make(chan struct{})
		go func() { started.Wait(); close(all) }()
		select {
		case <-all:
			return Result{Status: Pass}
		case <-ctx.Done():
			return Result{Status: Fail, Message: "deadline: " + ctx.Err().Error()}
		}
	}
	tooSlow := func(ctx context.Context) Result {
		<-ctx.Done()
		return Result{Status: Fail, Message: "deadline: " + ctx.Err().Error()}
	}
	hang := func(context.Context) Result { time.Sleep(time.Hour); return Result{} }
	checks := []Check{
		{Name: "slow1", Run: together},
		{Name: "slow2", Run: together},
		{Name: "slow3", Run: together},
		{Name: "too slow", Run: tooSlow},
	}
	got := Run(context.Background(), checks, time.Second)
	for _, r := range got[:3] {
		if r.Status != Pass {
			t.Errorf("%s = %+v, want PASS: independent checks should run in parallel", r.Name, r.Result)
		}
	}
	if got[3].Status != Fail || !strings.Contains(got[3].Message, "deadline") {
		t.Errorf("too slow = %+v, want FAIL at its deadline", got[3].Result)
	}

	// A check that ignores its context is abandoned after a grace period.
	start := time.Now()
	got = Run(context.Background(), []Check{{Name: "hang", Run: hang}}, 100*time.Millisecond)
	if took := time.Since(start); took > grace+time.Second {
		t.Errorf("Run with a hung check took %v", took)
	}
	if got[0].Status != Fail || !strings.Contains(got[0].Message, "no answer within 100ms") {
		t.Errorf("hang = %+v, want FAIL no answer", got[0].Result)
	}
}

func TestRunUnknownNeedPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Run with an unknown need did not panic")
		}
	}()
	Run(context.Background(), []Check{{Name: "a", Needs: []string{"nope"}, Run: constant(Result{})}}, time.Second)
}

func TestPrint(t *testing.T) {
	var b bytes.Buffer
	Print(&b, []Report{
		{"git", Result{Status: Pass, Message: "git version 2.39.5"}},
		{"bucket", Result{Status: Fail, Message: "gone", Fix: "create it\nor fix the URL"}},
		{"versioning", Result{Status: Skip, Message: "not checked: needs bucket"}},
	})
	want := "PASS  git         git version 2.39.5\n" +
		"FAIL  bucket      gone\n" +
		"                  fix: create it\n" +
		"                       or fix the URL\n" +
		"SKIP  versioning  not checked: needs bucket\n" +
		"1 failed, 0 warnings: push or pull will not work until the failures are fixed.\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("Print mismatch (-want +got):\n%s", diff)
	}
}

func TestUnsafeLFSConfigKeys(t *testing.T) {
	tests := []struct {
		keys []string
		want []string
	}{
		{[]string{"lfs.url", "lfs.pushurl", "lfs.fetchinclude", "lfs.locksverify"}, nil},
		{[]string{"remote.origin.lfsurl", "remote.my.fork.lfsurl", "lfs.https://h/b.access"}, nil},
		{[]string{"lfs.extension.foo.priority"}, nil},
		{[]string{"lfs.extension.foo.clean", "lfs.extension.foo.smudge"}, []string{"lfs.extension.foo.clean", "lfs.extension.foo.smudge"}},
		{[]string{"lfs.customtransfer.datalfs.path", "lfs.standalonetransferagent", "datalfs.region", "remote.origin.url", "lfs.url"},
			[]string{"lfs.customtransfer.datalfs.path", "lfs.standalonetransferagent", "datalfs.region", "remote.origin.url"}},
		{[]string{"lfs.http://h/b.standalonetransferagent"}, []string{"lfs.http://h/b.standalonetransferagent"}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, UnsafeLFSConfigKeys(tt.keys)); diff != "" {
			t.Errorf("UnsafeLFSConfigKeys(%q) mismatch (-want +got):\n%s", tt.keys, diff)
		}
	}
}

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in   string
		want [3]int
		ok   bool
	}{
		{"git version 2.39.5", [3]int{2, 39, 5}, true},
		{"git version 2.45.1.windows.1", [3]int{2, 45, 1}, true},
		{"git-lfs/3.8.1", [3]int{3, 8, 1}, true},
		{"git-lfs/2.13", [3]int{2, 13, 0}, true},
		{"nothing", [3]int{}, false},
	}
	for _, tt := range tests {
		got, ok := parseVersion(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseVersion(%q) = %v, %v, want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
	if !older([3]int{2, 13, 0}, minGitLFS) || older([3]int{3, 0, 0}, minGitLFS) || older([3]int{3, 8, 1}, testedGitLFS) {
		t.Error("older compares versions wrongly")
	}
}

// setupRepo makes a repository in a sealed git environment with the agent
// installed for lfsURL, and enters it.
func setupRepo(t *testing.T, lfsURL string) {
	t.Helper()
	home := t.TempDir()
	for k, v := range map[string]string{
		"HOME": home, "XDG_CONFIG_HOME": filepath.Join(home, ".config"), "GIT_CONFIG_NOSYSTEM": "1", "LC_ALL": "C",
	} {
		t.Setenv(k, v)
	}
	dir := t.TempDir()
	t.Chdir(dir)
	agent := filepath.Join(home, "datalfs")
	if err := os.WriteFile(agent, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"init", "-q"},
		{"config", "lfs.url", lfsURL},
		{"config", "lfs.customtransfer.datalfs.path", agent},
		{"config", "lfs.customtransfer.datalfs.args", "transfer"},
		{"config", "lfs." + lfsURL + ".standalonetransferagent", "datalfs"},
	} {
		if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// statuses returns the status of each named check.
func statuses(reports []Report, names ...string) map[string]string {
	m := map[string]string{}
	for _, r := range reports {
		for _, n := range names {
			if r.Name == n {
				m[n] = r.Status.String() + " " + r.Message
			}
		}
	}
	return m
}

func TestChecksAgainstMemS3(t *testing.T) {
	srv := mems3.Start(t, "bucket")
	setupRepo(t, srv.URL+"/bucket/repo")
	cfg := Config{Repo: gitrepo.Here(), Agent: "datalfs", WriteTest: true, Timeout: 5 * time.Second}
	reports := Run(context.Background(), Checks(cfg), cfg.Timeout)
	names := []string{CheckLFSURL, CheckAgent, CheckLFSConfig, CheckLocation, CheckCreds, CheckBucket, CheckMissingObj, CheckWrite, CheckChecksums, CheckVersioning}
	want := map[string]string{
		CheckLFSURL:     "PASS " + srv.URL + "/bucket/repo",
		CheckAgent:      "PASS " + os.Getenv("HOME") + "/datalfs, bound to the LFS URL",
		CheckLFSConfig:  "PASS none (the LFS URL comes from git config)",
		CheckLocation:   "PASS bucket bucket, prefix repo, region us-east-1, endpoint " + srv.URL,
		CheckCreds:      "PASS found, from EnvConfigCredentials",
		CheckBucket:     "PASS s3://bucket answers and the credentials may use it",
		CheckMissingObj: "PASS a missing object reads as missing, as the agent expects",
		CheckWrite:      "PASS wrote, read back and deleted a probe object under s3://bucket/repo/datalfs-doctor/",
		CheckChecksums:  `PASS the endpoint accepts the SDK's default CRC32 checksum headers; datalfs's "when required" setting for non-AWS endpoints is not needed here (and harmless)`,
		CheckVersioning: "WARN versioning is off: an object deleted by mistake (or by `datalfs gc`) cannot be recovered",
	}
	if diff := cmp.Diff(want, statuses(reports, names...)); diff != "" {
		var b bytes.Buffer
		Print(&b, reports)
		t.Errorf("checks mismatch (-want +got):\n%s\nfull report:\n%s", diff, b.String())
	}
	if keys := srv.Keys(t, "bucket", ""); len(keys) != 0 {
		t.Errorf("the write test left %q in the bucket", keys)
	}
}

func TestChecksBrokenBucket(t *testing.T) {
	srv := mems3.Start(t, "bucket")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	tests := []struct {
		name, url, want string
	}{
		{"missing bucket", srv.URL + "/nosuchbucket/repo", `FAIL bucket "nosuchbucket" does not exist at ` + srv.URL + ": create it, or fix the LFS URL (lfs.url in .lfsconfig)"},
		{"closed port", closed + "/bucket/repo", "FAIL cannot reach the S3 endpoint at " + closed + " to check bucket s3://bucket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setupRepo(t, tt.url)
			cfg := Config{Repo: gitrepo.Here(), Agent: "datalfs", WriteTest: true, Timeout: 5 * time.Second}
			start := time.Now()
			reports := Run(context.Background(), Checks(cfg), cfg.Timeout)
			if took := time.Since(start); took > 4*time.Second {
				t.Errorf("doctor took %v, want a quick answer", took)
			}
			got := statuses(reports, CheckBucket, CheckWrite, CheckVersioning)
			if !strings.HasPrefix(got[CheckBucket], tt.want) {
				t.Errorf("bucket check = %q, want it to start with %q", got[CheckBucket], tt.want)
			}
			for _, n := range []string{CheckWrite, CheckVersioning} {
				if got[n] != "SKIP not checked: needs bucket" {
					t.Errorf("%s = %q, want skipped", n, got[n])
				}
			}
			if !Failed(reports) {
				t.Error("Failed = false")
			}
		})
	}
}
