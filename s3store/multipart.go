package s3store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// part is one multipart part read into memory.
type part struct {
	num int32
	buf []byte
}

// uploadMultipart sends the object in parts, Concurrency at a time. One
// goroutine reads the file in order, hashing it as a whole, and hands each
// part to the senders; each part carries its own SHA-256 checksum. The upload
// is completed only when the whole-object hash equals the oid, so wrong bytes
// never become visible under the key. Memory stays at (Concurrency+1) parts.
func (s *Store) uploadMultipart(ctx context.Context, oid string, size int64, body io.ReaderAt, progress func(int64)) (err error) {
	key := s.loc.Key(oid)
	partSize := PartSizeFor(size, s.opts.PartSize)
	create := &s3.CreateMultipartUploadInput{
		Bucket:            &s.loc.Bucket,
		Key:               &key,
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
	}
	s.applyUploadOptions(&create.StorageClass, &create.ServerSideEncryption, &create.SSEKMSKeyId)
	mu, err := s.client.CreateMultipartUpload(ctx, create)
	if err != nil {
		return s.explain(err, "upload", oid)
	}
	uploadID := mu.UploadId
	defer func() {
		if err != nil {
			s.abort(key, uploadID)
		}
	}()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	parts := make(chan part)
	free := make(chan []byte, s.opts.Concurrency+1)
	for range s.opts.Concurrency + 1 {
		free <- make([]byte, partSize)
	}
	nparts := int((size + partSize - 1) / partSize)
	done := make([]types.CompletedPart, nparts)

	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	fail := func(e error) {
		errOnce.Do(func() { firstErr = e; cancel() })
	}
	for range s.opts.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range parts {
				cp, err := s.uploadPart(ctx, key, uploadID, p, progress)
				free <- p.buf[:cap(p.buf)]
				if err != nil {
					fail(s.explain(err, "upload", oid))
					continue
				}
				done[p.num-1] = cp
			}
		}()
	}

	whole := sha256.New()
	var readErr error
	for i := range nparts {
		off := int64(i) * partSize
		n := min(partSize, size-off)
		var buf []byte
		select {
		case buf = <-free:
		case <-ctx.Done():
		}
		if buf == nil {
			break
		}
		buf = buf[:n]
		if _, err := body.ReadAt(buf, off); err != nil && !(err == io.EOF && int64(len(buf)) == n) {
			readErr = fmt.Errorf("read local copy of %s at byte %d: %w", oid, off, err)
			free <- buf
			break
		}
		whole.Write(buf)
		select {
		case parts <- part{num: int32(i + 1), buf: buf}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(parts)
	wg.Wait()
	switch {
	case readErr != nil:
		return readErr
	case firstErr != nil:
		return firstErr
	case ctx.Err() != nil:
		return ctx.Err()
	}
	if got := hex.EncodeToString(whole.Sum(nil)); got != oid {
		return fmt.Errorf("local copy of %s does not hash to its oid (got %s); run `git lfs fsck` to find damaged objects: %w", oid, got, errDigest)
	}
	_, err = s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          &s.loc.Bucket,
		Key:             &key,
		UploadId:        uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done},
	})
	if err != nil {
		return s.explain(err, "upload", oid)
	}
	return nil
}

func (s *Store) uploadPart(ctx context.Context, key string, uploadID *string, p part, progress func(int64)) (types.CompletedPart, error) {
	sum := sha256.Sum256(p.buf)
	b64 := base64.StdEncoding.EncodeToString(sum[:])
	out, err := s.client.UploadPart(ctx, &s3.UploadPartInput{
		Bucket:         &s.loc.Bucket,
		Key:            &key,
		UploadId:       uploadID,
		PartNumber:     aws.Int32(p.num),
		Body:           newProgressReader(bytes.NewReader(p.buf), progress),
		ContentLength:  aws.Int64(int64(len(p.buf))),
		ChecksumSHA256: aws.String(b64),
	}, withPayloadHash(hex.EncodeToString(sum[:])))
	if err != nil {
		return types.CompletedPart{}, err
	}
	return types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(p.num), ChecksumSHA256: aws.String(b64)}, nil
}

// abort cancels a multipart upload, with its own deadline: the request's
// context may already be cancelled.
func (s *Store) abort(key string, uploadID *string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, _ = s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &s.loc.Bucket, Key: &key, UploadId: uploadID})
}
