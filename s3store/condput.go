package s3store

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/datalfs/datalfs/transfer"
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

// CondProbePrefix is where, under the store's prefix, the conditional-write
// probe writes (and then deletes, every version) a key of its own.
const CondProbePrefix = "datalfs-probe/"

// condCacheTTL is how long a probe's verdict is remembered on disk.
const condCacheTTL = 30 * 24 * time.Hour

// CondWrites finds out whether the server honours If-None-Match: * on
// PutObject: it PUTs a new probe key conditionally, twice; the second PUT
// must be refused. The probe then deletes every version it created, so it
// leaves nothing behind, not even in a versioned bucket. The verdict is
// kept for the store's life (a failure included, so a refused probe is not
// repeated for every object) and, once known, in the user's cache
// directory for 30 days, so that the agent processes of later pushes ask
// nothing.
func (s *Store) CondWrites(ctx context.Context) (CondWrites, error) {
	s.cond.mu.Lock()
	defer s.cond.mu.Unlock()
	if !s.cond.probed {
		if mode, ok := s.RememberedCondWrites(); ok {
			s.cond.mode = mode
		} else {
			s.cond.mode, s.cond.err = s.ProbeCondWrites(ctx)
			s.cacheCondWrites(s.cond.mode)
		}
		s.cond.probed = true
	}
	return s.cond.mode, s.cond.err
}

// ProbeCondWrites asks the server now, as CondWrites does the first time,
// ignoring what is remembered. A mode other than CondWritesUnknown comes
// with an error when the probe key could not be deleted.
func (s *Store) ProbeCondWrites(ctx context.Context) (mode CondWrites, err error) {
	if err := s.checkCredentials(ctx); err != nil {
		return CondWritesUnknown, err
	}
	var rnd [8]byte
	rand.Read(rnd[:])
	key := path.Join(s.loc.Prefix, CondProbePrefix+"if-none-match-"+hex.EncodeToString(rnd[:]))
	var versions []*string
	defer func() {
		if derr := s.deleteProbe(key, versions); derr != nil && err == nil {
			err = derr
		}
	}()
	for range 2 {
		in := &s3.PutObjectInput{
			Bucket: &s.loc.Bucket, Key: &key, Body: bytes.NewReader(nil),
			ContentLength: aws.Int64(0), IfNoneMatch: aws.String("*"),
		}
		s.applyUploadOptions(&in.StorageClass, &in.ServerSideEncryption, &in.SSEKMSKeyId)
		out, err := s.client.PutObject(ctx, in)
		switch code, status := APIError(err); {
		case err == nil:
			versions = append(versions, out.VersionId)
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

// deleteProbe removes the probe key: each version it created, or the key
// itself where the bucket keeps no versions.
func (s *Store) deleteProbe(key string, versions []*string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, v := range versions {
		_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.loc.Bucket, Key: &key, VersionId: v})
		if err != nil {
			return fmt.Errorf("delete the conditional-write probe s3://%s/%s: %s", s.loc.Bucket, key, APIErrorString(err))
		}
		if v == nil {
			return nil // one delete removes an unversioned key
		}
	}
	return nil
}

// condCachePath is the file remembering the verdict for this endpoint and bucket.
func (s *Store) condCachePath() (string, bool) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", false
	}
	sum := sha256.Sum256([]byte(s.loc.Endpoint + "\x00" + s.region + "\x00" + s.loc.Bucket))
	return filepath.Join(dir, "datalfs", "condwrites", hex.EncodeToString(sum[:16])), true
}

// RememberedCondWrites returns the verdict of an earlier probe of this
// endpoint and bucket by this user, if one is remembered.
func (s *Store) RememberedCondWrites() (CondWrites, bool) {
	p, ok := s.condCachePath()
	if !ok {
		return CondWritesUnknown, false
	}
	fi, err := os.Stat(p)
	if err != nil || time.Since(fi.ModTime()) > condCacheTTL {
		return CondWritesUnknown, false
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return CondWritesUnknown, false
	}
	switch strings.TrimSpace(string(b)) {
	case "honoured":
		return CondWritesHonoured, true
	case "ignored":
		return CondWritesIgnored, true
	}
	return CondWritesUnknown, false
}

// cacheCondWrites remembers mode, best effort: without it the next process
// probes again.
func (s *Store) cacheCondWrites(mode CondWrites) {
	p, ok := s.condCachePath()
	if !ok || mode == CondWritesUnknown {
		return
	}
	word := "honoured"
	if mode == CondWritesIgnored {
		word = "ignored"
	}
	if os.MkdirAll(filepath.Dir(p), 0o755) != nil {
		return
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), "tmp-*")
	if err != nil {
		return
	}
	_, werr := tmp.WriteString(word + "\n")
	if cerr := tmp.Close(); werr != nil || cerr != nil || os.Rename(tmp.Name(), p) != nil {
		os.Remove(tmp.Name())
	}
}

// UploadIfAbsent stores oid unless the bucket has it, in one request: a PUT
// with If-None-Match: *, where 412 means the object is already stored. It
// reports false, having sent nothing, for an object above CondPutMax or
// when the server does not honour the condition (or the probe failed): the
// caller then checks with Stat and uploads with Upload.
func (s *Store) UploadIfAbsent(ctx context.Context, oid string, size int64, body io.ReaderAt, progress func(int64)) (transfer.IfAbsent, error) {
	if size > CondPutMax || size > s.opts.MultipartThreshold {
		return transfer.IfAbsentUndecided, nil
	}
	if mode, _ := s.CondWrites(ctx); mode != CondWritesHonoured {
		return transfer.IfAbsentUndecided, nil // or the probe failed: HEAD first, as without it
	}
	if s.seen.present.Load() {
		// The last object was already stored: this push likely re-sends
		// stored objects, for which HEAD first costs one request (its
		// answer also gives Keep the object's age) where a refused PUT
		// costs two. A HEAD that finds an object missing switches back.
		return transfer.IfAbsentUndecided, nil
	}
	var sent atomic.Int64
	count := func(n int64) { sent.Add(n); progress(n) }
	err := s.putObject(ctx, oid, size, body, count, func(in *s3.PutObjectInput) { in.IfNoneMatch = aws.String("*") })
	code, status := APIError(err)
	switch {
	case err == nil:
		return transfer.IfAbsentStored, nil
	case status == 412 || code == "PreconditionFailed":
		// Already stored: objects are named by their content, and every
		// upload is checked against its SHA-256, so the stored one is good.
		if rest := size - sent.Load(); rest > 0 {
			progress(rest)
		}
		s.seen.present.Store(true)
		return transfer.IfAbsentPresent, nil
	case status == 409 || code == "ConditionalRequestConflict":
		return transfer.IfAbsentUndecided, nil // another upload of the same key is in flight: check with HEAD
	}
	return transfer.IfAbsentStored, err
}
