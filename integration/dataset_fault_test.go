package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	fp "github.com/datalfs/datalfs/integration/faultproxy"
)

// TestDatasetFetchFaults drives `datalfs manifest fetch` through the fault
// proxy: bodies cut short once are fetched again and the tree is exact; a
// byte damaged in transit is fetched once more instead of being reported
// as a changed asset; a body that stalls on every attempt fails the run
// with a message naming the asset and what to do, in bounded time, with no
// temp file and no half-written asset; and the next run completes the tree.
func TestDatasetFetchFaults(t *testing.T) {
	e := newFaultEnv(t)
	const n, size = 12, 100 << 10
	want := map[string][]byte{}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := range n {
		name := fmt.Sprintf("%02d.bin", i)
		want[name] = []byte(rand.Text() + strings.Repeat(name, size/len(name)))
		if err := e.h.putObject(ctx, e.bucket, "assets/"+name, want[name]); err != nil {
			t.Fatal(err)
		}
	}
	e.must("", "git", "init", "-q", "repo")
	e.must("repo", "git", "config", "-f", ".lfsconfig", "lfs.url", e.lfsURL)
	if err := os.WriteFile(e.path("repo/.gitattributes"), []byte("*.jsonl manifest-id=/id manifest-ref=/source-ref\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.must("repo", "datalfs", "manifest", "build", "-o", "data.jsonl", "s3://"+e.bucket+"/assets")
	e.must("repo", "git", "add", ".")
	e.must("repo", "git", "commit", "-q", "-m", "dataset")

	assets := regexp.MustCompile(`/assets/[0-9]{2}\.bin$`)
	// Every body cut short on its first try, one damaged in transit.
	e.proxy.SetRules(
		fp.Rule{Method: "GET", Path: regexp.MustCompile(`/assets/05\.bin$`), First: 1, Fault: fp.FlipResponseAt(5000)},
		fp.Rule{Method: "GET", Path: assets, PerKey: true, First: 1, Fault: fp.TruncateAfter(10 << 10)},
	)
	out := e.must("repo", "datalfs", "manifest", "fetch", "-o", "../out1")
	if !strings.Contains(out, fmt.Sprintf("%d fetched", n)) {
		t.Errorf("fetch through faults did not fetch all %d assets:\n%s", n, out)
	}
	// One cut per asset, and the flip: 05.bin's first body is damaged, its
	// second cut short, its third whole.
	if got := e.proxy.Applied(); got != n+1 {
		t.Errorf("%d faults applied, want %d", got, n+1)
	}
	checkTree(t, e.path("out1"), want)

	// A body that stalls on every attempt: the run fails in bounded time.
	e.proxy.SetRules(fp.Rule{Method: "GET", Path: regexp.MustCompile(`/assets/03\.bin$`), Fault: fp.StallBodyAfter(1<<10, 30*time.Second)})
	start := time.Now()
	out, err := e.run("repo", "datalfs", "manifest", "fetch", "-o", "../out2")
	if err == nil {
		t.Fatalf("fetch with a stalled asset succeeded:\n%s", out)
	}
	if took := time.Since(start); took > 25*time.Second {
		t.Errorf("fetch with a stalled asset took %v: idle timeout and attempts should bound it", took)
	}
	for _, s := range []string{"s3://" + e.bucket + "/assets/03.bin", "the connection kept failing after " + faultAttempts + " attempts", "run the command again"} {
		if !strings.Contains(out, s) {
			t.Errorf("the error does not say %q:\n%s", s, out)
		}
	}
	if _, err := os.Stat(e.path("out2/03.bin")); !os.IsNotExist(err) {
		t.Errorf("the stalled asset was written (stat: %v)", err)
	}
	partial := checkNoTemp(t, e.path("out2"), want)

	// Faults over: the next run fetches what is missing and keeps the rest.
	e.proxy.SetRules()
	out = e.must("repo", "datalfs", "manifest", "fetch", "-o", "../out2")
	if wantLine := fmt.Sprintf("%d fetched", n-partial); !strings.Contains(out, wantLine) {
		t.Errorf("the second run does not say %q (%d assets were already there):\n%s", wantLine, partial, out)
	}
	checkTree(t, e.path("out2"), want)
}

// checkTree fails unless dir holds exactly the files of want.
func checkTree(t *testing.T, dir string, want map[string][]byte) {
	t.Helper()
	complete := checkNoTemp(t, dir, want)
	if complete != len(want) {
		t.Errorf("%s holds %d of the %d assets", dir, complete, len(want))
	}
}

// checkNoTemp fails if dir holds a file that is not one of want's, byte for
// byte (a temp file, a half-written asset), and returns how many it holds.
func checkNoTemp(t *testing.T, dir string, want map[string][]byte) int {
	t.Helper()
	files, err := treeFiles(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	for name, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if w, ok := want[name]; !ok || !bytes.Equal(b, w) {
			t.Errorf("%s is left in %s and is not a complete asset", name, dir)
		}
	}
	return len(files)
}

// TestStalledListingRetried: a listing whose XML body stops midway is not
// waited on forever. The body's watchdog closes it after the idle timeout,
// the SDK asks again, and `manifest build` writes every record.
func TestStalledListingRetried(t *testing.T) {
	e := newFaultEnv(t)
	const n = 30
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := range n {
		if err := e.h.putObject(ctx, e.bucket, fmt.Sprintf("assets/%02d.bin", i), []byte(rand.Text())); err != nil {
			t.Fatal(err)
		}
	}
	e.must("", "git", "init", "-q", "repo")
	e.must("repo", "git", "config", "-f", ".lfsconfig", "lfs.url", e.lfsURL)
	e.proxy.SetRules(fp.Rule{Method: "GET", Query: []string{"list-type=2"}, First: 1, Fault: fp.StallBodyAfter(200, 30*time.Second)})
	start := time.Now()
	e.must("repo", "datalfs", "manifest", "build", "-o", "data.jsonl", "s3://"+e.bucket+"/assets")
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("build over a stalled listing took %v, want the idle timeout (%s) and a retry", took, faultIdle)
	}
	if applied := e.proxy.Applied(); applied != 1 {
		t.Errorf("the stall was applied %d times, want 1", applied)
	}
	b, err := os.ReadFile(e.path("repo/data.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if got := bytes.Count(b, []byte("\n")); got != n {
		t.Errorf("build wrote %d records, want %d", got, n)
	}
}
