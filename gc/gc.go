// Package gc finds the objects in a bucket prefix that no ref of the
// repositories using it refers to any more, and deletes them.
//
// The model: a prefix (PREFIX/lfs/objects/) belongs to the repositories
// whose clones are scanned. An object is kept when any ref of any of them
// (branches, tags, remote-tracking branches, HEAD, stash, notes) reaches a
// pointer to it; when it is fresh (see Fresh): written, or marked in use by
// a push that found it already stored, within the grace period, because a
// push may rely on it before the commit that refers to it reaches any ref
// gc can see; and when its key is not an LFS object key. Ages are measured
// by the server's clock. Deletion happens only when every object the
// published history needs is present, so gc never runs on a bucket that
// verify would fail.
//
// StaleUploads finds the other thing a prefix keeps for nobody: multipart
// uploads that interrupted pushes left unfinished.
package gc

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/datalfs/datalfs/lfsscan"
	"github.com/datalfs/datalfs/s3store"
)

// Bucket is what garbage collection needs of the storage.
type Bucket interface {
	// List calls fn for every object under the LFS objects prefix.
	List(ctx context.Context, fn func(s3store.ObjectInfo) error) error
	// Markers calls fn for every in-use marker: the oid a push relied on
	// and when (server clock) it last said so.
	Markers(ctx context.Context, fn func(oid string, at time.Time) error) error
	// Now returns the server's clock.
	Now(ctx context.Context) (time.Time, error)
	// Delete removes the object stored under oid; a missing one is no error.
	// It is called from several goroutines at once.
	Delete(ctx context.Context, oid string) error
	// DeleteMarker removes oid's in-use marker; a missing one is no error.
	// It is called from several goroutines at once.
	DeleteMarker(ctx context.Context, oid string) error
	// LastUsed returns when oid was last written or marked in use (server
	// clock), the zero time when neither object nor marker exists. It is
	// called from several goroutines at once.
	LastUsed(ctx context.Context, oid string) (time.Time, error)
}

// Fresh reports whether an unreferenced object last written, or last
// marked in use, at the given time (server clock) is kept at now with
// the grace period grace: it is when that time is after
// now - grace - min(grace, s3store.TouchAfter).
//
// The slack of min(grace, TouchAfter) matches the push side: a push that
// finds an object already stored marks it in use only when neither the
// object nor its marker is younger than TouchAfter. So an object a push
// relied on after gc's grace window began was written or marked at most
// TouchAfter before that, and is kept. With a grace period shorter than
// TouchAfter (an emergency clean-up, such as a grace of 0s) the slack
// shrinks with it and the guarantee does not hold: run such a gc only when
// no push is running or about to.
//
// now comes from an HTTP Date header, which may trail the clock that dated
// an object by up to s3store.DateTrails (a server quirk); listings
// date objects to the millisecond. at is compared at the Date's resolution
// and with that slack, or an object written just before gc started could
// look newer than now itself. Only a grace period of a few seconds notices.
func Fresh(at, now time.Time, grace time.Duration) bool {
	return at.Truncate(time.Second).After(now.Add(s3store.DateTrails - grace - min(grace, s3store.TouchAfter)))
}

// Refs is what the scanned repositories refer to.
type Refs struct {
	// Needed are the objects the published history (branches, tags,
	// remote-tracking branches, HEAD) refers to: they must be in the bucket.
	Needed []lfsscan.Pointer
	// Kept are further objects that only other refs (stash, notes, ...)
	// refer to: they are never deleted, but need not be present.
	Kept []lfsscan.Pointer
}

// Plan sorts every object under the prefix.
type Plan struct {
	// Listed counts the objects under the prefix.
	Listed int
	// Bytes is the size of the listed objects.
	Bytes int64
	// Referenced counts the listed objects that Refs refers to.
	Referenced int
	// Missing are needed objects that the bucket lacks, or holds with
	// another size; while there are any, nothing may be deleted.
	Missing []lfsscan.Pointer
	// Young are unreferenced objects that are fresh (see Fresh): kept.
	Young []s3store.ObjectInfo
	// Foreign are keys that are not LFS object keys: kept.
	Foreign []s3store.ObjectInfo
	// Garbage are unreferenced objects older than the grace period, oldest
	// first: what Delete removes.
	Garbage []s3store.ObjectInfo
	// GarbageBytes is the size of Garbage.
	GarbageBytes int64
	// StaleMarkers are the oids of in-use markers that protect nothing: of
	// garbage, or of objects no longer stored and not fresh. Delete removes
	// them with the garbage.
	StaleMarkers []string
	// Now is the server's time the plan was made at.
	Now time.Time
	// Grace is the grace period the plan was made with.
	Grace time.Duration
}

// MakePlan lists the bucket and sorts its objects against refs. An
// unreferenced object is garbage unless it is Fresh at the server's
// current time.
func MakePlan(ctx context.Context, b Bucket, refs Refs, grace time.Duration) (Plan, error) {
	keep := make(map[string]bool, len(refs.Needed)+len(refs.Kept))
	for _, p := range refs.Needed {
		keep[p.Oid] = true
	}
	for _, p := range refs.Kept {
		keep[p.Oid] = true
	}
	now, err := b.Now(ctx)
	if err != nil {
		return Plan{}, err
	}
	// Markers first: an object marked after the listing passed it is
	// then protected by its object's own fresh LastModified or the marker.
	marked := make(map[string]time.Time)
	if err := b.Markers(ctx, func(oid string, at time.Time) error {
		marked[oid] = at
		return nil
	}); err != nil {
		return Plan{}, err
	}
	stored := make(map[string]int64)
	plan := Plan{Now: now, Grace: grace}
	err = b.List(ctx, func(o s3store.ObjectInfo) error {
		plan.Listed++
		plan.Bytes += o.Size
		switch {
		case o.Oid == "":
			plan.Foreign = append(plan.Foreign, o)
		case keep[o.Oid]:
			plan.Referenced++
			stored[o.Oid] = o.Size
		case Fresh(o.LastModified, now, grace) || Fresh(marked[o.Oid], now, grace):
			plan.Young = append(plan.Young, o)
			stored[o.Oid] = o.Size
		default:
			plan.Garbage = append(plan.Garbage, o)
			plan.GarbageBytes += o.Size
		}
		return nil
	})
	if err != nil {
		return Plan{}, err
	}
	for oid, at := range marked {
		if _, ok := stored[oid]; !ok && !Fresh(at, now, grace) {
			plan.StaleMarkers = append(plan.StaleMarkers, oid) // garbage, or gone
		}
	}
	sort.Strings(plan.StaleMarkers)
	seen := make(map[string]bool)
	for _, p := range refs.Needed {
		if size, ok := stored[p.Oid]; (!ok || size != p.Size) && !seen[p.Oid] {
			seen[p.Oid] = true
			plan.Missing = append(plan.Missing, p)
		}
	}
	sort.Slice(plan.Missing, func(i, j int) bool { return plan.Missing[i].Path < plan.Missing[j].Path })
	sort.SliceStable(plan.Garbage, func(i, j int) bool {
		return plan.Garbage[i].LastModified.Before(plan.Garbage[j].LastModified)
	})
	return plan, nil
}

// Deleted is the outcome of deleting one object.
type Deleted struct {
	s3store.ObjectInfo
	// InUse says the object was kept: looked at again just before its
	// deletion, it had been written or marked in use since the plan (a
	// push relied on it while gc ran).
	InUse bool
	// Err is why it could not be deleted, or nil.
	Err error
}

// Delete removes the plan's garbage, at most jobs at a time, and returns
// one outcome per object in the plan's order. Each object is looked at
// again just before its deletion and kept if it has become fresh. It refuses, deleting nothing,
// when the plan has missing objects: callers must check Missing first.
func Delete(ctx context.Context, b Bucket, plan Plan, jobs int) []Deleted {
	if len(plan.Missing) > 0 {
		return nil
	}
	out := make([]Deleted, len(plan.Garbage))
	for i, o := range plan.Garbage {
		out[i].ObjectInfo = o
	}
	eachLimited(jobs, len(out), func(i int) {
		if ctx.Err() != nil {
			out[i].Err = ctx.Err()
			return
		}
		// Listing a large bucket takes minutes: a push may have relied
		// on the object since. Look again right before deleting.
		at, err := b.LastUsed(ctx, out[i].Oid)
		switch {
		case err != nil:
			out[i].Err = err
		case Fresh(at, plan.Now, plan.Grace):
			out[i].InUse = true
		default:
			out[i].Err = b.Delete(ctx, out[i].Oid)
		}
	})
	// A marker goes after its object, so that a failed deletion leaves the
	// object protected as before.
	failed := make(map[string]bool)
	for _, d := range out {
		if d.Err != nil || d.InUse {
			failed[d.Oid] = true
		}
	}
	eachLimited(jobs, len(plan.StaleMarkers), func(i int) {
		oid := plan.StaleMarkers[i]
		if failed[oid] || ctx.Err() != nil {
			return
		}
		_ = b.DeleteMarker(ctx, oid) // a marker left behind protects nothing for long
	})
	return out
}

// eachLimited calls fn(i) for i in [0, n), at most jobs at a time, and
// returns when every call has returned.
func eachLimited(jobs, n int, fn func(i int)) {
	sem := make(chan struct{}, max(1, jobs))
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			fn(i)
		}()
	}
	wg.Wait()
}
