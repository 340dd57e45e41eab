package s3store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/datalfs/datalfs/internal/mems3"
	"github.com/datalfs/datalfs/s3store"
	"github.com/datalfs/datalfs/transfer"
	"github.com/datalfs/datalfs/transfer/storetest"
)

// newStore returns a store on a fresh in-memory server, with multipart from
// 6 MiB so the suite's large object takes that path.
func newStore(t *testing.T) transfer.Store {
	srv := mems3.Start(t, "bucket")
	loc, err := s3store.ParseURL(srv.URL + "/bucket/some/prefix")
	if err != nil {
		t.Fatal(err)
	}
	opts := s3store.DefaultOptions()
	opts.MultipartThreshold = 6 << 20
	opts.PartSize = 5 << 20
	opts.Concurrency = 2
	s, err := s3store.New(context.Background(), loc, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Config{New: newStore, LargeSize: 13 << 20})
}

func TestObjectKeyLayout(t *testing.T) {
	srv := mems3.Start(t, "bucket")
	loc, err := s3store.ParseURL(srv.URL + "/bucket/team/repo")
	if err != nil {
		t.Fatal(err)
	}
	s, err := s3store.New(context.Background(), loc, s3store.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	data, oid := storetest.Object(42, 1)
	if err := s.Upload(context.Background(), oid, 42, strings.NewReader(string(data)), func(int64) {}); err != nil {
		t.Fatal(err)
	}
	keys := srv.Keys(t, "bucket", "")
	want := "team/repo/lfs/objects/" + oid[:2] + "/" + oid[2:4] + "/" + oid
	if len(keys) != 1 || keys[0] != want {
		t.Errorf("bucket keys = %q, want [%q]", keys, want)
	}
}
