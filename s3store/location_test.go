package s3store

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		url  string
		want Location
	}{
		{"https://my-bucket.s3.eu-west-1.amazonaws.com/team/repo", Location{Bucket: "my-bucket", Prefix: "team/repo", Region: "eu-west-1"}},
		{"https://my-bucket.s3.eu-west-1.amazonaws.com", Location{Bucket: "my-bucket", Region: "eu-west-1"}},
		{"https://my-bucket.s3.amazonaws.com/p/", Location{Bucket: "my-bucket", Prefix: "p"}},
		{"https://my-bucket.s3-us-west-2.amazonaws.com/p", Location{Bucket: "my-bucket", Prefix: "p", Region: "us-west-2"}},
		{"https://data.example.org.s3.us-east-2.amazonaws.com/x", Location{Bucket: "data.example.org", Prefix: "x", Region: "us-east-2"}},
		{"https://s3.ap-south-1.amazonaws.com/my-bucket/a/b/c", Location{Bucket: "my-bucket", Prefix: "a/b/c", Region: "ap-south-1"}},
		{"https://s3.amazonaws.com/my-bucket", Location{Bucket: "my-bucket"}},
		{"http://127.0.0.1:9000/bucket/repo", Location{Bucket: "bucket", Prefix: "repo", Endpoint: "http://127.0.0.1:9000"}},
		{"https://minio.internal/bucket", Location{Bucket: "bucket", Endpoint: "https://minio.internal"}},
		{"http://localhost:8333/bucket/", Location{Bucket: "bucket", Endpoint: "http://localhost:8333"}},
	}
	for _, tt := range tests {
		got, err := ParseURL(tt.url)
		if err != nil {
			t.Errorf("ParseURL(%q) error: %v", tt.url, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseURL(%q) mismatch (-want +got):\n%s", tt.url, diff)
		}
	}
}

func TestParseURLErrors(t *testing.T) {
	tests := []struct{ url, want string }{
		{"s3://bucket/prefix", "want an http(s) URL"},
		{"git@github.com:org/repo.git", "want an http(s) URL"},
		{"http://127.0.0.1:9000/", "names no bucket"},
		{"http://127.0.0.1:9000/Bad_Bucket/x", "not a valid bucket name"},
		{"http://key:secret@127.0.0.1:9000/bucket", "carries credentials"},
		{"http://127.0.0.1:9000/bucket/a/../b", `"..`},
		{"http://127.0.0.1:9000/bucket/a//b", "empty"},
		{"http://127.0.0.1:9000/bucket?x=1", "query"},
		{"https://s3///bucket/prefix", "empty path segment"}, // what git-lfs makes of s3://bucket/prefix
	}
	for _, tt := range tests {
		_, err := ParseURL(tt.url)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseURL(%q) error = %v, want it to contain %q", tt.url, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("ParseURL(%q) error repeats the secret: %v", tt.url, err)
		}
	}
}

func TestKey(t *testing.T) {
	oid := strings.Repeat("ab", 32)
	tests := []struct {
		prefix, want string
	}{
		{"", "lfs/objects/ab/ab/" + oid},
		{"team/repo", "team/repo/lfs/objects/ab/ab/" + oid},
	}
	for _, tt := range tests {
		if got := (Location{Bucket: "b", Prefix: tt.prefix}).Key(oid); got != tt.want {
			t.Errorf("Key with prefix %q = %q, want %q", tt.prefix, got, tt.want)
		}
	}
}
