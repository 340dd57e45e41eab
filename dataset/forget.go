package dataset

import (
	"context"
	"errors"
	"fmt"

	"github.com/datalfs/datalfs/s3ref"
	"github.com/datalfs/datalfs/s3store"
)

// Found is a record found by id.
type Found struct {
	Manifest Manifest
	Line     int
	ID       string
	Assets   []Asset
}

// FindIDs finds the records with the given ids in ms.
func (r *Repo) FindIDs(ctx context.Context, ms []Manifest, ids []string) ([]Found, error) {
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	var found []Found
	err := r.Each(ctx, ms, func(m Manifest, rec *Record) error {
		if want[rec.ID] {
			found = append(found, Found{Manifest: m, Line: rec.Line, ID: rec.ID, Assets: rec.Assets})
		}
		return nil
	})
	return found, err
}

// DeleteAllVersions deletes every version of s3://BUCKET/KEY, delete
// markers included, so that no request can read the bytes again; in an
// unversioned bucket it deletes the object. It returns how many versions
// (or objects) were deleted.
func DeleteAllVersions(ctx context.Context, b Bucket, ref s3ref.Ref) (int, error) {
	versioned, err := b.Versioned(ctx)
	if err != nil {
		return 0, b.Explain(err, "read the versioning state of", ref)
	}
	if !versioned {
		n := 1
		if _, err := b.Head(ctx, ref.Key, ""); errors.Is(err, s3store.ErrNoSuchObject) {
			// Already gone: the DELETE is sent all the same, in case.
			n = 0
		} else if err != nil {
			return 0, b.Explain(err, "check", ref)
		}
		if err := b.Delete(ctx, ref.Key, ""); err != nil {
			return 0, b.Explain(err, "delete", ref)
		}
		return n, nil
	}
	n := 0
	for round := 0; ; round++ {
		if round == 50 {
			return n, fmt.Errorf("versions of %s keep appearing after 50 rounds of deletes: check for a writer still uploading it, then run forget again", ref.Object())
		}
		ids, err := b.VersionIDs(ctx, ref.Key)
		if err != nil {
			return n, b.Explain(err, "list the versions of", ref)
		}
		if len(ids) == 0 {
			return n, nil
		}
		for _, id := range ids {
			if err := b.Delete(ctx, ref.Key, id); err != nil {
				return n, b.Explain(err, "delete a version of", ref)
			}
			n++
		}
		// List again: a first page may not have held every version.
	}
}
