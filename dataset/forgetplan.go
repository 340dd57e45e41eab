package dataset

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/datalfs/datalfs/internal/plural"
	"github.com/datalfs/datalfs/s3ref"
)

// ForgetTarget is one asset to delete for good, with the record (or the
// reference given) that named it.
type ForgetTarget struct {
	ID  string
	Ref s3ref.Ref // no version: every version goes
}

// UnknownIDError is an id that no record of the manifests has and that is
// not an s3:// reference either.
type UnknownIDError struct{ ID string }

func (e *UnknownIDError) Error() string {
	return fmt.Sprintf("no record has id %q in the working tree's manifests: check the id, or give the asset as s3://BUCKET/KEY", e.ID)
}

// ForgetTargets resolves ids, record ids in ms or s3://BUCKET/KEY
// references, to the assets to delete, each asset once, in the order given.
func (r *Repo) ForgetTargets(ctx context.Context, ms []Manifest, ids []string) ([]ForgetTarget, error) {
	found, err := r.FindIDs(ctx, ms, ids)
	if err != nil {
		return nil, err
	}
	var targets []ForgetTarget
	seen := map[string]bool{}
	add := func(id string, ref s3ref.Ref) {
		ref.VersionID = ""
		if !seen[ref.Object()] {
			seen[ref.Object()] = true
			targets = append(targets, ForgetTarget{ID: id, Ref: ref})
		}
	}
	have := map[string]bool{}
	for _, f := range found {
		have[f.ID] = true
		for _, a := range f.Assets {
			add(f.ID, a.Ref)
		}
	}
	for _, id := range ids {
		if have[id] {
			continue
		}
		ref, err := s3ref.Parse(id)
		if err != nil {
			return nil, &UnknownIDError{ID: id}
		}
		have[id] = true
		add(id, ref)
	}
	return targets, nil
}

// SetupError is a bucket that could not be set up (configuration, not
// the network); nothing was deleted.
type SetupError struct{ Err error }

func (e *SetupError) Error() string { return e.Err.Error() }
func (e *SetupError) Unwrap() error { return e.Err }

// ForgetReport says what Forget did, asset by asset.
type ForgetReport struct {
	// Deleted holds, per asset deleted, how many versions (or objects) went.
	Deleted []Deleted
	// Recorded is how many tombstones were appended (and staged).
	Recorded int
	// AlreadyForgotten holds the earlier tombstones of assets deleted again;
	// the first tombstone stands.
	AlreadyForgotten []Tombstone
}

// Deleted is one asset Forget deleted.
type Deleted struct {
	Ref      s3ref.Ref
	Versions int
}

// Forget deletes every version of each target, in order, and appends a
// tombstone (staged, to be committed) for each asset not forgotten before,
// dated now. It stops at the first asset it cannot delete; the tombstones
// of the assets deleted before it are still written, and the error says
// whether they were. The report always says what was done.
func (r *Repo) Forget(ctx context.Context, clients *Clients, targets []ForgetTarget, reason string, now time.Time) (ForgetReport, error) {
	var rep ForgetReport
	old, err := r.Tombstones(ctx)
	if err != nil {
		return rep, err
	}
	// Every bucket is set up before anything is deleted, so a configuration
	// error (no region, a bad profile) deletes nothing.
	buckets := map[string]Bucket{}
	for _, t := range targets {
		if _, ok := buckets[t.Ref.Bucket]; !ok {
			b, err := clients.For(ctx, t.Ref.Bucket)
			if err != nil {
				return rep, &SetupError{err}
			}
			buckets[t.Ref.Bucket] = b
		}
	}
	date := now.UTC().Format("2006-01-02")
	var tombs []Tombstone
	var failed error
	for _, t := range targets {
		n, err := DeleteAllVersions(ctx, buckets[t.Ref.Bucket], t.Ref)
		if err != nil {
			failed = err
			break
		}
		rep.Deleted = append(rep.Deleted, Deleted{Ref: t.Ref, Versions: n})
		if was, ok := old[t.Ref.Object()]; ok {
			rep.AlreadyForgotten = append(rep.AlreadyForgotten, was)
			continue
		}
		tombs = append(tombs, Tombstone{ID: t.ID, Key: t.Ref.Object(), Date: date, Reason: reason})
	}
	if len(tombs) > 0 {
		if err := r.AppendTombstones(ctx, tombs); err != nil {
			werr := fmt.Errorf("the tombstones of %d deleted %s could not be recorded (%w): add them to %s by hand and stage it", len(tombs), plural.Word(len(tombs), "asset"), err, TombstonePath)
			return rep, errors.Join(failed, werr)
		}
		rep.Recorded = len(tombs)
	}
	if failed != nil && rep.Recorded > 0 {
		failed = fmt.Errorf("%w (tombstones written for the %d %s deleted before)", failed, rep.Recorded, plural.Word(rep.Recorded, "asset"))
	}
	return rep, failed
}
