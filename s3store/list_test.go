package s3store_test

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/datalfs/datalfs/internal/mems3"
	"github.com/datalfs/datalfs/s3store"
	"github.com/datalfs/datalfs/transfer/storetest"
)

func openStore(t *testing.T, url string) *s3store.Store {
	t.Helper()
	loc, err := s3store.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	opts := s3store.DefaultOptions()
	opts.MaxAttempts = 1
	s, err := s3store.New(context.Background(), loc, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestOidOf(t *testing.T) {
	_, oid := storetest.Object(1, 1)
	tests := []struct {
		prefix, key, want string
	}{
		{"repo", "repo/lfs/objects/" + oid[:2] + "/" + oid[2:4] + "/" + oid, oid},
		{"", "lfs/objects/" + oid[:2] + "/" + oid[2:4] + "/" + oid, oid},
		{"a/b", "a/b/lfs/objects/" + oid[:2] + "/" + oid[2:4] + "/" + oid, oid},
		{"repo", "other/lfs/objects/" + oid[:2] + "/" + oid[2:4] + "/" + oid, ""},
		{"repo", "repo/lfs/objects/00/00/" + oid, ""},
		{"repo", "repo/lfs/objects/" + oid[:2] + "/" + oid[2:4] + "/" + strings.ToUpper(oid), ""},
		{"repo", "repo/lfs/objects/README", ""},
		{"repo", "repo/lfs/objects/" + oid[:2] + "/" + oid[2:4] + "/" + oid + "/x", ""},
	}
	for _, tt := range tests {
		loc := s3store.Location{Bucket: "b", Prefix: tt.prefix}
		if got := loc.OidOf(tt.key); got != tt.want {
			t.Errorf("Location{Prefix: %q}.OidOf(%q) = %q, want %q", tt.prefix, tt.key, got, tt.want)
		}
	}
}

func TestHeadListDelete(t *testing.T) {
	ctx := context.Background()
	srv := mems3.Start(t, "bucket")
	s := openStore(t, srv.URL+"/bucket/repo")
	small, smallOid := storetest.Object(100, 1)
	other, otherOid := storetest.Object(200, 2)
	for _, o := range []struct {
		data []byte
		oid  string
	}{{small, smallOid}, {other, otherOid}} {
		if err := s.Upload(ctx, o.oid, int64(len(o.data)), strings.NewReader(string(o.data)), func(int64) {}); err != nil {
			t.Fatal(err)
		}
	}
	// A foreign key under lfs/objects/ and one outside it.
	srv.Put(t, "bucket", "repo/lfs/objects/README", []byte("not an object"))
	srv.Put(t, "bucket", "repo/elsewhere", []byte("x"))

	info, err := s.Head(ctx, smallOid)
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != 100 || info.Oid != smallOid || info.LastModified.IsZero() {
		t.Errorf("Head = %+v, want size 100, oid %s and a modification time", info, smallOid)
	}
	// gofakes3 keeps no checksums; when a server does, it must be the oid.
	if info.SHA256 != "" && info.SHA256 != smallOid {
		t.Errorf("Head SHA256 = %s, want %s or nothing", info.SHA256, smallOid)
	}
	_, missingOid := storetest.Object(3, 3)
	if _, err := s.Head(ctx, missingOid); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Head(missing) error = %v, want fs.ErrNotExist", err)
	}

	type entry struct {
		Key  string
		Oid  string
		Size int64
	}
	list := func() []entry {
		var got []entry
		err := s.List(ctx, func(o s3store.ObjectInfo) error {
			if o.LastModified.IsZero() || time.Since(o.LastModified) > time.Hour {
				t.Errorf("List: %s LastModified = %v, want about now", o.Key, o.LastModified)
			}
			got = append(got, entry{o.Key, o.Oid, o.Size})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		sort.Slice(got, func(i, j int) bool { return got[i].Key < got[j].Key })
		return got
	}
	key := func(oid string) string { return "repo/lfs/objects/" + oid[:2] + "/" + oid[2:4] + "/" + oid }
	want := []entry{{key(smallOid), smallOid, 100}, {key(otherOid), otherOid, 200}, {"repo/lfs/objects/README", "", 13}}
	sort.Slice(want, func(i, j int) bool { return want[i].Key < want[j].Key })
	if diff := cmp.Diff(want, list()); diff != "" {
		t.Errorf("List mismatch (-want +got):\n%s", diff)
	}

	stop := errors.New("stop")
	if err := s.List(ctx, func(s3store.ObjectInfo) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("List with a failing callback = %v, want its error", err)
	}

	if err := s.Delete(ctx, smallOid); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, missingOid); err != nil {
		t.Errorf("Delete(missing) = %v, want nil", err)
	}
	if _, err := s.Head(ctx, smallOid); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Head after Delete error = %v, want fs.ErrNotExist", err)
	}
	want = []entry{{key(otherOid), otherOid, 200}, {"repo/lfs/objects/README", "", 13}}
	sort.Slice(want, func(i, j int) bool { return want[i].Key < want[j].Key })
	if diff := cmp.Diff(want, list()); diff != "" {
		t.Errorf("List after Delete mismatch (-want +got):\n%s", diff)
	}
}

func TestBucketChecks(t *testing.T) {
	ctx := context.Background()
	srv := mems3.Start(t, "bucket")

	s := openStore(t, srv.URL+"/bucket/repo")
	if err := s.CheckBucket(ctx); err != nil {
		t.Errorf("CheckBucket = %v, want nil", err)
	}
	status, err := s.Versioning(ctx)
	if err != nil || status != "" {
		t.Errorf("Versioning = %q, %v, want \"\", nil for a new bucket", status, err)
	}
	// gofakes3 has no lifecycle API and answers with a listing: no rules.
	if r, ok, err := s.AbortUploadsRule(ctx, "repo/lfs/objects/"); ok {
		t.Errorf("AbortUploadsRule on gofakes3 = %v, %v, %v, want no rule", r, ok, err)
	}

	missing := openStore(t, srv.URL+"/nosuchbucket/repo")
	err = missing.CheckBucket(ctx)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), `bucket "nosuchbucket" does not exist`) {
		t.Errorf("CheckBucket(missing bucket) = %v, want fs.ErrNotExist naming the bucket", err)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	closed := openStore(t, "http://"+addr+"/bucket/repo")
	err = closed.CheckBucket(ctx)
	if err == nil || !strings.Contains(err.Error(), "cannot reach the S3 endpoint at http://"+addr) {
		t.Errorf("CheckBucket(closed port) = %v, want cannot reach", err)
	}
}
