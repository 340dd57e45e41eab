package dataset

import (
	"context"
	"fmt"
	"sync"

	"github.com/datalfs/datalfs/s3ref"
	"github.com/datalfs/datalfs/s3store"
)

// Bucket is what the dataset commands need of a bucket. *s3store.Objects
// implements it; s3store is the only package that speaks to the SDK.
type Bucket interface {
	Head(ctx context.Context, key, version string) (s3store.ObjectHead, error)
	Open(ctx context.Context, key, version string) (*s3store.ObjectReader, error)
	Versioned(ctx context.Context) (bool, error)
	ListCurrent(ctx context.Context, prefix string, versioned bool, fn func(s3store.ListedObject) error) error
	VersionIDs(ctx context.Context, key string) ([]string, error)
	Delete(ctx context.Context, key, version string) error
	Explain(err error, op string, r s3ref.Ref) error
}

// Clients hands out one Bucket per bucket name. The bucket of the
// repository's LFS URL uses that URL's endpoint; any other bucket goes
// through the SDK's standard settings (AWS_ENDPOINT_URL_S3,
// AWS_ENDPOINT_URL, endpoint_url in the profile), addressed path-style
// when that endpoint is not AWS.
type Clients struct {
	// LFS is the store of the repository's LFS URL; nil outside a repository
	// or when it has no usable LFS URL.
	LFS  *s3store.Store
	Opts s3store.Options

	mu sync.Mutex
	m  map[string]Bucket
}

// NewClients returns clients sharing opts, with lfs (possibly nil) serving
// its own bucket.
func NewClients(lfs *s3store.Store, opts s3store.Options) *Clients {
	return &Clients{LFS: lfs, Opts: opts, m: map[string]Bucket{}}
}

// For returns the objects of bucket.
func (c *Clients) For(ctx context.Context, bucket string) (Bucket, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b, ok := c.m[bucket]; ok {
		return b, nil
	}
	if c.LFS != nil && c.LFS.Location().Bucket == bucket {
		c.m[bucket] = c.LFS.Objects()
		return c.m[bucket], nil
	}
	st, err := s3store.ForBucket(ctx, bucket, c.Opts)
	if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", bucket, err)
	}
	c.m[bucket] = st.Objects()
	return c.m[bucket], nil
}
