package gc

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/datalfs/datalfs/lfsscan"
	"github.com/datalfs/datalfs/s3store"
)

type versionedFake struct {
	*fakeBucket
	status string
	err    error
	asked  int
}

func (v *versionedFake) Versioning(context.Context) (string, error) {
	v.asked++
	return v.status, v.err
}

func TestCollect(t *testing.T) {
	now := time.Now()
	var objects []s3store.ObjectInfo
	for i := range 6 {
		objects = append(objects, s3store.ObjectInfo{Key: "k" + oid(i), Oid: oid(i), Size: 1})
	}
	plan := Plan{Garbage: objects, Now: now, Grace: time.Hour}
	for _, tt := range []struct {
		name        string
		status      string
		err         error
		recoverable bool
	}{
		{"versioned", "Enabled", nil, true},
		{"suspended", "Suspended", nil, false},
		{"unreadable", "Enabled", errors.New("access denied"), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := &versionedFake{fakeBucket: &fakeBucket{failOn: oid(2), used: map[string]time.Time{oid(4): now}}, status: tt.status, err: tt.err}
			c := Collect(context.Background(), b, plan, 3)
			if len(c.Outcomes) != 6 || c.Deleted != 4 || c.Failed != 1 || c.InUse != 1 {
				t.Errorf("Collect = %d outcomes, %d deleted, %d failed, %d in use; want 6, 4, 1, 1", len(c.Outcomes), c.Deleted, c.Failed, c.InUse)
			}
			if len(b.deleted) != c.Deleted {
				t.Errorf("the bucket saw %d deletions, the count says %d", len(b.deleted), c.Deleted)
			}
			if c.Recoverable != tt.recoverable {
				t.Errorf("Recoverable = %v, want %v", c.Recoverable, tt.recoverable)
			}
		})
	}

	// Missing objects: nothing deleted, and versioning not even asked.
	b := &versionedFake{fakeBucket: &fakeBucket{}, status: "Enabled"}
	missing := plan
	missing.Missing = []lfsscan.Pointer{{Oid: oid(9), Size: 1, Path: "a"}}
	if c := Collect(context.Background(), b, missing, 3); len(c.Outcomes) != 0 || c.Deleted != 0 || len(b.deleted) != 0 || b.asked != 0 || c.Recoverable {
		t.Errorf("Collect with missing objects = %+v, bucket deleted %q; want nothing done", c, b.deleted)
	}
}
