// Package gc finds the objects in a bucket prefix that no ref of the
// repositories using it refers to any more, and deletes them.
//
// The model: a prefix (PREFIX/lfs/objects/) belongs to the repositories
// whose clones are scanned. An object is kept when any ref of any of them
// (branches, tags, remote-tracking branches, HEAD, stash, notes) reaches a
// pointer to it; when it was written less than a grace period ago, because a
// push may have uploaded it before the commit that refers to it reached any
// ref; and when its key is not an LFS object key. Deletion happens only when
// every object the published history needs is present, so gc never runs on
// a bucket that verify would fail.
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
	// Delete removes the object stored under oid; a missing one is no error.
	// It is called from several goroutines at once.
	Delete(ctx context.Context, oid string) error
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
	// Young are unreferenced objects written within the grace period: kept.
	Young []s3store.ObjectInfo
	// Foreign are keys that are not LFS object keys: kept.
	Foreign []s3store.ObjectInfo
	// Garbage are unreferenced objects older than the grace period, oldest
	// first: what Delete removes.
	Garbage []s3store.ObjectInfo
	// GarbageBytes is the size of Garbage.
	GarbageBytes int64
}

// MakePlan lists the bucket and sorts its objects against refs. An object
// is older than the grace period when it was last modified at or before
// now-grace (by the server's clock).
func MakePlan(ctx context.Context, b Bucket, refs Refs, grace time.Duration, now time.Time) (Plan, error) {
	keep := make(map[string]bool, len(refs.Needed)+len(refs.Kept))
	for _, p := range refs.Needed {
		keep[p.Oid] = true
	}
	for _, p := range refs.Kept {
		keep[p.Oid] = true
	}
	cutoff := now.Add(-grace)
	stored := make(map[string]int64)
	var plan Plan
	err := b.List(ctx, func(o s3store.ObjectInfo) error {
		plan.Listed++
		plan.Bytes += o.Size
		switch {
		case o.Oid == "":
			plan.Foreign = append(plan.Foreign, o)
		case keep[o.Oid]:
			plan.Referenced++
			stored[o.Oid] = o.Size
		case o.LastModified.After(cutoff):
			plan.Young = append(plan.Young, o)
		default:
			plan.Garbage = append(plan.Garbage, o)
			plan.GarbageBytes += o.Size
		}
		return nil
	})
	if err != nil {
		return Plan{}, err
	}
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
	// Err is why it could not be deleted, or nil.
	Err error
}

// Delete removes the plan's garbage, at most jobs at a time, and returns
// one outcome per object in the plan's order. It refuses, deleting nothing,
// when the plan has missing objects: callers must check Missing first.
func Delete(ctx context.Context, b Bucket, plan Plan, jobs int) []Deleted {
	if len(plan.Missing) > 0 {
		return nil
	}
	out := make([]Deleted, len(plan.Garbage))
	sem := make(chan struct{}, max(1, jobs))
	var wg sync.WaitGroup
	for i, o := range plan.Garbage {
		out[i].ObjectInfo = o
		if ctx.Err() != nil {
			out[i].Err = ctx.Err()
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[i].Err = b.Delete(ctx, o.Oid)
		}()
	}
	wg.Wait()
	return out
}
