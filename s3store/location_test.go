package s3store

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/google/go-cmp/cmp"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		url  string
		want Location
	}{
		// AWS, virtual-hosted style.
		{"https://my-bucket.s3.eu-west-1.amazonaws.com/team/repo", Location{Bucket: "my-bucket", Prefix: "team/repo", Region: "eu-west-1"}},
		{"https://my-bucket.s3.eu-west-1.amazonaws.com", Location{Bucket: "my-bucket", Region: "eu-west-1"}},
		{"https://my-bucket.s3.amazonaws.com/p/", Location{Bucket: "my-bucket", Prefix: "p"}},
		{"https://my-bucket.s3-us-west-2.amazonaws.com/p", Location{Bucket: "my-bucket", Prefix: "p", Region: "us-west-2"}},
		{"https://data.example.org.s3.us-east-2.amazonaws.com/x", Location{Bucket: "data.example.org", Prefix: "x", Region: "us-east-2"}},
		{"https://s3.example.s3.us-east-2.amazonaws.com/x", Location{Bucket: "s3.example", Prefix: "x", Region: "us-east-2"}},
		{"https://My-Bucket.S3.EU-WEST-1.amazonaws.com./p", Location{Bucket: "my-bucket", Prefix: "p", Region: "eu-west-1"}},
		{"https://my-bucket.s3.cn-north-1.amazonaws.com.cn/p", Location{Bucket: "my-bucket", Prefix: "p", Region: "cn-north-1"}},
		{"https://my-bucket.s3-external-1.amazonaws.com/p", Location{Bucket: "my-bucket", Prefix: "p", Region: "us-east-1"}},
		// AWS, path style.
		{"https://s3.ap-south-1.amazonaws.com/my-bucket/a/b/c", Location{Bucket: "my-bucket", Prefix: "a/b/c", Region: "ap-south-1"}},
		{"https://s3.amazonaws.com/my-bucket", Location{Bucket: "my-bucket"}},
		{"https://s3-eu-west-1.amazonaws.com/my-bucket/p", Location{Bucket: "my-bucket", Prefix: "p", Region: "eu-west-1"}},
		{"https://s3-external-1.amazonaws.com/my-bucket/p", Location{Bucket: "my-bucket", Prefix: "p", Region: "us-east-1"}},
		// Transfer Acceleration.
		{"https://my-bucket.s3-accelerate.amazonaws.com/p", Location{Bucket: "my-bucket", Prefix: "p", Accelerate: true}},
		{"https://my-bucket.s3-accelerate.dualstack.amazonaws.com/p", Location{Bucket: "my-bucket", Prefix: "p", Accelerate: true, DualStack: true}},
		// Dual-stack, both styles.
		{"https://my-bucket.s3.dualstack.eu-west-1.amazonaws.com/p", Location{Bucket: "my-bucket", Prefix: "p", Region: "eu-west-1", DualStack: true}},
		{"https://s3.dualstack.us-east-1.amazonaws.com/my-bucket/p", Location{Bucket: "my-bucket", Prefix: "p", Region: "us-east-1", DualStack: true}},
		// FIPS, both styles, with dual-stack.
		{"https://my-bucket.s3-fips.us-gov-west-1.amazonaws.com/p", Location{Bucket: "my-bucket", Prefix: "p", Region: "us-gov-west-1", FIPS: true}},
		{"https://s3-fips.us-east-2.amazonaws.com/my-bucket", Location{Bucket: "my-bucket", Region: "us-east-2", FIPS: true}},
		{"https://my-bucket.s3-fips.dualstack.us-east-1.amazonaws.com/p", Location{Bucket: "my-bucket", Prefix: "p", Region: "us-east-1", FIPS: true, DualStack: true}},
		// An explicit default port changes nothing.
		{"https://my-bucket.s3.us-east-1.amazonaws.com:443/p", Location{Bucket: "my-bucket", Prefix: "p", Region: "us-east-1"}},
		{"https://s3.us-east-1.amazonaws.com:443/my-bucket/p", Location{Bucket: "my-bucket", Prefix: "p", Region: "us-east-1"}},
		{"https://my-bucket.s3-accelerate.amazonaws.com:443/p", Location{Bucket: "my-bucket", Prefix: "p", Accelerate: true}},
		{"https://minio.internal:443/bucket/p", Location{Bucket: "bucket", Prefix: "p", Endpoint: "https://minio.internal"}},
		{"http://minio.internal:80/bucket/p", Location{Bucket: "bucket", Prefix: "p", Endpoint: "http://minio.internal"}},
		// Custom endpoints, path style, other ports kept.
		{"http://127.0.0.1:9000/bucket/repo", Location{Bucket: "bucket", Prefix: "repo", Endpoint: "http://127.0.0.1:9000"}},
		{"https://minio.internal/bucket", Location{Bucket: "bucket", Endpoint: "https://minio.internal"}},
		{"http://localhost:8333/bucket/", Location{Bucket: "bucket", Endpoint: "http://localhost:8333"}},
		{"https://minio.internal:8443/bucket/p", Location{Bucket: "bucket", Prefix: "p", Endpoint: "https://minio.internal:8443"}},
		{"http://[::1]:9000/bucket/p", Location{Bucket: "bucket", Prefix: "p", Endpoint: "http://[::1]:9000"}},
		{"https://[::1]:443/bucket", Location{Bucket: "bucket", Endpoint: "https://[::1]"}},
		{"https://s3.us-west-001.backblazeb2.com/bucket/p", Location{Bucket: "bucket", Prefix: "p", Endpoint: "https://s3.us-west-001.backblazeb2.com"}},
		// A VPC interface endpoint is addressed like any other endpoint.
		{"https://bucket.vpce-1a2b-3c4d.s3.us-east-1.vpce.amazonaws.com/bucket2/p", Location{Bucket: "bucket2", Prefix: "p", Endpoint: "https://bucket.vpce-1a2b-3c4d.s3.us-east-1.vpce.amazonaws.com"}},
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

// TestLocationHost checks, through the SDK's own endpoint resolution, that
// each kind of AWS URL sends requests to the host it names.
func TestLocationHost(t *testing.T) {
	tests := []struct{ url, region, want string }{
		{"https://my-bucket.s3.eu-west-1.amazonaws.com/p", "", "my-bucket.s3.eu-west-1.amazonaws.com"},
		{"https://s3.eu-west-1.amazonaws.com/my-bucket/p", "", "my-bucket.s3.eu-west-1.amazonaws.com"},
		{"https://my-bucket.s3-accelerate.amazonaws.com/p", "us-west-2", "my-bucket.s3-accelerate.amazonaws.com"},
		{"https://my-bucket.s3-accelerate.dualstack.amazonaws.com/p", "us-west-2", "my-bucket.s3-accelerate.dualstack.amazonaws.com"},
		{"https://my-bucket.s3.dualstack.eu-west-1.amazonaws.com/p", "", "my-bucket.s3.dualstack.eu-west-1.amazonaws.com"},
		{"https://s3.dualstack.eu-west-1.amazonaws.com/my-bucket/p", "", "my-bucket.s3.dualstack.eu-west-1.amazonaws.com"},
		{"https://my-bucket.s3-fips.us-east-2.amazonaws.com/p", "", "my-bucket.s3-fips.us-east-2.amazonaws.com"},
		{"https://my-bucket.s3-fips.dualstack.us-east-2.amazonaws.com/p", "", "my-bucket.s3-fips.dualstack.us-east-2.amazonaws.com"},
		{"https://my-bucket.s3.us-east-1.amazonaws.com:443/p", "", "my-bucket.s3.us-east-1.amazonaws.com"},
	}
	for _, tt := range tests {
		loc, err := ParseURL(tt.url)
		if err != nil {
			t.Errorf("ParseURL(%q) error: %v", tt.url, err)
			continue
		}
		var host string
		client := s3.New(s3.Options{
			Region:      firstNonEmpty(loc.Region, tt.region),
			Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
			HTTPClient: smithyhttp.ClientDoFunc(func(r *http.Request) (*http.Response, error) {
				host = r.URL.Host
				return nil, errors.New("recorded")
			}),
			RetryMaxAttempts: 1,
		}, loc.applyEndpoint)
		client.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(loc.Bucket), Key: aws.String("k")})
		if host != tt.want {
			t.Errorf("%s: request went to %q, want %q", tt.url, host, tt.want)
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
		{"https://s3.us-east-1.amazonaws.com:8443/bucket", "default port only"},
		{"https://s3-accelerate.amazonaws.com/bucket/p", "Transfer Acceleration needs the bucket in the host name"},
		{"https://bucket.s3-website-us-east-1.amazonaws.com/p", "not an S3 API host"},
		{"https://bucket.s3-website.eu-west-1.amazonaws.com/p", "not an S3 API host"},
		{"https://ap-123456789012.s3-accesspoint.us-east-1.amazonaws.com/p", "not an S3 API host"},
		{"https://bucket.s3-accelerate.us-east-1.amazonaws.com/p", "not an S3 API host"},
		{"https://bucket.ec2.us-east-1.amazonaws.com/p", "not an S3 API host"},
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
