// Package s3store keeps Git LFS objects in an S3 bucket (AWS or any
// S3-compatible store) with aws-sdk-go-v2.
package s3store

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// Location is where a repository's LFS objects live, parsed from its LFS URL.
type Location struct {
	// Bucket is the bucket name.
	Bucket string
	// Prefix is the key prefix without leading or trailing slashes; it may be empty.
	Prefix string
	// Region is the AWS region named by the URL, empty when the URL names none.
	Region string
	// Endpoint is the base URL of a non-AWS S3-compatible service, addressed
	// path-style; empty for AWS, where the SDK resolves the endpoint.
	Endpoint string
}

var (
	// BUCKET.s3.REGION.amazonaws.com, BUCKET.s3-REGION.amazonaws.com, BUCKET.s3.amazonaws.com
	awsVirtualHost = regexp.MustCompile(`^(.+)\.s3(?:[.-]([a-z0-9-]+))?\.amazonaws\.com(?:\.cn)?$`)
	// s3.REGION.amazonaws.com, s3-REGION.amazonaws.com, s3.amazonaws.com
	awsPathHost = regexp.MustCompile(`^s3(?:[.-]([a-z0-9-]+))?\.amazonaws\.com(?:\.cn)?$`)
	// A bucket name as S3 allows it (3 to 63 characters, lower case, digits, dots, hyphens).
	bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
)

const urlHint = "want an http(s) URL naming an S3 bucket, such as https://BUCKET.s3.REGION.amazonaws.com/PREFIX or http://HOST:PORT/BUCKET/PREFIX"

// ParseURL reads a Git LFS URL as a bucket location:
//
//	https://BUCKET.s3.REGION.amazonaws.com/PREFIX   (AWS, virtual-hosted style)
//	https://s3.REGION.amazonaws.com/BUCKET/PREFIX   (AWS, path style)
//	http(s)://HOST[:PORT]/BUCKET/PREFIX             (any S3-compatible endpoint, path style)
func ParseURL(raw string) (Location, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Location{}, fmt.Errorf("LFS URL %q: %s (%v)", raw, urlHint, err)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return Location{}, fmt.Errorf("LFS URL %q: %s", raw, urlHint)
	}
	if u.User != nil {
		return Location{}, fmt.Errorf("LFS URL %s carries credentials: remove them; datalfs takes credentials only from the AWS credential chain", u.Redacted())
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return Location{}, fmt.Errorf("LFS URL %q: remove the query or fragment", raw)
	}
	if strings.HasPrefix(u.Path, "//") {
		// git-lfs turns lfs.url = s3://B/P into https://s3///B/P.
		return Location{}, fmt.Errorf("LFS URL %q has an empty path segment before the bucket: %s", raw, urlHint)
	}
	host := strings.ToLower(u.Hostname())
	path := strings.Trim(u.Path, "/")
	var loc Location
	if m := awsVirtualHost.FindStringSubmatch(host); m != nil && u.Port() == "" {
		loc = Location{Bucket: m[1], Prefix: path, Region: awsRegion(m[2])}
	} else {
		bucket, prefix, _ := strings.Cut(path, "/")
		loc = Location{Bucket: bucket, Prefix: strings.Trim(prefix, "/")}
		if m := awsPathHost.FindStringSubmatch(host); m != nil && u.Port() == "" {
			loc.Region = awsRegion(m[1])
		} else {
			loc.Endpoint = u.Scheme + "://" + u.Host
		}
	}
	if loc.Bucket == "" {
		return Location{}, fmt.Errorf("LFS URL %q names no bucket: add it as the first path element, as in %s://%s/BUCKET/PREFIX", raw, u.Scheme, u.Host)
	}
	if !bucketName.MatchString(loc.Bucket) {
		return Location{}, fmt.Errorf("LFS URL %q: %q is not a valid bucket name (3-63 lower-case letters, digits, dots, hyphens)", raw, loc.Bucket)
	}
	for _, seg := range strings.Split(loc.Prefix, "/") {
		if seg == "." || seg == ".." || (seg == "" && loc.Prefix != "") {
			return Location{}, fmt.Errorf("LFS URL %q: the key prefix %q has an empty, \".\" or \"..\" segment", raw, loc.Prefix)
		}
	}
	return loc, nil
}

// awsRegion turns the region part of an AWS host name into a region; hosts
// without one (s3.amazonaws.com) and the dualstack form mean us-east-1 or the
// configured region, so they yield "".
func awsRegion(s string) string {
	if s == "" || s == "dualstack" {
		return ""
	}
	return s
}

// Key returns the object key of an LFS object:
// PREFIX/lfs/objects/OID[0:2]/OID[2:4]/OID. oid must be a valid oid.
func (l Location) Key(oid string) string {
	k := "lfs/objects/" + oid[0:2] + "/" + oid[2:4] + "/" + oid
	if l.Prefix == "" {
		return k
	}
	return l.Prefix + "/" + k
}

// URI returns s3://BUCKET/KEY for oid.
func (l Location) URI(oid string) string {
	return "s3://" + l.Bucket + "/" + l.Key(oid)
}

// String describes the location for people.
func (l Location) String() string {
	s := "s3://" + l.Bucket + "/" + l.Prefix
	if l.Endpoint != "" {
		s += " at " + l.Endpoint
	}
	return s
}
