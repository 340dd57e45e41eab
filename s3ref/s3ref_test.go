package s3ref

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    Ref
		wantErr string // substring of the error; "" when in is well formed
	}{
		{in: "s3://bucket/key", want: Ref{Bucket: "bucket", Key: "key"}},
		{in: "s3://my.bucket-1/a/b/c.jpg", want: Ref{Bucket: "my.bucket-1", Key: "a/b/c.jpg"}},
		{in: "s3://bkt/dir/a b.jpg", want: Ref{Bucket: "bkt", Key: "dir/a b.jpg"}},
		{in: "s3://bkt/k?versionId=abc.DEF_123", want: Ref{Bucket: "bkt", Key: "k", VersionID: "abc.DEF_123"}},
		{in: "s3://bkt/k?versionId=a%2Fb%3D%3D", want: Ref{Bucket: "bkt", Key: "k", VersionID: "a/b=="}},
		{in: "s3://bkt/k?versionId=a%2Bb", want: Ref{Bucket: "bkt", Key: "k", VersionID: "a+b"}},
		// A literal '=' can only mean itself.
		{in: "s3://bkt/k?versionId=a=b", want: Ref{Bucket: "bkt", Key: "k", VersionID: "a=b"}},
		{in: "s3://bkt/k?versionId=a+b", wantErr: "literal '+'"},
		{in: "s3://bkt/k?versionId=", wantErr: "exactly ?versionId="},
		{in: "s3://bkt/k?versionId=1&x=2", wantErr: "exactly ?versionId="},
		{in: "s3://bkt/k?acl", wantErr: "exactly ?versionId="},
		{in: "s3://bkt/k?other=1", wantErr: "exactly ?versionId="},
		{in: "s3://bkt/k?versionId=%zz", wantErr: "bad %-escape"},
		{in: "s3://bkt/k?versionId=%0A", wantErr: "control character"},
		{in: "s3://bkt", wantErr: "no object key"},
		{in: "s3://bkt/", wantErr: "no object key"},
		{in: "s3://bkt/?versionId=1", wantErr: "no object key"},
		{in: "s3:///k", wantErr: "no bucket"},
		{in: "s3://ab/key", wantErr: "3 to 63"},
		{in: "s3://Bucket/key", wantErr: "only a-z"},
		{in: "s3://-bucket/key", wantErr: "start and end"},
		{in: "s3://bu..cket/key", wantErr: `".."`},
		{in: "s3://bkt/a\nb", wantErr: "control character"},
		{in: "https://bkt/k", wantErr: "not an S3 URI"},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if tt.wantErr != "" {
			var re *Error
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.As(err, &re) {
				t.Errorf("Parse(%q) error = %v, want *Error with %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Parse(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
	r := Ref{Bucket: "bkt", Key: "k", VersionID: "x/y+z== w"}
	if got, want := r.String(), "s3://bkt/k?versionId=x%2Fy%2Bz%3D%3D%20w"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestParsePrefix(t *testing.T) {
	for in, want := range map[string][2]string{
		"s3://bkt":          {"bkt", ""},
		"s3://bkt/":         {"bkt", ""},
		"s3://bkt/train/":   {"bkt", "train/"},
		"s3://bkt/a b/c.jp": {"bkt", "a b/c.jp"},
	} {
		b, p, err := ParsePrefix(in)
		if err != nil || b != want[0] || p != want[1] {
			t.Errorf("ParsePrefix(%q) = %q, %q, %v; want %q, %q", in, b, p, err, want[0], want[1])
		}
	}
	for _, in := range []string{"s3:///x", "s3://B/x", "bkt/x", "s3://bkt/x?versionId=1"} {
		if _, _, err := ParsePrefix(in); err == nil {
			t.Errorf("ParsePrefix(%q) accepted", in)
		}
	}
}

// FuzzParse hunts for a reference that Parse accepts but cannot write back,
// or that it reads differently the second time.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"s3://bkt/k", "s3://bkt/k?versionId=a%2Fb", "s3://bkt/k?versionId=a=b", "s3://a.b/c?d", "s3://bkt/%41?versionId=%41"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s)
		if err != nil {
			return
		}
		if CheckBucket(r.Bucket) != nil || r.Key == "" || strings.Contains(r.Key, "?") {
			t.Fatalf("Parse(%q) = %+v breaks the rules", s, r)
		}
		back, err := Parse(r.String())
		if err != nil || back != r {
			t.Fatalf("Parse(%q) = %+v; Parse(%q) = %+v, %v", s, r, r.String(), back, err)
		}
	})
}
