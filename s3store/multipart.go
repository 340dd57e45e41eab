package s3store

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/middleware"
)

// CompleteTimeout bounds the wait for the answer to CompleteMultipartUpload.
// S3 may take minutes to assemble a large object (AWS documents that it
// sends the 200 status early and the result later), so this request has
// neither the response header timeout nor the idle body watchdog of the
// others, only this bound.
const CompleteTimeout = 15 * time.Minute

// hashChunk is the buffer the hashing pass reads the file with: with the
// HTTP transport's own small buffers, all an upload holds in memory,
// whatever the object's or the part's size.
const hashChunk = 1 << 20

// keepAliveEvery is how often (or every half idle timeout, when shorter)
// an upload waiting for Complete's answer tells its caller that it is
// waiting, not stalled (progress(0)).
const keepAliveEvery = time.Second

// errUploadGone reports a multipart upload the server no longer knows
// (NoSuchUpload): aborted by `datalfs uploads --abort` or a lifecycle
// rule, or completed by someone else.
var errUploadGone = errors.New("the multipart upload is gone")

// crc32c is the table of the parts' checksum (CRC32C, which CPUs compute
// in hardware: next to nothing beside the whole object's SHA-256).
var crc32c = crc32.MakeTable(crc32.Castagnoli)

// part is one multipart part: a section of the file, its CRC32C and, for a
// request signed with its payload (plain HTTP, see payload.go), its SHA-256.
type part struct {
	num    int32
	off, n int64
	crc    []byte
	sum    []byte // nil over HTTPS
}

// uploadMultipart sends the object in parts, Concurrency at a time. One
// goroutine reads the file in order, hashing it as a whole and part by part
// (CRC32C, and SHA-256 when the request is signed with it); the senders
// stream each part from the file again with its checksum, which the server
// verifies, so memory does not grow with the part size. The upload is
// completed only when the whole-object hash equals the oid, so wrong bytes
// never become visible under the key. An upload the server no longer knows
// is done when the object is there, and started once more when it is not.
func (s *Store) uploadMultipart(ctx context.Context, oid string, size int64, body io.ReaderAt, progress func(int64)) error {
	key := s.loc.Key(oid)
	own := s.claim(key)
	defer own.release()
	for attempt := 1; ; attempt++ {
		err := s.multipartOnce(ctx, own, oid, key, size, body, progress)
		if !errors.Is(err, errUploadGone) {
			return err
		}
		if got, serr := s.Stat(ctx, oid); serr == nil && got == size {
			return nil // another push stored it meanwhile
		}
		if attempt == 2 {
			return fmt.Errorf("upload %s: the multipart upload disappeared twice while being sent (is a lifecycle rule or `datalfs uploads --abort` removing uploads in progress?): %w",
				s.Locate(oid), err)
		}
	}
}

// multipartOnce sends the object through one multipart upload: the one this
// process owns the record of, or a new one.
func (s *Store) multipartOnce(ctx context.Context, own *uploadOwner, oid, key string, size int64, body io.ReaderAt, progress func(int64)) (err error) {
	up := s.resume(ctx, own, key, size)
	if up.id == "" {
		partSize := PartSizeFor(size, s.opts.PartSize)
		create := &s3.CreateMultipartUploadInput{
			Bucket:            &s.loc.Bucket,
			Key:               &key,
			ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c,
		}
		s.applyUploadOptions(&create.StorageClass, &create.ServerSideEncryption, &create.SSEKMSKeyId)
		mu, err := s.client.CreateMultipartUpload(ctx, create)
		if err != nil {
			return s.explain(err, "upload", oid)
		}
		up = pendingUpload{id: aws.ToString(mu.UploadId), partSize: partSize}
		if own.record(up.id, partSize) != nil {
			own.forget() // not resumable: aborted on failure
		}
	}
	defer func() {
		recorded := own.owns() && own.rec.UploadID == up.id
		switch {
		case err == nil || errors.Is(err, errUploadGone):
			if recorded {
				own.forget()
			}
		case recorded && resumable(ctx, err):
			// Cut short by the network or an interruption: left for the
			// next push from this repository to resume.
		default:
			// This process created the upload, or adopted it under the
			// record's lock from a process that is gone: nobody else
			// writes it, and nobody will resume it.
			s.abort(key, &up.id)
			if recorded {
				own.forget()
			}
		}
	}()
	done, err := s.sendParts(ctx, oid, key, up, size, body, progress)
	if err != nil {
		return err
	}
	return s.complete(ctx, oid, key, up.id, done, size, progress)
}

// sendParts reads and hashes the file in order and sends the parts the
// upload lacks.
func (s *Store) sendParts(ctx context.Context, oid, key string, up pendingUpload, size int64, body io.ReaderAt, progress func(int64)) ([]types.CompletedPart, error) {
	// wctx stops the reader and the senders at the first failure.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	nparts := int((size + up.partSize - 1) / up.partSize)
	done := make([]types.CompletedPart, nparts)
	parts := make(chan part)
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
				cp, err := s.uploadPart(wctx, key, up.id, body, p, progress)
				switch {
				case apiCode(err) == "NoSuchUpload":
					fail(errUploadGone)
				case err != nil:
					fail(s.explain(err, "upload", oid))
				default:
					done[p.num-1] = cp
				}
			}
		}()
	}

	whole := sha256.New()
	signed := s.hashesPayload()
	buf := make([]byte, min(hashChunk, up.partSize))
	var readErr error
	for i := range nparts {
		p := part{num: int32(i + 1), off: int64(i) * up.partSize}
		p.n = min(up.partSize, size-p.off)
		stored, ok := up.parts[p.num]
		pc := crc32.New(crc32c)
		hs := []io.Writer{whole, pc}
		var ph hash.Hash
		if signed {
			ph = sha256.New()
			hs = append(hs, ph)
		}
		var mh hash.Hash
		if ok && aws.ToString(stored.ChecksumCRC32C) == "" {
			mh = md5.New()
			hs = append(hs, mh)
		}
		if readErr = readSection(body, p.off, p.n, buf, io.MultiWriter(hs...)); readErr != nil {
			readErr = fmt.Errorf("read local copy of %s: %w", oid, readErr)
			break
		}
		p.crc = pc.Sum(nil)
		if ph != nil {
			p.sum = ph.Sum(nil)
		}
		if ok && reusable(stored, p.crc, mh) {
			done[i] = types.CompletedPart{ETag: stored.ETag, PartNumber: aws.Int32(p.num), ChecksumCRC32C: aws.String(base64.StdEncoding.EncodeToString(p.crc))}
			progress(p.n)
			continue
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
		return nil, readErr
	case firstErr != nil:
		return nil, firstErr
	case ctx.Err() != nil:
		return nil, ctx.Err()
	}
	if got := hex.EncodeToString(whole.Sum(nil)); got != oid {
		return nil, fmt.Errorf("local copy of %s does not hash to its oid (got %s); run `git lfs fsck` to find damaged objects: %w", oid, got, errDigest)
	}
	return done, nil
}

// readSection copies bytes [off, off+n) of r to w through buf. A file
// that ends before off+n changed after git-lfs announced its size: that is
// an error, never a part padded with stale bytes.
func readSection(r io.ReaderAt, off, n int64, buf []byte, w io.Writer) error {
	for pos := off; pos < off+n; {
		b := buf[:min(int64(len(buf)), off+n-pos)]
		m, err := r.ReadAt(b, pos)
		w.Write(b[:m])
		pos += int64(m)
		if m < len(b) {
			if err == nil || err == io.EOF {
				return fmt.Errorf("the file ends at byte %d, before the %d bytes git-lfs announced: it changed during the push; push again once nothing writes it: %w",
					pos, off+n, io.ErrUnexpectedEOF)
			}
			return fmt.Errorf("at byte %d: %w", pos, err)
		}
	}
	return nil
}

// uploadPart streams one part from the file.
func (s *Store) uploadPart(ctx context.Context, key, uploadID string, body io.ReaderAt, p part, progress func(int64)) (types.CompletedPart, error) {
	b64 := base64.StdEncoding.EncodeToString(p.crc)
	out, err := s.client.UploadPart(ctx, &s3.UploadPartInput{
		Bucket:         &s.loc.Bucket,
		Key:            &key,
		UploadId:       &uploadID,
		PartNumber:     aws.Int32(p.num),
		Body:           newProgressReader(io.NewSectionReader(body, p.off, p.n), progress),
		ContentLength:  aws.Int64(p.n),
		ChecksumCRC32C: aws.String(b64),
	}, s.withPayloadHash(hex.EncodeToString(p.sum)))
	if err != nil {
		return types.CompletedPart{}, err
	}
	return types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(p.num), ChecksumCRC32C: aws.String(b64)}, nil
}

// complete asks the server to assemble the parts. It may take minutes:
// the request waits up to CompleteTimeout, and progress(0) tells the caller
// every keepAliveEvery that the upload is waiting for the server, not stalled.
func (s *Store) complete(ctx context.Context, oid, key, uploadID string, done []types.CompletedPart, size int64, progress func(int64)) error {
	cctx, cancel := context.WithTimeout(ctx, CompleteTimeout)
	defer cancel()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(min(keepAliveEvery, max(s.opts.IdleTimeout/2, 10*time.Millisecond)))
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				progress(0)
			}
		}
	}()
	_, err := s.client.CompleteMultipartUpload(cctx, &s3.CompleteMultipartUploadInput{
		Bucket:          &s.loc.Bucket,
		Key:             &key,
		UploadId:        &uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done},
	}, s.patient)
	close(stop)
	wg.Wait()
	if apiCode(err) == "NoSuchUpload" {
		// A retried Complete whose first try succeeded but lost its
		// answer, or an upload someone else ended: the caller checks.
		return errUploadGone
	}
	if err != nil {
		return s.explain(err, "upload", oid)
	}
	return nil
}

// patient lifts the per-request watchdogs for a request whose answer may
// legitimately take minutes: the response header timeout (a client without
// one) and the idle body watchdog. Its context bounds it instead.
func (s *Store) patient(o *s3.Options) {
	if s.waitClient != nil {
		o.HTTPClient = s.waitClient
	}
	o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
		_, _ = st.Deserialize.Remove("datalfsIdleBody")
		return nil
	})
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

// pendingUpload is the multipart upload an object is sent through.
type pendingUpload struct {
	id       string
	partSize int64
	parts    map[int32]types.Part // stored parts that fit the layout
}

// resume returns the upload recorded for key when this process owns the
// record, with its stored parts that fit an object of size bytes. It
// returns a zero pendingUpload when there is nothing to resume. A refused
// or failed listing of the parts (a role without s3:ListMultipartUploadParts,
// an upload that is gone) means there is nothing to resume: the recorded
// upload, which no live process owns, is aborted and a fresh one started.
func (s *Store) resume(ctx context.Context, own *uploadOwner, key string, size int64) pendingUpload {
	rec := own.rec
	if !own.owns() || rec.UploadID == "" {
		return pendingUpload{}
	}
	ps := rec.PartSize
	if ps < MinPartSize && ps < size || ps > MaxPartSize || (size+ps-1)/max(ps, 1) > MaxParts {
		s.abort(key, &rec.UploadID)
		own.forget()
		return pendingUpload{}
	}
	parts := map[int32]types.Part{}
	lp := s3.NewListPartsPaginator(s.client, &s3.ListPartsInput{Bucket: &s.loc.Bucket, Key: &key, UploadId: &rec.UploadID})
	for lp.HasMorePages() {
		page, err := lp.NextPage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return pendingUpload{} // interrupted: the record stays
			}
			if apiCode(err) != "NoSuchUpload" {
				s.abort(key, &rec.UploadID)
			}
			own.forget()
			return pendingUpload{}
		}
		if a := page.ChecksumAlgorithm; a != "" && a != types.ChecksumAlgorithmCrc32c {
			// Created by an older datalfs with SHA-256 part checksums:
			// its parts cannot be mixed with CRC32C ones.
			s.abort(key, &rec.UploadID)
			own.forget()
			return pendingUpload{}
		}
		for _, pt := range page.Parts {
			n := aws.ToInt32(pt.PartNumber)
			off := int64(n-1) * ps
			if off < size && aws.ToInt64(pt.Size) == min(ps, size-off) {
				parts[n] = pt // else it does not fit this layout: sent again
			}
		}
	}
	return pendingUpload{id: rec.UploadID, partSize: ps, parts: parts}
}

// reusable reports whether a stored part holds exactly the bytes whose
// CRC32C is crc, by its CRC32C checksum when the store kept one, else by
// its ETag (the MD5 of the part for unencrypted uploads), which md5 holds.
func reusable(stored types.Part, crc []byte, md5 hash.Hash) bool {
	if c := aws.ToString(stored.ChecksumCRC32C); c != "" {
		return c == base64.StdEncoding.EncodeToString(crc)
	}
	return md5 != nil && strings.Trim(aws.ToString(stored.ETag), `"`) == hex.EncodeToString(md5.Sum(nil))
}
