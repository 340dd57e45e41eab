package lineage

import (
	"context"
	"fmt"

	"github.com/datalfs/datalfs/dataset"
)

// LockDigest is the lineage closure digest of l's manifests at l.Commit
// (see ClosureDigest) and the steps it covers: what `manifest lock` records
// as the lock's Lineage and LineageSteps. It is "" when no record describes
// the manifests.
func (r *Repo) LockDigest(ctx context.Context, l dataset.Lock) (string, []string, error) {
	var paths []string
	for _, m := range l.Manifests {
		paths = append(paths, m.Path)
	}
	d, steps, err := r.ClosureDigest(ctx, l.Commit, paths)
	if err != nil {
		return "", nil, fmt.Errorf("the lineage of the locked manifests: %w", err)
	}
	return d, steps, nil
}

// NewLock is the lock of ms, the manifests read from repo at commit: their
// dataset digest (dataset.Repo.Digest), commit, and the lineage digest of
// the records upstream of them (LockDigest).
func NewLock(ctx context.Context, repo *dataset.Repo, ms []dataset.Manifest, commit string) (dataset.Lock, error) {
	l, err := repo.Digest(ctx, ms)
	if err != nil {
		return l, err
	}
	l.Commit = commit
	l.Lineage, l.LineageSteps, err = (&Repo{Repo: repo.Repo}).LockDigest(ctx, l)
	return l, err
}

// LockMismatch says how a dataset is not the one its lock pins.
type LockMismatch struct {
	// Lineage is false when the manifests' dataset digest differs from the
	// lock's, true when the lineage records upstream of them do.
	Lineage bool
	// Got is the digest computed now ("" for a lineage no record
	// describes); Want is the lock's.
	Got, Want string
	// Steps are the lineage steps Got covers (Lineage only).
	Steps []string
}

// CheckLock checks that ms, the lock's manifests read from repo at
// l.Commit, are the dataset l pins: their dataset digest is l.Digest and,
// when the lock records a lineage digest, the lineage records upstream of
// them at l.Commit still hash to it (not so when the lock was edited or the
// history rewritten under it). It returns a nil mismatch when both agree,
// and an error when the digests could not be computed.
func CheckLock(ctx context.Context, repo *dataset.Repo, ms []dataset.Manifest, l dataset.Lock) (*LockMismatch, error) {
	got, err := repo.Digest(ctx, ms)
	if err != nil {
		return nil, err
	}
	if got.Digest != l.Digest {
		return &LockMismatch{Got: got.Digest, Want: l.Digest}, nil
	}
	if l.Lineage == "" {
		return nil, nil // a lock written before lineage, or of manifests no step made
	}
	d, steps, err := (&Repo{Repo: repo.Repo}).LockDigest(ctx, l)
	if err != nil {
		return nil, err
	}
	if d == l.Lineage {
		return nil, nil
	}
	return &LockMismatch{Lineage: true, Got: d, Want: l.Lineage, Steps: steps}, nil
}
