package dataset

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/datalfs/datalfs/s3store"
)

// Clients hands out one S3 client per bucket. The bucket of the
// repository's LFS URL uses that URL's endpoint; any other bucket goes
// through the SDK's standard settings (AWS_ENDPOINT_URL_S3,
// AWS_ENDPOINT_URL, endpoint_url in the profile), addressed path-style
// when that endpoint is not AWS.
type Clients struct {
	// LFS is the store of the repository's LFS URL; nil outside a repository
	// or when it has no usable LFS URL.
	LFS  *s3store.Store
	Opts s3store.Options

	mu     sync.Mutex
	m      map[string]*s3.Client
	probes map[string]*s3store.NotFoundProbe
}

// NewClients returns clients sharing opts, with lfs (possibly nil) serving
// its own bucket.
func NewClients(lfs *s3store.Store, opts s3store.Options) *Clients {
	return &Clients{LFS: lfs, Opts: opts, m: map[string]*s3.Client{}, probes: map[string]*s3store.NotFoundProbe{}}
}

// Probe returns the probe that tells, for bucket, a missing object from a
// refused request when a HEAD answers 404.
func (c *Clients) Probe(bucket string) *s3store.NotFoundProbe {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.probes[bucket]
	if !ok {
		p = &s3store.NotFoundProbe{}
		c.probes[bucket] = p
	}
	return p
}

// For returns the client for bucket.
func (c *Clients) For(ctx context.Context, bucket string) (*s3.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.m[bucket]; ok {
		return cl, nil
	}
	if c.LFS != nil && c.LFS.Location().Bucket == bucket {
		c.m[bucket] = c.LFS.Client()
		return c.m[bucket], nil
	}
	st, err := s3store.New(ctx, s3store.Location{Bucket: bucket}, c.Opts)
	if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", bucket, err)
	}
	if ep := st.Client().Options().BaseEndpoint; ep != nil && !isAWS(*ep) {
		// A non-AWS endpoint from the environment or profile: path-style,
		// and no default CRC headers, as for the LFS bucket.
		if st, err = s3store.New(ctx, s3store.Location{Bucket: bucket, Endpoint: *ep}, c.Opts); err != nil {
			return nil, fmt.Errorf("bucket %s: %w", bucket, err)
		}
	}
	c.m[bucket] = st.Client()
	return c.m[bucket], nil
}

func isAWS(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil {
		return false
	}
	h := strings.ToLower(u.Hostname())
	return strings.HasSuffix(h, ".amazonaws.com") || strings.HasSuffix(h, ".amazonaws.com.cn")
}

// where names the endpoint a client talks to, for messages.
func where(cl *s3.Client) string {
	if ep := cl.Options().BaseEndpoint; ep != nil {
		return " at " + aws.ToString(ep)
	}
	return ""
}
