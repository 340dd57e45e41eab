package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// TouchAfter is how stale an object may be before a push that relies on it
// marks it in use. A push that finds an object already stored, last written
// and last marked longer ago than this (by the server's clock), writes an
// empty marker object PREFIX/datalfs/in-use/OID. gc keeps an unreferenced
// object while its own LastModified or its marker's is within the grace
// period plus min(grace, TouchAfter): so an object a push relied on after
// gc's grace window began is never deleted. See docs/operations-gc-uploads.md.
const TouchAfter = time.Hour

// emptySHA256 is the SHA-256 of no bytes, the payload hash of a marker.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// MarkersPrefix is the key prefix of the in-use markers: PREFIX/datalfs/in-use/.
func (s *Store) MarkersPrefix() string {
	if s.loc.Prefix == "" {
		return "datalfs/in-use/"
	}
	return s.loc.Prefix + "/datalfs/in-use/"
}

func (s *Store) markerKey(oid string) string { return s.MarkersPrefix() + oid }

// headReuse is how long the answer to Stat's HEAD of an object stands in
// for the HEAD Keep would send to learn the object's age: the agent calls
// Keep right after Stat, and next to TouchAfter's hour a few seconds do not
// change the verdict (the HEAD itself is answered some time before it is
// used in any case).
const headReuse = 10 * time.Second

// seenState is what the store's last answers told about objects: each
// object's age from Stat's HEAD, kept for Keep, and whether the last object
// looked for was there, which UploadIfAbsent uses to pick its request.
type seenState struct {
	mu      sync.Mutex
	heads   map[string]seenHead
	present atomic.Bool
}

// seenHead is one HEAD's answer: the object's LastModified and the
// server's Date, and when (local clock) it came.
type seenHead struct{ modified, date, at time.Time }

// note records the answer of a HEAD of oid (out, or err).
func (st *seenState) note(oid string, out *s3.HeadObjectOutput, err error) {
	switch {
	case err == nil:
		st.present.Store(true)
	case errors.Is(err, fs.ErrNotExist):
		st.present.Store(false)
		return
	default:
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.heads == nil {
		st.heads = map[string]seenHead{}
	}
	now := time.Now()
	if len(st.heads) >= 64 {
		// Stats not followed by Keep (verify checks many objects): at
		// worst a Keep sends its own HEAD again.
		clear(st.heads)
	}
	st.heads[oid] = seenHead{aws.ToTime(out.LastModified), ServerTime(out.ResultMetadata), now}
}

// take returns, once, what a recent HEAD of oid told: its LastModified and
// the server's clock then.
func (st *seenState) take(oid string) (modified, date time.Time, ok bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	h, ok := st.heads[oid]
	delete(st.heads, oid)
	if !ok || time.Since(h.at) > headReuse {
		return time.Time{}, time.Time{}, false
	}
	return h.modified, h.date, true
}

// Keep records that a push relies on oid, which is already stored, so that
// gc does not take it for unreferenced: when neither the object nor its
// in-use marker was written within TouchAfter, it writes the marker. The
// object itself is never rewritten, so a versioned bucket gains no copy of
// it. An error wrapping fs.ErrPermission means the marker may not be
// written; the caller then uploads the object again, which refreshes it too.
func (s *Store) Keep(ctx context.Context, oid string) error {
	if err := s.checkCredentials(ctx); err != nil {
		return err
	}
	modified, now, ok := s.seen.take(oid)
	if !ok {
		key := s.loc.Key(oid)
		obj, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.loc.Bucket, Key: &key})
		if err != nil {
			return s.explain(err, "check", oid)
		}
		modified, now = aws.ToTime(obj.LastModified), ServerTime(obj.ResultMetadata)
	}
	stale := now.Add(-TouchAfter)
	if modified.After(stale) {
		return nil
	}
	mk := s.markerKey(oid)
	if m, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.loc.Bucket, Key: &mk}); err == nil && aws.ToTime(m.LastModified).After(stale) {
		return nil
	}
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        &s.loc.Bucket,
		Key:           &mk,
		Body:          bytes.NewReader(nil),
		ContentLength: aws.Int64(0),
	}, s.withPayloadHash(emptySHA256))
	if IsAccessDenied(err) {
		return fmt.Errorf("mark %s in use: access denied writing s3://%s/%s (grant s3:PutObject on PREFIX/datalfs/in-use/*): %w",
			s.Locate(oid), s.loc.Bucket, mk, fs.ErrPermission)
	}
	if err != nil {
		return s.explain(err, "upload", oid)
	}
	return nil
}

// Markers calls fn with the oid and LastModified of every in-use marker.
func (s *Store) Markers(ctx context.Context, fn func(oid string, at time.Time) error) error {
	if err := s.checkCredentials(ctx); err != nil {
		return err
	}
	prefix := s.MarkersPrefix()
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: &s.loc.Bucket, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return s.explainBucket(err, "list in-use markers in")
		}
		for _, o := range page.Contents {
			oid := aws.ToString(o.Key)[len(prefix):]
			if !ValidOid(oid) {
				continue
			}
			if err := fn(oid, aws.ToTime(o.LastModified)); err != nil {
				return err
			}
		}
	}
	return nil
}

// DeleteMarker removes oid's in-use marker; a missing one is no error.
func (s *Store) DeleteMarker(ctx context.Context, oid string) error {
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.loc.Bucket, Key: aws.String(s.markerKey(oid))})
	if err != nil && !isNotFound(err) {
		return s.explain(err, "delete", oid)
	}
	return nil
}

// Now returns the server's clock, from the Date header of a cheap request
// (a one-key listing of the objects prefix): gc measures ages against the
// clock that wrote the LastModified times, not the local one.
func (s *Store) Now(ctx context.Context) (time.Time, error) {
	if err := s.checkCredentials(ctx); err != nil {
		return time.Time{}, err
	}
	out, err := s.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &s.loc.Bucket, Prefix: aws.String(s.loc.ObjectsPrefix()), MaxKeys: aws.Int32(1)})
	if err != nil {
		return time.Time{}, s.explainBucket(err, "list objects in")
	}
	t, ok := serverDate(out.ResultMetadata)
	if !ok {
		return time.Time{}, errors.New("the server's answer has no Date header: cannot tell its clock")
	}
	return t, nil
}

// ServerTime returns the Date of the response md belongs to, or the local
// clock when it has none.
func ServerTime(md middleware.Metadata) time.Time {
	if t, ok := serverDate(md); ok {
		return t
	}
	return time.Now()
}

func serverDate(md middleware.Metadata) (time.Time, bool) {
	resp, ok := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response)
	if !ok || resp == nil {
		return time.Time{}, false
	}
	t, err := http.ParseTime(resp.Header.Get("Date"))
	return t, err == nil
}

// LastUsed returns when oid was last written or marked in use, by the
// server's clock: the later LastModified of the object and of its in-use
// marker, or the zero time when neither exists.
func (s *Store) LastUsed(ctx context.Context, oid string) (time.Time, error) {
	if err := s.checkCredentials(ctx); err != nil {
		return time.Time{}, err
	}
	var last time.Time
	for _, key := range []string{s.loc.Key(oid), s.markerKey(oid)} {
		out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.loc.Bucket, Key: &key})
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return time.Time{}, s.explain(err, "check", oid)
		}
		if t := aws.ToTime(out.LastModified); t.After(last) {
			last = t
		}
	}
	return last, nil
}
