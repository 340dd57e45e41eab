// Package s3ref holds the one reference type for S3 objects,
// s3://BUCKET/KEY[?versionId=VERSION], and the one set of rules for reading it.
// Manifest validation, the dataset commands, lineage and the CLI all parse
// references here, so they can never disagree about whether one is well formed.
//
// The rules:
//   - the bucket follows S3's naming rules for general purpose buckets
//     (CheckBucket);
//   - the key is taken literally (SageMaker and most tools write keys
//     unescaped), must not be empty and must not hold a NUL, CR or LF; so a
//     literal '?' cannot be part of a key;
//   - the only query allowed is versionId=VERSION, VERSION non-empty and
//     query-escaped: '%XX' escapes are decoded, and a literal '+', ' ', '&' or
//     '?' is refused (write '+' as %2B), so that a version id can never be read
//     two ways. String writes every id back in this form, and
//     Parse(r.String()) == r for every Ref that Parse accepts.
package s3ref

import (
	"fmt"
	"net/url"
	"strings"
)

// Scheme is the prefix every reference starts with.
const Scheme = "s3://"

// Ref is a reference to an S3 object, optionally pinned to one version.
type Ref struct {
	Bucket    string
	Key       string
	VersionID string // empty when not pinned
}

// Error is a reference that breaks the rules. Reason says which rule, in a
// form that reads on its own ("S3 URI has no object key: ...").
type Error struct {
	Input  string
	Reason string
}

func (e *Error) Error() string {
	return fmt.Sprintf("S3 reference %q: %s", Shorten(e.Input), e.Reason)
}

// Parse reads s3://BUCKET/KEY, optionally followed by ?versionId=VERSION,
// under the package's rules. Its errors are *Error.
func Parse(s string) (Ref, error) {
	fail := func(format string, args ...any) (Ref, error) {
		return Ref{}, &Error{Input: s, Reason: fmt.Sprintf(format, args...)}
	}
	rest, ok := strings.CutPrefix(s, Scheme)
	if !ok {
		return fail("not an S3 URI: want s3://bucket/key[?versionId=VERSION]")
	}
	bucket, key, hasSlash := strings.Cut(rest, "/")
	if bucket == "" {
		return fail("S3 URI has no bucket: want s3://bucket/key")
	}
	if err := CheckBucket(bucket); err != nil {
		return fail("%v", err)
	}
	key, query, hasQuery := strings.Cut(key, "?")
	if !hasSlash || key == "" {
		return fail("S3 URI has no object key: want s3://bucket/key")
	}
	if strings.ContainsAny(key, "\x00\n\r") {
		return fail("S3 object key holds a control character")
	}
	r := Ref{Bucket: bucket, Key: key}
	if !hasQuery {
		return r, nil
	}
	v, ok := strings.CutPrefix(query, "versionId=")
	if !ok || v == "" || strings.ContainsAny(v, "&?") {
		return fail("S3 URI query must be exactly ?versionId=VERSION")
	}
	if strings.ContainsAny(v, "+ ") {
		return fail("S3 version id holds a literal '+' or space: escape it (%%2B, %%20)")
	}
	id, err := url.QueryUnescape(v)
	if err != nil {
		return fail("S3 version id has a bad %%-escape")
	}
	if strings.ContainsAny(id, "\x00\n\r") {
		return fail("S3 version id holds a control character")
	}
	r.VersionID = id
	return r, nil
}

// ParsePrefix reads s3://BUCKET[/PREFIX], a bucket and a key prefix that may be
// empty, as the listing commands take it. No query is allowed.
func ParsePrefix(s string) (bucket, prefix string, err error) {
	fail := func(format string, args ...any) (string, string, error) {
		return "", "", &Error{Input: s, Reason: fmt.Sprintf(format, args...)}
	}
	rest, ok := strings.CutPrefix(s, Scheme)
	if !ok {
		return fail("not an S3 URI: want s3://bucket/prefix")
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	if bucket == "" {
		return fail("S3 URI has no bucket: want s3://bucket/prefix")
	}
	if err := CheckBucket(bucket); err != nil {
		return fail("%v", err)
	}
	if strings.ContainsAny(prefix, "?\x00\n\r") {
		return fail("an S3 prefix takes no query and no control characters")
	}
	return bucket, prefix, nil
}

// String writes the reference as s3://BUCKET/KEY[?versionId=ESCAPED].
func (r Ref) String() string {
	s := r.Object()
	if r.VersionID != "" {
		// QueryEscape writes a space as "+", which Parse refuses as ambiguous.
		s += "?versionId=" + strings.ReplaceAll(url.QueryEscape(r.VersionID), "+", "%20")
	}
	return s
}

// Object is the reference without its version: s3://BUCKET/KEY.
func (r Ref) Object() string { return Scheme + r.Bucket + "/" + r.Key }

// CheckBucket reports whether b is a valid S3 bucket name: 3 to 63
// characters of a-z, 0-9, '-' and '.', starting and ending with a letter or
// digit, with no "..". The error reads on its own.
func CheckBucket(b string) error {
	if len(b) < 3 || len(b) > 63 {
		return fmt.Errorf("S3 bucket name %q must be 3 to 63 characters long", Shorten(b))
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !(isAlnum(c) || c == '-' || c == '.') {
			return fmt.Errorf("S3 bucket name %q may hold only a-z, 0-9, '-' and '.'", Shorten(b))
		}
	}
	if !isAlnum(b[0]) || !isAlnum(b[len(b)-1]) {
		return fmt.Errorf("S3 bucket name %q must start and end with a letter or digit", b)
	}
	if strings.Contains(b, "..") {
		return fmt.Errorf("S3 bucket name %q must not hold \"..\"", b)
	}
	return nil
}

func isAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// Shorten cuts s to at most 80 bytes for an error message.
func Shorten(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}
