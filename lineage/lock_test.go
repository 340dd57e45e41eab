package lineage

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/datalfs/datalfs/dataset"
	"github.com/datalfs/datalfs/gitrepo"
)

// TestCheckLock: the manifests at a lock's commit pass when their dataset
// digest and their lineage digest are the lock's, and each digest that
// differs is reported as what it is, with the digest computed now.
func TestCheckLock(t *testing.T) {
	ctx := context.Background()
	r := pipeline(t)
	head := r.git("rev-parse", "HEAD")
	g, err := gitrepo.OpenWorktree(ctx, r.dir)
	if err != nil {
		t.Fatal(err)
	}
	repo := &dataset.Repo{Repo: g}
	ms := []dataset.Manifest{{Path: "data/train.jsonl", Rev: head, Config: dataset.Config{ID: "/id"}}}
	lock, err := NewLock(ctx, repo, ms, head)
	if err != nil {
		t.Fatal(err)
	}
	digest, err := repo.Digest(ctx, ms)
	if err != nil || lock.Commit != head || lock.Digest != digest.Digest || lock.Records != 1 || lock.Lineage == "" || len(lock.LineageSteps) != 2 {
		t.Fatalf("NewLock = %+v, %v; want commit %s, dataset digest %s, 1 record, a lineage digest over two steps", lock, err, head, digest.Digest)
	}
	if d, steps, err := r.repo().LockDigest(ctx, lock); err != nil || d != lock.Lineage || !cmp.Equal(steps, lock.LineageSteps) {
		t.Errorf("LockDigest = %s, %v, %v; want NewLock's %s", d, steps, err, lock.Lineage)
	}
	const other = "sha256:0000000000000000000000000000000000000000000000000000000000000000"
	noLineage, badDigest, badLineage := lock, lock, lock
	noLineage.Lineage = ""
	badDigest.Digest = other
	badLineage.Lineage = other
	for _, tc := range []struct {
		name string
		lock dataset.Lock
		want *LockMismatch
	}{
		{"the locked dataset", lock, nil},
		{"a lock without lineage", noLineage, nil},
		{"another dataset", badDigest, &LockMismatch{Got: lock.Digest, Want: other}},
		{"another lineage", badLineage, &LockMismatch{Lineage: true, Got: lock.Lineage, Want: other, Steps: lock.LineageSteps}},
	} {
		got, err := CheckLock(ctx, repo, ms, tc.lock)
		if err != nil {
			t.Fatalf("%s: CheckLock: %v", tc.name, err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s: CheckLock (-want +got):\n%s", tc.name, diff)
		}
	}
}
