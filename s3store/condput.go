package s3store

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// CondPutMax is the largest object that is pushed with one conditional PUT
// (If-None-Match: *, where 412 Precondition Failed means "already stored")
// instead of a HEAD and then a PUT. Below it, sending the bytes again for
// an object the bucket already has costs less than the round trip a HEAD
// costs every new object: 1 MiB takes about 80 ms at 100 Mbit/s, about as
// long as a round trip to a distant region, and next to nothing on a fast
// link. Larger objects keep HEAD first, so they are never sent twice.
const CondPutMax = 1 << 20

// CondWrites is how a bucket treats a conditional PUT.
type CondWrites int

const (
	// CondWritesUnknown means the probe could not tell (it failed).
	CondWritesUnknown CondWrites = iota
	// CondWritesHonoured means the server refuses to overwrite an existing
	// key: new small objects cost one request.
	CondWritesHonoured
	// CondWritesIgnored means the server overwrites anyway (or refuses the
	// header): every object is checked with a HEAD first.
	CondWritesIgnored
)

// String describes the mode for messages.
func (c CondWrites) String() string {
	switch c {
	case CondWritesHonoured:
		return "conditional PUT (If-None-Match) for objects up to 1 MiB, HEAD then PUT above"
	case CondWritesIgnored:
		return "HEAD then PUT (the server ignores If-None-Match)"
	}
	return "unknown"
}

// condState remembers a bucket's answer to the probe for the store's life.
type condState struct {
	mu     sync.Mutex
	probed bool
	mode   CondWrites
	err    error
}

// emptyOid is the LFS oid of empty content. The probe writes that object
// (zero bytes, under its own oid, so a valid object where push credentials
// may write, which git-lfs itself never uploads); once it exists, a probe
// is one request answered 412.
const emptyOid = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// CondWrites finds out, once per store, whether the server honours
// If-None-Match: * on PutObject: it PUTs a probe key conditionally, twice if
// the first PUT created it (the empty object, see emptyOid); an existing
// key must be refused. The answer,
// a failure included, holds for the store's life: a probe that fails (no
// permission, a bucket policy that wants other headers) is not repeated
// for every object.
func (s *Store) CondWrites(ctx context.Context) (CondWrites, error) {
	s.cond.mu.Lock()
	defer s.cond.mu.Unlock()
	if !s.cond.probed {
		s.cond.mode, s.cond.err = s.probeCondWrites(ctx)
		s.cond.probed = true
	}
	return s.cond.mode, s.cond.err
}

func (s *Store) probeCondWrites(ctx context.Context) (CondWrites, error) {
	if err := s.checkCredentials(ctx); err != nil {
		return CondWritesUnknown, err
	}
	key := s.loc.Key(emptyOid)
	for range 2 {
		in := &s3.PutObjectInput{
			Bucket: &s.loc.Bucket, Key: &key, Body: bytes.NewReader(nil),
			ContentLength: aws.Int64(0), IfNoneMatch: aws.String("*"),
		}
		s.applyUploadOptions(&in.StorageClass, &in.ServerSideEncryption, &in.SSEKMSKeyId)
		_, err := s.client.PutObject(ctx, in)
		switch code, status := APIError(err); {
		case err == nil:
			continue // created, or the server ignored the condition: ask again
		case status == 412 || code == "PreconditionFailed":
			return CondWritesHonoured, nil
		case status == 501 || code == "NotImplemented" || code == "InvalidArgument":
			return CondWritesIgnored, nil
		default:
			return CondWritesUnknown, fmt.Errorf("probe conditional writes at s3://%s/%s: %s", s.loc.Bucket, key, APIErrorString(err))
		}
	}
	// The second PUT of an existing key succeeded: the condition is ignored.
	return CondWritesIgnored, nil
}

// UploadIfAbsent stores oid unless the bucket has it, in one request: a PUT
// with If-None-Match: *, where 412 means the object is already stored. It
// reports false, having sent nothing, for an object above CondPutMax or
// when the server does not honour the condition (or the probe failed): the
// caller then checks with Stat and uploads with Upload.
func (s *Store) UploadIfAbsent(ctx context.Context, oid string, size int64, body io.ReaderAt, progress func(int64)) (bool, error) {
	if size > CondPutMax || size > s.opts.MultipartThreshold {
		return false, nil
	}
	if mode, err := s.CondWrites(ctx); err != nil || mode != CondWritesHonoured {
		return false, nil
	}
	var sent atomic.Int64
	count := func(n int64) { sent.Add(n); progress(n) }
	err := s.putObject(ctx, oid, size, body, count, func(in *s3.PutObjectInput) { in.IfNoneMatch = aws.String("*") })
	code, status := APIError(err)
	switch {
	case err == nil:
		return true, nil
	case status == 412 || code == "PreconditionFailed":
		// Already stored: objects are named by their content, and every
		// upload is checked against its SHA-256, so the stored one is good.
		if rest := size - sent.Load(); rest > 0 {
			progress(rest)
		}
		return true, nil
	case status == 409 || code == "ConditionalRequestConflict":
		return false, nil // another upload of the same key is in flight: check with HEAD
	}
	return true, err
}
