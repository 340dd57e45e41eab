package s3store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Pending is an unfinished multipart upload under the store's prefix.
type Pending struct {
	Key       string
	UploadID  string
	Initiated time.Time
}

// PendingUploads lists the unfinished multipart uploads of LFS objects
// under the prefix: pushes that were interrupted (and will be resumed by the
// next push of the same object) or abandoned.
func (s *Store) PendingUploads(ctx context.Context) ([]Pending, error) {
	if err := s.checkCredentials(ctx); err != nil {
		return nil, err
	}
	prefix := s.objectPrefix()
	var out []Pending
	p := s3.NewListMultipartUploadsPaginator(s.client, &s3.ListMultipartUploadsInput{Bucket: &s.loc.Bucket, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			if apiCode(err) == "NoSuchUpload" {
				break
			}
			return nil, fmt.Errorf("list unfinished uploads under s3://%s/%s: %w", s.loc.Bucket, prefix, err)
		}
		for _, u := range page.Uploads {
			out = append(out, Pending{Key: aws.ToString(u.Key), UploadID: aws.ToString(u.UploadId), Initiated: aws.ToTime(u.Initiated)})
		}
	}
	return out, nil
}

// AbortUpload discards an unfinished multipart upload and its parts.
func (s *Store) AbortUpload(ctx context.Context, p Pending) error {
	_, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &s.loc.Bucket, Key: &p.Key, UploadId: &p.UploadID})
	if err != nil {
		return fmt.Errorf("abort upload of s3://%s/%s: %w", s.loc.Bucket, p.Key, err)
	}
	return nil
}

// objectPrefix is the key prefix of every LFS object: PREFIX/lfs/objects/.
func (s *Store) objectPrefix() string {
	if s.loc.Prefix == "" {
		return "lfs/objects/"
	}
	return s.loc.Prefix + "/lfs/objects/"
}
