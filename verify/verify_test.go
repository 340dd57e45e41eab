package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/google/go-cmp/cmp"

	"github.com/datalfs/datalfs/internal/mems3"
	"github.com/datalfs/datalfs/lfsscan"
	"github.com/datalfs/datalfs/s3store"
	"github.com/datalfs/datalfs/transfer"
	"github.com/datalfs/datalfs/transfer/storetest"
)

func newStore(t *testing.T) (*s3store.Store, *mems3.Server) {
	t.Helper()
	srv := mems3.Start(t, "bucket")
	return storeAt(t, srv.URL+"/bucket/repo"), srv
}

// storeAt returns a store for rawURL that tries each request once.
func storeAt(t *testing.T, rawURL string) *s3store.Store {
	t.Helper()
	loc, err := s3store.ParseURL(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	opts := s3store.DefaultOptions()
	opts.MaxAttempts = 1
	s, err := s3store.New(context.Background(), loc, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type object struct {
	data []byte
	ptr  lfsscan.Pointer
}

func newObject(size int64, seed uint64, path string) object {
	data, oid := storetest.Object(size, seed)
	return object{data, lfsscan.Pointer{Oid: oid, Size: size, Path: path, Blob: fmt.Sprintf("blob-%d", seed)}}
}

func upload(t *testing.T, s *s3store.Store, o object) {
	t.Helper()
	if err := s.Upload(context.Background(), o.ptr.Oid, o.ptr.Size, strings.NewReader(string(o.data)), func(int64) {}); err != nil {
		t.Fatal(err)
	}
}

type outcome struct {
	Path  string
	State State
	Size  int64
}

func outcomes(rs []Result) []outcome {
	var out []outcome
	for _, r := range rs {
		out = append(out, outcome{r.Path, r.State, r.Stored.Size})
	}
	return out
}

func TestCheck(t *testing.T) {
	ctx := context.Background()
	s, srv := newStore(t)
	present := newObject(100, 1, "present.bin")
	missing := newObject(200, 2, "missing.bin")
	short := newObject(300, 3, "short.bin")
	upload(t, s, present)
	srv.Put(t, "bucket", s.Location().Key(short.ptr.Oid), short.data[:10])

	var calls []int
	sum, err := Check(ctx, s, []lfsscan.Pointer{short.ptr, present.ptr, missing.ptr}, 2, func(done, total int) {
		if total != 3 {
			t.Errorf("progress total = %d, want 3", total)
		}
		calls = append(calls, done)
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []outcome{{"missing.bin", Missing, 0}, {"short.bin", WrongSize, 10}}
	if diff := cmp.Diff(want, outcomes(sum.Problems)); diff != "" {
		t.Errorf("Check problems mismatch (-want +got):\n%s", diff)
	}
	if sum.Checked != 3 || sum.Present != 1 {
		t.Errorf("Check = %d checked, %d present, want 3 and 1", sum.Checked, sum.Present)
	}
	if diff := cmp.Diff([]int{1, 2, 3}, calls); diff != "" {
		t.Errorf("progress calls mismatch (-want +got):\n%s", diff)
	}

	empty, err := Check(ctx, s, nil, 16, nil)
	if err != nil || empty.Checked != 0 || len(empty.Problems) != 0 {
		t.Errorf("Check(no pointers) = %+v, %v, want nothing", empty, err)
	}
}

// inFlight counts the calls in progress and the most there ever were.
type inFlight struct {
	now, peak atomic.Int32
}

// enter counts a call in and returns the function that counts it out.
func (c *inFlight) enter() (leave func()) {
	n := c.now.Add(1)
	for {
		m := c.peak.Load()
		if n <= m || c.peak.CompareAndSwap(m, n) {
			break
		}
	}
	return func() { c.now.Add(-1) }
}

// fakeBucket answers Head from a map and counts requests in flight. hold,
// when set, runs inside every Head and its error, if any, is returned.
type fakeBucket struct {
	inFlight
	objects map[string]s3store.ObjectInfo
	err     error
	hold    func(ctx context.Context) error
	calls   atomic.Int32
}

func (f *fakeBucket) Head(ctx context.Context, oid string) (s3store.ObjectInfo, error) {
	f.calls.Add(1)
	defer f.enter()()
	if f.hold != nil {
		if err := f.hold(ctx); err != nil {
			return s3store.ObjectInfo{}, err
		}
	}
	if f.err != nil {
		return s3store.ObjectInfo{}, f.err
	}
	info, ok := f.objects[oid]
	if !ok {
		return s3store.ObjectInfo{}, fmt.Errorf("object %s: %w", oid, fs.ErrNotExist)
	}
	return info, nil
}

// gate holds every call until the test lets one through with a send on the
// channel, or the call's context ends.
func gate(release chan struct{}) func(context.Context) error {
	return func(ctx context.Context) error {
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func TestCheckChecksums(t *testing.T) {
	good, bad, none := newObject(10, 1, "good"), newObject(10, 2, "bad"), newObject(10, 3, "none")
	b := &fakeBucket{objects: map[string]s3store.ObjectInfo{
		good.ptr.Oid: {Size: 10, SHA256: good.ptr.Oid},
		bad.ptr.Oid:  {Size: 10, SHA256: none.ptr.Oid},
		none.ptr.Oid: {Size: 10},
	}}
	sum, err := Check(context.Background(), b, []lfsscan.Pointer{good.ptr, bad.ptr, none.ptr}, 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]outcome{{"bad", BadChecksum, 10}}, outcomes(sum.Problems)); diff != "" {
		t.Errorf("Check problems mismatch (-want +got):\n%s", diff)
	}
	if sum.Present != 2 || sum.ChecksumVerified != 1 {
		t.Errorf("Check = %d present, %d with checksum, want 2 and 1", sum.Present, sum.ChecksumVerified)
	}
}

// admitOneByOne lets total calls held at a gate through one at a time, in a
// synctest bubble. Before each, it waits until every goroutine is blocked
// and checks that exactly jobs calls are in flight, or all that are left.
// When not, it reports it, lets everything through and returns false.
func admitOneByOne(t *testing.T, what string, total, jobs int, c *inFlight, release chan struct{}) bool {
	t.Helper()
	for finished := range total {
		synctest.Wait()
		if got, want := c.now.Load(), int32(min(jobs, total-finished)); got != want {
			t.Errorf("after %d %s finished, %d are in flight, want %d", finished, what, got, want)
			close(release) // let everything through, so that the bubble ends cleanly
			return false
		}
		release <- struct{}{}
	}
	return true
}

func TestCheckBoundsConcurrency(t *testing.T) {
	// Every request waits at a gate. synctest.Wait returns once every
	// goroutine is blocked, so at that moment the requests in flight are all
	// Check will ever start without one finishing: exactly 7 each time, until
	// fewer than 7 remain. No sleep, and no timing can make it pass or fail.
	synctest.Test(t, func(t *testing.T) {
		const total, jobs = 40, 7
		var ptrs []lfsscan.Pointer
		for i := range total {
			ptrs = append(ptrs, newObject(1, uint64(i), "").ptr)
		}
		release := make(chan struct{})
		b := &fakeBucket{hold: gate(release)}
		type result struct {
			sum Summary
			err error
		}
		done := make(chan result)
		go func() {
			sum, err := Check(context.Background(), b, ptrs, jobs, nil)
			done <- result{sum, err}
		}()
		if !admitOneByOne(t, "requests", total, jobs, &b.inFlight, release) {
			<-done
			return
		}
		r := <-done
		if r.err != nil {
			t.Fatal(r.err)
		}
		if len(r.sum.Problems) != total {
			t.Errorf("Check found %d missing, want %d", len(r.sum.Problems), total)
		}
		if got := b.peak.Load(); got != jobs {
			t.Errorf("requests in flight peaked at %d, want %d", got, jobs)
		}
	})
}

func TestCheckStopsAtFirstError(t *testing.T) {
	// All 4 workers' requests wait at a gate; then one fails and the others
	// wait for their context. Check returns only if the first error cancels
	// the requests in flight (otherwise the bubble deadlocks and synctest
	// fails the test), and no worker may start another request.
	synctest.Test(t, func(t *testing.T) {
		var ptrs []lfsscan.Pointer
		for i := range 100 {
			ptrs = append(ptrs, newObject(1, uint64(i), "").ptr)
		}
		denied := fmt.Errorf("access denied: %w", fs.ErrPermission)
		fail := make(chan struct{})
		b := &fakeBucket{hold: func(ctx context.Context) error {
			select {
			case <-fail:
				return denied
			case <-ctx.Done():
				return ctx.Err()
			}
		}}
		done := make(chan error)
		go func() {
			_, err := Check(context.Background(), b, ptrs, 4, nil)
			done <- err
		}()
		synctest.Wait()
		if n := b.now.Load(); n != 4 {
			t.Errorf("%d requests in flight, want 4", n)
			close(fail) // let everything through, so that the bubble ends cleanly
			<-done
			return
		}
		fail <- struct{}{}
		synctest.Wait()
		var err error
		select {
		case err = <-done:
		default:
			t.Error("Check still waits for its requests in flight after the first error: it did not cancel them")
			close(fail)
			err = <-done
		}
		if !errors.Is(err, fs.ErrPermission) {
			t.Errorf("Check error = %v, want the bucket's error", err)
		}
		if n := b.calls.Load(); n != 4 {
			t.Errorf("Check made %d requests, want 4 (one per worker, none after the error)", n)
		}
	})
}

func TestRepair(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	dir := t.TempDir()
	local := newObject(100, 1, "local.bin")
	absent := newObject(200, 2, "absent.bin")
	short := newObject(300, 3, "short.bin")
	damaged := newObject(400, 4, "damaged.bin")
	write := func(o object, data []byte) {
		p := LocalPath(dir, o.ptr.Oid)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(local, local.data)
	write(short, short.data[:5])
	bad := append([]byte{}, damaged.data...)
	bad[0] ^= 1
	write(damaged, bad)

	var problems []Result
	for _, o := range []object{local, absent, short, damaged} {
		problems = append(problems, Result{Pointer: o.ptr, State: Missing})
	}
	got := Repair(ctx, s, dir, problems, 2)
	type res struct {
		Path string
		Err  string
	}
	var summary []res
	for _, r := range got {
		e := ""
		switch {
		case r.Err == nil:
		case errors.Is(r.Err, fs.ErrNotExist):
			e = "no local copy"
		case strings.Contains(r.Err.Error(), "has 5 bytes, the pointer says 300"):
			e = "wrong size"
		case errors.Is(r.Err, transfer.ErrDigestMismatch):
			e = "digest"
		default:
			e = r.Err.Error()
		}
		summary = append(summary, res{r.Path, e})
	}
	want := []res{{"local.bin", ""}, {"absent.bin", "no local copy"}, {"short.bin", "wrong size"}, {"damaged.bin", "digest"}}
	if diff := cmp.Diff(want, summary); diff != "" {
		t.Errorf("Repair mismatch (-want +got):\n%s", diff)
	}
	sum, err := Check(ctx, s, []lfsscan.Pointer{local.ptr, damaged.ptr}, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]outcome{{"damaged.bin", Missing, 0}}, outcomes(sum.Problems)); diff != "" {
		t.Errorf("Check after Repair mismatch (-want +got):\n%s", diff)
	}
}

// countingUploader counts uploads in flight; hold, when set, runs inside
// every upload and its error, if any, is returned.
type countingUploader struct {
	inFlight
	hold func(ctx context.Context) error
}

func (c *countingUploader) Upload(ctx context.Context, oid string, size int64, body io.ReaderAt, progress func(int64)) error {
	defer c.enter()()
	if c.hold != nil {
		return c.hold(ctx)
	}
	return nil
}

func TestRepairBoundsConcurrency(t *testing.T) {
	// As in TestCheckBoundsConcurrency: uploads wait at a gate, and whenever
	// every goroutine is blocked exactly 3 are in flight, until fewer remain.
	synctest.Test(t, func(t *testing.T) {
		const total, jobs = 12, 3
		dir := t.TempDir()
		var problems []Result
		for i := range total {
			o := newObject(10, uint64(i), "")
			p := LocalPath(dir, o.ptr.Oid)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, o.data, 0o644); err != nil {
				t.Fatal(err)
			}
			problems = append(problems, Result{Pointer: o.ptr, State: Missing})
		}
		release := make(chan struct{})
		up := &countingUploader{hold: gate(release)}
		done := make(chan []Repaired)
		go func() { done <- Repair(context.Background(), up, dir, problems, jobs) }()
		if !admitOneByOne(t, "uploads", total, jobs, &up.inFlight, release) {
			<-done
			return
		}
		for _, r := range <-done {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
		}
		if got := up.peak.Load(); got != jobs {
			t.Errorf("uploads in flight peaked at %d, want %d", got, jobs)
		}
	})
}
