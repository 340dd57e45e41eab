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
	lock, err := repo.Digest(ctx, ms)
	if err != nil {
		t.Fatal(err)
	}
	lock.Commit = head
	if lock.Lineage, lock.LineageSteps, err = r.repo().LockDigest(ctx, lock); err != nil || lock.Lineage == "" || len(lock.LineageSteps) != 2 {
		t.Fatalf("LockDigest = %q, %v, %v; want a digest over two steps", lock.Lineage, lock.LineageSteps, err)
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
