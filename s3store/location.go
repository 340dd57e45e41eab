// Package s3store keeps Git LFS objects in an S3 bucket (AWS or any
// S3-compatible store) with aws-sdk-go-v2.
package s3store

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
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
	// Accelerate, DualStack and FIPS are the AWS endpoint variants the URL's
	// host names (s3-accelerate, dualstack, s3-fips); the SDK resolves them.
	Accelerate, DualStack, FIPS bool
}

var (
	// An AWS region as it appears in S3 host names: us-east-1, us-gov-west-1, cn-north-1.
	awsRegionName = regexp.MustCompile(`^[a-z]{2}(?:-[a-z]+)+-[0-9]+$`)
	// A bucket name as S3 allows it (3 to 63 characters, lower case, digits, dots, hyphens).
	bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
)

const urlHint = "want an http(s) URL naming an S3 bucket, such as https://BUCKET.s3.REGION.amazonaws.com/PREFIX or http://HOST:PORT/BUCKET/PREFIX"

// ParseURL reads a Git LFS URL as a bucket location:
//
//	https://BUCKET.s3.REGION.amazonaws.com/PREFIX   (AWS, virtual-hosted style)
//	https://s3.REGION.amazonaws.com/BUCKET/PREFIX   (AWS, path style)
//	http(s)://HOST[:PORT]/BUCKET/PREFIX             (any S3-compatible endpoint, path style)
//
// AWS hosts may also be legacy (s3-REGION, s3-external-1, no region),
// accelerated (BUCKET.s3-accelerate.amazonaws.com), dual-stack
// (s3.dualstack.REGION) or FIPS (s3-fips.REGION), in the .amazonaws.com.cn
// partition too; an explicit default port (:443 for https, :80 for http)
// changes nothing.
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
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "" {
		return Location{}, fmt.Errorf("LFS URL %q names no host: %s", raw, urlHint)
	}
	port := u.Port()
	if (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
		port = ""
	}
	path := strings.Trim(u.Path, "/")
	var loc Location
	if awsLoc, isAWS, err := parseAWSHost(host); isAWS {
		if err != nil {
			return Location{}, fmt.Errorf("LFS URL %q: %v", raw, err)
		}
		if port != "" {
			return Location{}, fmt.Errorf("LFS URL %q: AWS S3 answers on the default port only: remove :%s", raw, port)
		}
		loc = awsLoc
		if loc.Bucket == "" {
			bucket, prefix, _ := strings.Cut(path, "/")
			loc.Bucket, loc.Prefix = bucket, strings.Trim(prefix, "/")
			if loc.Accelerate {
				return Location{}, fmt.Errorf("LFS URL %q: Transfer Acceleration needs the bucket in the host name: https://BUCKET.s3-accelerate.amazonaws.com/PREFIX", raw)
			}
		} else {
			loc.Prefix = path
		}
	} else {
		bucket, prefix, _ := strings.Cut(path, "/")
		loc = Location{Bucket: bucket, Prefix: strings.Trim(prefix, "/"), Endpoint: u.Scheme + "://" + hostPort(host, port)}
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

// hostPort puts host (brackets added for IPv6) and port, if any, together.
func hostPort(host, port string) string {
	if port != "" {
		return net.JoinHostPort(host, port)
	}
	if strings.Contains(host, ":") {
		return "[" + host + "]"
	}
	return host
}

// parseAWSHost reads an AWS S3 host name, right to left:
// [BUCKET.]SERVICE[.dualstack][.REGION].amazonaws.com[.cn], where SERVICE is
// s3, s3-accelerate, s3-fips, s3-external-1 or the legacy s3-REGION. isAWS
// is false for hosts outside amazonaws.com and for VPC endpoint hosts
// (*.vpce.amazonaws.com), which are addressed like any other endpoint.
func parseAWSHost(host string) (loc Location, isAWS bool, err error) {
	rest, ok := strings.CutSuffix(host, ".amazonaws.com")
	if !ok {
		rest, ok = strings.CutSuffix(host, ".amazonaws.com.cn")
	}
	if !ok || strings.HasSuffix(rest, ".vpce") {
		return Location{}, false, nil
	}
	labels := strings.Split(rest, ".")
	last := func() string { return labels[len(labels)-1] }
	if len(labels) > 1 && awsRegionName.MatchString(last()) {
		loc.Region, labels = last(), labels[:len(labels)-1]
	}
	if len(labels) > 1 && last() == "dualstack" {
		loc.DualStack, labels = true, labels[:len(labels)-1]
	}
	service := last()
	switch {
	case service == "s3":
	case service == "s3-accelerate" && loc.Region == "":
		loc.Accelerate = true
	case service == "s3-fips":
		loc.FIPS = true
	case service == "s3-external-1" && loc.Region == "":
		loc.Region = "us-east-1"
	case strings.HasPrefix(service, "s3-") && loc.Region == "" && !loc.DualStack && awsRegionName.MatchString(service[3:]):
		loc.Region = service[3:]
	default:
		return Location{}, true, fmt.Errorf("%s is not an S3 API host datalfs knows: use https://BUCKET.s3.REGION.amazonaws.com/PREFIX "+
			"(or its s3-accelerate, dualstack or s3-fips form)", host)
	}
	loc.Bucket = strings.Join(labels[:len(labels)-1], ".")
	return loc, true, nil
}

// applyEndpoint selects the AWS endpoint variant the URL named (accelerate,
// dual-stack, FIPS); the SDK resolves the host from it and the region.
func (l Location) applyEndpoint(o *s3.Options) {
	if l.Accelerate {
		o.UseAccelerate = true
	}
	if l.DualStack {
		o.EndpointOptions.UseDualStackEndpoint = aws.DualStackEndpointStateEnabled
	}
	if l.FIPS {
		o.EndpointOptions.UseFIPSEndpoint = aws.FIPSEndpointStateEnabled
	}
}

// Variant names the AWS endpoint variants the URL chose, such as
// "accelerate, dual-stack", or "" for the standard endpoint.
func (l Location) Variant() string {
	var v []string
	if l.Accelerate {
		v = append(v, "accelerate")
	}
	if l.DualStack {
		v = append(v, "dual-stack")
	}
	if l.FIPS {
		v = append(v, "FIPS")
	}
	return strings.Join(v, ", ")
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
	if v := l.Variant(); v != "" {
		s += " (" + v + ")"
	}
	return s
}
