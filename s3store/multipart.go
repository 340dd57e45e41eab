package s3store

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
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
	sum []byte // SHA-256 of buf, when already computed
}

// uploadMultipart sends the object in parts, Concurrency at a time. One
// goroutine reads the file in order, hashing it as a whole, and hands each
// part to the senders; each part carries its own SHA-256 checksum. The upload
// is completed only when the whole-object hash equals the oid, so wrong bytes
// never become visible under the key. Memory stays at (Concurrency+1) parts.
func (s *Store) uploadMultipart(ctx context.Context, oid string, size int64, body io.ReaderAt, progress func(int64)) (err error) {
	key := s.loc.Key(oid)
	pending, err := s.findPending(ctx, key, size)
	if err != nil {
		return s.explain(err, "upload", oid)
	}
	uploadID, partSize, stored := pending.id, pending.partSize, pending.parts
	if uploadID == nil {
		partSize = PartSizeFor(size, s.opts.PartSize)
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
		uploadID = mu.UploadId
	}
	defer func() {
		// An upload cut short by the network or an interruption is left
		// for the next push to resume; one that cannot succeed is aborted.
		if err != nil && !resumable(ctx, err) {
			s.abort(key, uploadID)
		}
	}()

	// wctx stops the readers and senders at the first failure.
	wctx, cancel := context.WithCancel(ctx)
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
				cp, err := s.uploadPart(wctx, key, uploadID, p, progress)
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
		case <-wctx.Done():
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
		p := part{num: int32(i + 1), buf: buf}
		if sp, ok := stored[p.num]; ok {
			if cp, ok := reusable(sp, &p); ok {
				done[i] = cp
				progress(n)
				free <- buf
				continue
			}
		}
		select {
		case parts <- p:
		case <-wctx.Done():
		}
		if wctx.Err() != nil {
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
	if apiCode(err) == "NoSuchUpload" {
		// A retried Complete whose first try succeeded but lost its answer.
		if got, serr := s.Stat(ctx, oid); serr == nil && got == size {
			return nil
		}
	}
	if err != nil {
		return s.explain(err, "upload", oid)
	}
	return nil
}

func (s *Store) uploadPart(ctx context.Context, key string, uploadID *string, p part, progress func(int64)) (types.CompletedPart, error) {
	sum := p.sum
	if sum == nil {
		h := sha256.Sum256(p.buf)
		sum = h[:]
	}
	b64 := base64.StdEncoding.EncodeToString(sum)
	out, err := s.client.UploadPart(ctx, &s3.UploadPartInput{
		Bucket:         &s.loc.Bucket,
		Key:            &key,
		UploadId:       uploadID,
		PartNumber:     aws.Int32(p.num),
		Body:           newProgressReader(bytes.NewReader(p.buf), progress),
		ContentLength:  aws.Int64(int64(len(p.buf))),
		ChecksumSHA256: aws.String(b64),
	}, withPayloadHash(hex.EncodeToString(sum)))
	if err != nil {
		return types.CompletedPart{}, err
	}
	return types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(p.num), ChecksumSHA256: aws.String(b64)}, nil
}

// abort cancels a multipart upload, with its own deadline: the request's
// context may already be cancelled.
// A part whose request was cancelled may still be stored by the server after
// the abort (S3 documents that an abort may need repeating), so the parts are
// listed once the abort is answered and the abort repeated while any remain.
func (s *Store) abort(key string, uploadID *string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for range 3 {
		_, _ = s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &s.loc.Bucket, Key: &key, UploadId: uploadID})
		if sleep(ctx, 300*time.Millisecond) != nil {
			return
		}
		_, err := s.client.ListParts(ctx, &s3.ListPartsInput{Bucket: &s.loc.Bucket, Key: &key, UploadId: uploadID})
		if err != nil {
			return // NoSuchUpload: gone for good (or we cannot tell)
		}
	}
}

// pendingUpload is an unfinished multipart upload found for a key.
type pendingUpload struct {
	id       *string
	partSize int64
	parts    map[int32]types.Part
}

// findPending looks for an unfinished multipart upload of key (left by a
// push that was killed or lost the network) whose stored parts fit an object
// of size bytes. It returns a zero pendingUpload when there is none.
func (s *Store) findPending(ctx context.Context, key string, size int64) (pendingUpload, error) {
	var newest *types.MultipartUpload
	p := s3.NewListMultipartUploadsPaginator(s.client, &s3.ListMultipartUploadsInput{Bucket: &s.loc.Bucket, Prefix: &key})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			if isNotImplemented(err) || apiCode(err) == "NoSuchUpload" {
				// The store cannot list uploads, or (gofakes3) says so
				// when there are none: start afresh.
				return pendingUpload{}, nil
			}
			return pendingUpload{}, err
		}
		for i, u := range page.Uploads {
			if aws.ToString(u.Key) != key {
				continue
			}
			if newest == nil || aws.ToTime(u.Initiated).After(aws.ToTime(newest.Initiated)) {
				newest = &page.Uploads[i]
			}
		}
	}
	if newest == nil {
		return pendingUpload{}, nil
	}
	parts := map[int32]types.Part{}
	lp := s3.NewListPartsPaginator(s.client, &s3.ListPartsInput{Bucket: &s.loc.Bucket, Key: &key, UploadId: newest.UploadId})
	for lp.HasMorePages() {
		page, err := lp.NextPage(ctx)
		if err != nil {
			if isNotFound(err) {
				return pendingUpload{}, nil // completed or aborted meanwhile
			}
			return pendingUpload{}, err
		}
		for _, pt := range page.Parts {
			parts[aws.ToInt32(pt.PartNumber)] = pt
		}
	}
	// The part size is the first part's; the layout must suit this object.
	partSize := PartSizeFor(size, s.opts.PartSize)
	if first, ok := parts[1]; ok {
		ps := aws.ToInt64(first.Size)
		if ps < MinPartSize && ps != size || (size+ps-1)/max(ps, 1) > MaxParts {
			return pendingUpload{}, nil
		}
		partSize = ps
	}
	for n, pt := range parts {
		off := int64(n-1) * partSize
		if want := min(partSize, size-off); off >= size || aws.ToInt64(pt.Size) != want {
			delete(parts, n) // does not fit this layout: send it again
		}
	}
	return pendingUpload{id: newest.UploadId, partSize: partSize, parts: parts}, nil
}

// reusable reports whether a stored part holds exactly p's bytes, by its
// SHA-256 checksum when the store kept one, else by its ETag (the MD5 of the
// part for unencrypted uploads). It fills p.sum.
func reusable(stored types.Part, p *part) (types.CompletedPart, bool) {
	sum := sha256.Sum256(p.buf)
	p.sum = sum[:]
	b64 := base64.StdEncoding.EncodeToString(sum[:])
	switch {
	case aws.ToString(stored.ChecksumSHA256) != "":
		if aws.ToString(stored.ChecksumSHA256) != b64 {
			return types.CompletedPart{}, false
		}
	default:
		m := md5.Sum(p.buf)
		if strings.Trim(aws.ToString(stored.ETag), `"`) != hex.EncodeToString(m[:]) {
			return types.CompletedPart{}, false
		}
	}
	return types.CompletedPart{ETag: stored.ETag, PartNumber: aws.Int32(p.num), ChecksumSHA256: aws.String(b64)}, true
}
