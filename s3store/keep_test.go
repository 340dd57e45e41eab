package s3store_test

import (
	"context"
	"testing"
	"time"

	"github.com/datalfs/datalfs/internal/mems3"
	"github.com/datalfs/datalfs/transfer/storetest"
)

// TestStatThenKeepOneHead: the agent's check of a stored object (Stat)
// and its in-use bookkeeping (Keep) share one HEAD; an old object still
// gets its marker.
func TestStatThenKeepOneHead(t *testing.T) {
	for _, old := range []bool{false, true} {
		srv := mems3.Start(t, "bucket")
		s := newPartStore(t, srv, 1)
		data, oid := storetest.Object(3000, 31)
		srv.Put(t, "bucket", s.Location().Key(oid), data)
		if old {
			srv.Advance(48 * time.Hour)
		}
		ctx := context.Background()
		heads := srv.Requests("HEAD")
		if n, err := s.Stat(ctx, oid); err != nil || n != int64(len(data)) {
			t.Fatalf("Stat = %d, %v", n, err)
		}
		if err := s.Keep(ctx, oid); err != nil {
			t.Fatal(err)
		}
		want := 1 // the object's HEAD, shared
		if old {
			want = 2 // and the marker's
		}
		if got := srv.Requests("HEAD") - heads; got != want {
			t.Errorf("old=%v: Stat then Keep sent %d HEADs, want %d", old, got, want)
		}
		markers := srv.Keys(t, "bucket", s.MarkersPrefix())
		if old != (len(markers) == 1) {
			t.Errorf("old=%v: markers %q", old, markers)
		}
		// Keep alone (no Stat before it) still asks.
		heads = srv.Requests("HEAD")
		if err := s.Keep(ctx, oid); err != nil {
			t.Fatal(err)
		}
		if srv.Requests("HEAD") == heads {
			t.Errorf("old=%v: Keep without a Stat before it sent no HEAD", old)
		}
	}
}
