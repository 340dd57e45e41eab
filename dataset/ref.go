package dataset

import (
	"fmt"
	"net/url"
	"strings"
)

// Ref is a reference to an S3 object, optionally pinned to one version.
type Ref struct {
	Bucket    string
	Key       string
	VersionID string // empty when not pinned
}

// ParseRef reads s3://BUCKET/KEY, optionally followed by ?versionId=VERSION.
// The key is taken literally (SageMaker writes keys unescaped); the version
// id is query-escaped, so ids holding '/', '=' or '+' survive (gofakes3 and
// some stores mint such ids). A literal '?' in a key cannot be written.
func ParseRef(s string) (Ref, error) {
	rest, ok := strings.CutPrefix(s, "s3://")
	if !ok {
		return Ref{}, fmt.Errorf("not an S3 reference %q: want s3://BUCKET/KEY[?versionId=VERSION]", shorten(s))
	}
	bucket, key, _ := strings.Cut(rest, "/")
	if bucket == "" {
		return Ref{}, fmt.Errorf("S3 reference %q has no bucket: want s3://BUCKET/KEY", shorten(s))
	}
	key, query, hasQuery := strings.Cut(key, "?")
	if key == "" {
		return Ref{}, fmt.Errorf("S3 reference %q has no object key: want s3://BUCKET/KEY", shorten(s))
	}
	r := Ref{Bucket: bucket, Key: key}
	if hasQuery {
		v, ok := strings.CutPrefix(query, "versionId=")
		if !ok || v == "" || strings.ContainsAny(v, "&?") {
			return Ref{}, fmt.Errorf("S3 reference %q: the query must be exactly ?versionId=VERSION", shorten(s))
		}
		id, err := url.QueryUnescape(v)
		if err != nil {
			return Ref{}, fmt.Errorf("S3 reference %q: bad escape in the version id: %w", shorten(s), err)
		}
		r.VersionID = id
	}
	return r, nil
}

// String writes the reference back as s3://BUCKET/KEY[?versionId=ESCAPED];
// ParseRef(r.String()) == r for every key without '?'.
func (r Ref) String() string {
	s := "s3://" + r.Bucket + "/" + r.Key
	if r.VersionID != "" {
		s += "?versionId=" + url.QueryEscape(r.VersionID)
	}
	return s
}

// Object is the reference without its version: s3://BUCKET/KEY.
func (r Ref) Object() string { return "s3://" + r.Bucket + "/" + r.Key }

func shorten(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}
