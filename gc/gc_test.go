package gc

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/datalfs/datalfs/internal/mems3"
	"github.com/datalfs/datalfs/lfsscan"
	"github.com/datalfs/datalfs/s3store"
	"github.com/datalfs/datalfs/transfer/storetest"
)

// fakeBucket lists fixed objects and records deletions.
type fakeBucket struct {
	objects []s3store.ObjectInfo
	markers map[string]time.Time
	used    map[string]time.Time // for LastUsed
	now     time.Time
	listErr error
	failOn  string

	mu       sync.Mutex
	deleted  []string
	unmarked []string
	inFlight int
	maxSeen  int
}

func (f *fakeBucket) List(ctx context.Context, fn func(s3store.ObjectInfo) error) error {
	if f.listErr != nil {
		return f.listErr
	}
	for _, o := range f.objects {
		if err := fn(o); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeBucket) Markers(ctx context.Context, fn func(string, time.Time) error) error {
	for oid, at := range f.markers {
		if err := fn(oid, at); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeBucket) Now(context.Context) (time.Time, error) { return f.now, nil }

func (f *fakeBucket) LastUsed(ctx context.Context, oid string) (time.Time, error) {
	return f.used[oid], nil
}

func (f *fakeBucket) DeleteMarker(ctx context.Context, oid string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unmarked = append(f.unmarked, oid)
	return nil
}

func (f *fakeBucket) Delete(ctx context.Context, oid string) error {
	f.mu.Lock()
	f.inFlight++
	f.maxSeen = max(f.maxSeen, f.inFlight)
	f.mu.Unlock()
	time.Sleep(2 * time.Millisecond)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inFlight--
	if oid == f.failOn {
		return errors.New("access denied")
	}
	f.deleted = append(f.deleted, oid)
	return nil
}

func oid(n int) string { return fmt.Sprintf("%064x", n) }

func TestMakePlan(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	obj := func(n int, size int64, age time.Duration) s3store.ObjectInfo {
		return s3store.ObjectInfo{Key: "repo/lfs/objects/" + oid(n), Oid: oid(n), Size: size, LastModified: now.Add(-age)}
	}
	hour := time.Hour
	b := &fakeBucket{now: now, objects: []s3store.ObjectInfo{
		obj(1, 10, 100*day),     // needed
		obj(2, 20, 100*day),     // needed, but the wrong size
		obj(3, 30, 100*day),     // kept by the stash
		obj(4, 40, 40*day),      // garbage
		obj(5, 50, 31*day),      // garbage, younger
		obj(6, 60, 30*day+hour), // exactly at grace + TouchAfter: garbage
		obj(7, 70, 30*day),      // young: within grace + TouchAfter
		obj(9, 90, 100*day),     // old, but a push marked it in use: young
		{Key: "repo/lfs/objects/README", Size: 5, LastModified: now.Add(-400 * day)},
	}, markers: map[string]time.Time{
		oid(9):  now.Add(-30 * day),  // fresh
		oid(4):  now.Add(-35 * day),  // stale: its object is garbage
		oid(10): now.Add(-100 * day), // stale: no object
		oid(11): now.Add(-1 * day),   // fresh, no object yet: kept
	}}
	refs := Refs{
		Needed: []lfsscan.Pointer{
			{Oid: oid(1), Size: 10, Path: "a"}, {Oid: oid(2), Size: 21, Path: "b"},
			{Oid: oid(8), Size: 80, Path: "c"}, {Oid: oid(1), Size: 10, Path: "a copy"},
		},
		Kept: []lfsscan.Pointer{{Oid: oid(3), Size: 30, Path: "stashed"}},
	}
	plan, err := MakePlan(context.Background(), b, refs, 30*day)
	if err != nil {
		t.Fatal(err)
	}
	keys := func(os []s3store.ObjectInfo) []string {
		var out []string
		for _, o := range os {
			out = append(out, o.Key)
		}
		return out
	}
	got := struct {
		Listed, Referenced  int
		Bytes, GarbageBytes int64
		Missing             []string
		Young, Foreign      []string
		Garbage             []string
		StaleMarkers        []string
	}{plan.Listed, plan.Referenced, plan.Bytes, plan.GarbageBytes, nil, keys(plan.Young), keys(plan.Foreign), keys(plan.Garbage), plan.StaleMarkers}
	for _, m := range plan.Missing {
		got.Missing = append(got.Missing, m.Path)
	}
	want := got
	want.Listed, want.Referenced, want.Bytes, want.GarbageBytes = 9, 3, 375, 150
	want.Missing = []string{"b", "c"}
	want.Young = []string{"repo/lfs/objects/" + oid(7), "repo/lfs/objects/" + oid(9)}
	want.StaleMarkers = []string{oid(4), oid(10)}
	want.Foreign = []string{"repo/lfs/objects/README"}
	want.Garbage = []string{"repo/lfs/objects/" + oid(4), "repo/lfs/objects/" + oid(5), "repo/lfs/objects/" + oid(6)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("MakePlan mismatch (-want +got):\n%s", diff)
	}

	// Delete refuses while anything is missing.
	if d := Delete(context.Background(), b, plan, 4); d != nil || len(b.deleted) != 0 {
		t.Errorf("Delete with missing objects deleted %q, want nothing", b.deleted)
	}
}

func TestMakePlanGraceZero(t *testing.T) {
	now := time.Now().Truncate(time.Second) // servers keep whole seconds
	b := &fakeBucket{now: now, objects: []s3store.ObjectInfo{{Key: "k", Oid: oid(1), Size: 1, LastModified: now}}}
	plan, err := MakePlan(context.Background(), b, Refs{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Garbage) != 1 {
		t.Errorf("MakePlan with grace 0 found %d garbage, want the object written just now", len(plan.Garbage))
	}
}

func TestMakePlanListError(t *testing.T) {
	b := &fakeBucket{listErr: errors.New("boom")}
	if _, err := MakePlan(context.Background(), b, Refs{}, 0); err == nil || err.Error() != "boom" {
		t.Errorf("MakePlan error = %v, want the listing's", err)
	}
}

func TestDelete(t *testing.T) {
	var objects []s3store.ObjectInfo
	for i := range 20 {
		objects = append(objects, s3store.ObjectInfo{Key: "k" + oid(i), Oid: oid(i), Size: 1})
	}
	now := time.Now()
	// oid(7) was marked in use after the plan: looked at again, it stays.
	b := &fakeBucket{failOn: oid(3), used: map[string]time.Time{oid(7): now, oid(8): now.Add(-3 * time.Hour)}}
	// Markers of deleted objects go; the marker of an object that could
	// not be deleted, or was kept, stays, to keep protecting it.
	plan := Plan{Garbage: objects, StaleMarkers: []string{oid(3), oid(5), oid(7), oid(99)}, Now: now, Grace: time.Hour}
	got := Delete(context.Background(), b, plan, 5)
	if len(got) != 20 {
		t.Fatalf("Delete returned %d outcomes, want 20", len(got))
	}
	for i, d := range got {
		if d.Oid != oid(i) || (d.Err != nil) != (i == 3) || d.InUse != (i == 7) {
			t.Errorf("Delete outcome %d = %s, %v, in use %v; want %s, error only for 3, in use only 7", i, d.Oid, d.Err, d.InUse, oid(i))
		}
	}
	sort.Strings(b.unmarked)
	if diff := cmp.Diff([]string{oid(5), oid(99)}, b.unmarked); diff != "" {
		t.Errorf("markers deleted (-want +got):\n%s", diff)
	}
	if len(b.deleted) != 18 || b.maxSeen > 5 || b.maxSeen < 2 {
		t.Errorf("Delete deleted %d with %d in flight, want 18 with 2..5", len(b.deleted), b.maxSeen)
	}
}

// TestAgainstMemS3 runs a plan and a deletion on the real store code.
func TestAgainstMemS3(t *testing.T) {
	ctx := context.Background()
	srv, _, s := memStore(ctx, t)
	keep, keepOid := storetest.Object(100, 1)
	drop, dropOid := storetest.Object(200, 2)
	for _, o := range []struct {
		b   []byte
		oid string
	}{{keep, keepOid}, {drop, dropOid}} {
		if err := s.Upload(ctx, o.oid, int64(len(o.b)), strings.NewReader(string(o.b)), func(int64) {}); err != nil {
			t.Fatal(err)
		}
	}
	srv.Put(t, "bucket", "repo/lfs/objects/notes.txt", []byte("x"))
	refs := Refs{Needed: []lfsscan.Pointer{{Oid: keepOid, Size: 100}}}

	// A large grace keeps everything; none at all leaves only garbage.
	plan, err := MakePlan(ctx, s, refs, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Garbage) != 0 || len(plan.Young) != 1 {
		t.Errorf("MakePlan(grace 1h) = %d garbage, %d young, want 0 and 1", len(plan.Garbage), len(plan.Young))
	}
	srv.Advance(time.Second)
	plan, err = MakePlan(ctx, s, refs, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range Delete(ctx, s, plan, 4) {
		if d.Err != nil {
			t.Fatal(d.Err)
		}
	}
	want := []string{"repo/lfs/objects/" + keepOid[:2] + "/" + keepOid[2:4] + "/" + keepOid, "repo/lfs/objects/notes.txt"}
	got := srv.Keys(t, "bucket", "")
	if len(got) == 2 && got[0] > got[1] {
		got[0], got[1] = got[1], got[0]
	}
	if want[0] > want[1] {
		want[0], want[1] = want[1], want[0]
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("bucket after gc mismatch (-want +got):\n%s", diff)
	}
}

// TestFreshAtDateResolution: the server's clock comes from a Date header
// (whole seconds, refreshed once a second by some servers) and objects are
// dated to the millisecond; an object written just before gc asked the time
// is not newer than it (gc --grace 0s deleted it or not depending on the
// millisecond).
func TestFreshAtDateResolution(t *testing.T) {
	now := time.Date(2026, 12, 6, 9, 5, 1, 0, time.UTC)
	if Fresh(now.Add(900*time.Millisecond), now, 0) {
		t.Errorf("an object written 0.9 s into the Date's second is fresh with a grace of 0s")
	}
	if Fresh(now.Add(1500*time.Millisecond), now, 0) {
		t.Errorf("an object dated 1.5 s after the Date is fresh with a grace of 0s: the Date may trail by a second (versitygw)")
	}
	if !Fresh(now.Add(3*time.Second), now, 0) {
		t.Errorf("an object written 3 s after the Date is not fresh")
	}
	if !Fresh(now.Add(-time.Hour), now, 2*time.Hour) || Fresh(now.Add(-4*time.Hour), now, 2*time.Hour) {
		t.Errorf("grace 2h: want an object 1h old fresh and one 4h old (beyond grace + 1h slack) not")
	}
}

// memStore starts an in-process S3 server with a bucket "bucket" and
// returns it with the store of s3://bucket/repo on it.
func memStore(ctx context.Context, t *testing.T) (*mems3.Server, s3store.Location, *s3store.Store) {
	t.Helper()
	srv := mems3.Start(t, "bucket")
	loc, err := s3store.ParseURL(srv.URL + "/bucket/repo")
	if err != nil {
		t.Fatal(err)
	}
	s, err := s3store.New(ctx, loc, s3store.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	return srv, loc, s
}
