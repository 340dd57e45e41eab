package gc

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/datalfs/datalfs/s3store"
)

type fakeUploads struct {
	pending []s3store.Pending
	refuse  string // the key whose abort fails
	aborted []string
}

func (f *fakeUploads) PendingUploads(context.Context) ([]s3store.Pending, error) {
	return f.pending, nil
}

func (f *fakeUploads) AbortUpload(_ context.Context, p s3store.Pending) error {
	if p.Key == f.refuse {
		return errors.New("abort refused")
	}
	f.aborted = append(f.aborted, p.Key)
	return nil
}

func keys(ps []s3store.Pending) []string {
	var ks []string
	for _, p := range ps {
		ks = append(ks, p.Key)
	}
	return ks
}

func TestStaleUploads(t *testing.T) {
	now := time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC)
	cutoff := now.Add(-24 * time.Hour)
	pending := []s3store.Pending{
		{Key: "old1", UploadID: "u1", Initiated: now.Add(-48 * time.Hour)},
		{Key: "young", UploadID: "u2", Initiated: now.Add(-time.Hour)},
		{Key: "edge", UploadID: "u3", Initiated: cutoff},
		{Key: "old2", UploadID: "u4", Initiated: now.Add(-30 * time.Hour)},
	}
	ctx := context.Background()

	// Listing only: nothing aborted.
	f := &fakeUploads{pending: pending}
	rep, err := StaleUploads(ctx, f, cutoff, false)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := keys(rep.Stale), []string{"old1", "edge", "old2"}; !reflect.DeepEqual(got, want) || rep.Pending != 4 || rep.Aborted != 0 || f.aborted != nil {
		t.Errorf("list: stale %q, report %+v, aborted %q; want stale %q, 4 pending, none aborted", got, rep, f.aborted, want)
	}

	// Abort: every stale one, the young one kept.
	f = &fakeUploads{pending: pending}
	rep, err = StaleUploads(ctx, f, cutoff, true)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"old1", "edge", "old2"}; !reflect.DeepEqual(f.aborted, want) || rep.Aborted != 3 {
		t.Errorf("abort: aborted %q (report %d), want %q", f.aborted, rep.Aborted, want)
	}

	// A refused abort stops the run; the report names it last.
	f = &fakeUploads{pending: pending, refuse: "edge"}
	rep, err = StaleUploads(ctx, f, cutoff, true)
	if err == nil || err.Error() != "abort refused" {
		t.Fatalf("abort refused: error %v, want it returned", err)
	}
	if got := keys(rep.Stale); !reflect.DeepEqual(got, []string{"old1", "edge"}) || rep.Aborted != 1 || !reflect.DeepEqual(f.aborted, []string{"old1"}) {
		t.Errorf("abort refused: stale %q, aborted %d (%q); want old1 and edge listed, old1 aborted, old2 untouched", got, rep.Aborted, f.aborted)
	}
}
