package app

import (
	"strings"
	"testing"

	"github.com/datalfs/datalfs/internal/mems3"
	"github.com/datalfs/datalfs/s3store"
	"github.com/datalfs/datalfs/transfer/storetest"
)

func TestCheckShared(t *testing.T) {
	root := s3store.Location{Bucket: "b"}
	own := s3store.Location{Bucket: "b", Prefix: "team/repo"}
	tests := []struct {
		name    string
		o       gcOptions
		loc     s3store.Location
		wantErr string
	}{
		{"own prefix", gcOptions{}, own, ""},
		{"bucket root", gcOptions{}, root, "the LFS URL is the root of bucket b"},
		{"bucket root, others named", gcOptions{alsoRefRepos: []string{"../other"}}, root, ""},
		{"bucket root, stated alone", gcOptions{noOthers: true}, root, ""},
		{"shared", gcOptions{shared: true}, own, "--shared: name a clone of every other repository"},
		{"shared, others named", gcOptions{shared: true, alsoRefRepos: []string{"../other"}}, own, ""},
	}
	for _, tt := range tests {
		err := checkShared(tt.o, tt.loc)
		if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%s: checkShared = %v, want %q", tt.name, err, tt.wantErr)
		}
	}
}

func TestGCUsage(t *testing.T) {
	srv := mems3.Start(t, "bucket")
	testRepo(t, srv.URL+"/bucket")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"gc", "extra"}, "gc takes no arguments"},
		{[]string{"gc", "--grace", "-1h"}, "--grace: want a duration of 0s or more"},
		{[]string{"gc", "--jobs", "0"}, "--jobs"},
		{[]string{"gc", "--no-other-repos", "--shared"}, "contradicts"},
		{[]string{"gc"}, "refusing to collect garbage: the LFS URL is the root of bucket bucket"},
		{[]string{"gc", "--also-ref-repo", "/nonexistent/clone"}, "--also-ref-repo /nonexistent/clone: not a directory"},
	}
	for _, tt := range tests {
		code, _, stderr := runCmd(t, tt.args...)
		if code != exitUsage || !strings.Contains(stderr, tt.want) {
			t.Errorf("datalfs %s: exit %d, stderr %q; want 2 and %q", strings.Join(tt.args, " "), code, stderr, tt.want)
		}
	}
}

func TestGCCommand(t *testing.T) {
	srv := mems3.Start(t, "bucket")
	testRepo(t, srv.URL+"/bucket/repo")
	oidA, dataA := commitPointer(t, "a.bin", 100, 1)
	loc, err := s3store.ParseURL(srv.URL + "/bucket/repo")
	if err != nil {
		t.Fatal(err)
	}
	srv.Put(t, "bucket", loc.Key(oidA), dataA)
	orphan, oidOrphan := storetest.Object(200, 2) // no commit refers to it
	srv.Put(t, "bucket", loc.Key(oidOrphan), orphan)

	code, stdout, stderr := runCmd(t, "gc")
	if code != exitOK || !strings.Contains(stdout, "Nothing to delete") {
		t.Errorf("gc (default grace): exit %d, stdout %q, stderr %q; want 0 and nothing to delete", code, stdout, stderr)
	}
	code, stdout, _ = runCmd(t, "gc", "--grace", "0s")
	if code != exitOK || !strings.Contains(stdout, "garbage: "+oidOrphan) || strings.Contains(stdout, "garbage: "+oidA) {
		t.Errorf("gc --grace 0s: exit %d, stdout %q; want the orphan listed, a.bin not", code, stdout)
	}
	if n := len(srv.Keys(t, "bucket", "")); n != 2 {
		t.Errorf("gc without --delete left %d keys, want 2", n)
	}
	code, stdout, _ = runCmd(t, "gc", "--grace", "0s", "--delete")
	if code != exitOK || !strings.Contains(stdout, "Deleted 1 of 1 object") {
		t.Errorf("gc --delete: exit %d, stdout %q; want 1 deleted", code, stdout)
	}
	if keys := srv.Keys(t, "bucket", ""); len(keys) != 1 || keys[0] != loc.Key(oidA) {
		t.Errorf("bucket after gc = %q, want only a.bin's object", keys)
	}
}
