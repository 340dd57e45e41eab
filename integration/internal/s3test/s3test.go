// Package s3test holds the few S3 operations that the end-to-end tests and
// the s3tool command share: a client for a local S3-compatible server,
// bucket creation and sorted listings of objects and object versions.
package s3test

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// NewClient returns a path-style S3 client for endpoint (for example
// http://127.0.0.1:7070) that signs with the given static keys. It never
// consults the AWS credential chain, so no environment or instance metadata
// can change which server or identity a test talks to. Checksums are
// computed and validated only when the API requires them, which is what
// S3-compatible servers accept.
func NewClient(endpoint, accessKey, secretKey, region string) *s3.Client {
	cfg := aws.Config{
		Region:                     region,
		Credentials:                credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.UsePathStyle = true
	})
}

// CreateBucket creates bucket, and turns versioning on when versioned is
// true. A bucket that already exists and belongs to the caller is not an
// error.
func CreateBucket(ctx context.Context, c *s3.Client, bucket string, versioned bool) error {
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	var owned *types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		return fmt.Errorf("create bucket %q: %w", bucket, err)
	}
	if versioned {
		return EnableVersioning(ctx, c, bucket)
	}
	return nil
}

// EnableVersioning turns versioning on for bucket.
func EnableVersioning(ctx context.Context, c *s3.Client, bucket string) error {
	_, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
		Bucket:                  aws.String(bucket),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled},
	})
	if err != nil {
		return fmt.Errorf("enable versioning on bucket %q: %w", bucket, err)
	}
	return nil
}

// Object is one entry of a bucket listing.
type Object struct {
	Key          string
	Size         int64
	VersionID    string // set in version listings only
	DeleteMarker bool   // a version listing entry that hides the key
}

// List returns the current objects of bucket whose keys start with prefix,
// sorted by key.
func List(ctx context.Context, c *s3.Client, bucket, prefix string) ([]Object, error) {
	var objs []Object
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{
		Bucket: aws.String(bucket),
		Prefix: aws.String(prefix),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list s3://%s/%s: %w", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			objs = append(objs, Object{
				Key:  aws.ToString(o.Key),
				Size: aws.ToInt64(o.Size),
			})
		}
	}
	sort.Slice(objs, func(i, j int) bool { return objs[i].Key < objs[j].Key })
	return objs, nil
}

// ListVersions returns every version and delete marker of the keys in bucket
// that start with prefix, sorted by key and then by version id. Version ids
// are opaque, so the order within one key only makes listings comparable.
func ListVersions(ctx context.Context, c *s3.Client, bucket, prefix string) ([]Object, error) {
	var objs []Object
	p := s3.NewListObjectVersionsPaginator(c, &s3.ListObjectVersionsInput{
		Bucket: aws.String(bucket),
		Prefix: aws.String(prefix),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list versions of s3://%s/%s: %w", bucket, prefix, err)
		}
		for _, v := range page.Versions {
			objs = append(objs, Object{
				Key:       aws.ToString(v.Key),
				Size:      aws.ToInt64(v.Size),
				VersionID: aws.ToString(v.VersionId),
			})
		}
		for _, m := range page.DeleteMarkers {
			objs = append(objs, Object{
				Key:          aws.ToString(m.Key),
				VersionID:    aws.ToString(m.VersionId),
				DeleteMarker: true,
			})
		}
	}
	sort.Slice(objs, func(i, j int) bool {
		if objs[i].Key != objs[j].Key {
			return objs[i].Key < objs[j].Key
		}
		return objs[i].VersionID < objs[j].VersionID
	})
	return objs, nil
}
