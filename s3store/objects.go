package s3store

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/datalfs/datalfs/s3ref"
)

// ErrNoSuchObject is what Objects' methods wrap when the object, or the
// version asked for, does not exist.
var ErrNoSuchObject = errors.New("no such object")

// Objects gives the dataset commands what they need of any bucket (not only
// the LFS bucket): heads, resumable downloads, version listings and
// deletes. The SDK, the 404 probe, the retries and the wording of errors
// stay in this package. It is safe for concurrent use.
type Objects struct {
	cl     *s3.Client
	bucket string
	opts   Options
	probe  NotFoundProbe
}

// Objects returns the objects of the store's bucket, reached with its client
// (its endpoint, credentials and retries).
func (s *Store) Objects() *Objects {
	return &Objects{cl: s.client, bucket: s.loc.Bucket, opts: s.opts}
}

// Bucket is the bucket's name.
func (o *Objects) Bucket() string { return o.bucket }

// ObjectHead is what a HEAD (or the headers of a GET) says of an object.
type ObjectHead struct {
	Size      int64
	ETag      string // without quotes
	SHA256    string // lower-case hex of a full-object SHA-256 checksum; "" when the object has none
	VersionID string
}

// Head reads the metadata of key, at version when not empty. A missing
// object or version gives an error wrapping ErrNoSuchObject; a bodiless 404
// that really is a refusal (see notFoundMayBeRefusal) is
// told apart with a one-byte GET.
func (o *Objects) Head(ctx context.Context, key, version string) (ObjectHead, error) {
	in := &s3.HeadObjectInput{Bucket: aws.String(o.bucket), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled}
	if version != "" {
		in.VersionId = aws.String(version)
	}
	out, err := o.cl.HeadObject(ctx, in)
	if err != nil {
		return ObjectHead{}, o.notFound(o.probe.Check(ctx, o.cl, o.bucket, key, version, err), version)
	}
	h := ObjectHead{Size: aws.ToInt64(out.ContentLength), ETag: strings.Trim(aws.ToString(out.ETag), `"`), VersionID: aws.ToString(out.VersionId)}
	if c := aws.ToString(out.ChecksumSHA256); c != "" && !strings.Contains(c, "-") && out.ChecksumType != types.ChecksumTypeComposite {
		if b, err := base64.StdEncoding.DecodeString(c); err == nil && len(b) == 32 {
			h.SHA256 = hex.EncodeToString(b)
		}
	}
	return h, nil
}

// notFound wraps ErrNoSuchObject into err when it says the object or the
// version does not exist. Some servers answer an unknown or malformed
// version id with InvalidArgument.
func (o *Objects) notFound(err error, version string) error {
	if err == nil {
		return nil
	}
	code, _ := APIError(err)
	if isNotFound(err) || code == "NoSuchVersion" || (version != "" && code == "InvalidArgument") {
		return fmt.Errorf("%w: %w", ErrNoSuchObject, err)
	}
	return err
}

// Versioned reports whether versioning is (or was once) turned on for the
// bucket, so that old versions may exist.
func (o *Objects) Versioned(ctx context.Context) (bool, error) {
	ver, err := o.cl.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(o.bucket)})
	if err != nil {
		return false, err
	}
	return ver.Status == types.BucketVersioningStatusEnabled || ver.Status == types.BucketVersioningStatusSuspended, nil
}

// ListedObject is one current object of a listing.
type ListedObject struct {
	Key       string
	VersionID string // "" in an unversioned bucket
	Size      int64
	ETag      string // with the quotes the server sent
	HasSHA256 bool   // the object carries a SHA-256 checksum (Head reads it)
}

// ListCurrent calls fn for the current object of every key under prefix, in
// key order. In a versioned bucket that is the version marked IsLatest, with
// its version id; a key whose latest version is a delete marker is skipped.
// Timestamps are not trusted, and a key a server repeats across pages is
// given once (see repeatedKeys).
func (o *Objects) ListCurrent(ctx context.Context, prefix string, versioned bool, fn func(ListedObject) error) error {
	var given repeatedKeys
	emit := func(obj ListedObject, algos []types.ChecksumAlgorithm) error {
		if given.repeat(obj.Key) {
			return nil
		}
		for _, a := range algos {
			obj.HasSHA256 = obj.HasSHA256 || a == types.ChecksumAlgorithmSha256
		}
		return fn(obj)
	}
	if versioned {
		p := s3.NewListObjectVersionsPaginator(o.cl, &s3.ListObjectVersionsInput{Bucket: aws.String(o.bucket), Prefix: aws.String(prefix)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return err
			}
			for _, v := range page.Versions {
				if !aws.ToBool(v.IsLatest) {
					continue
				}
				obj := ListedObject{Key: aws.ToString(v.Key), VersionID: aws.ToString(v.VersionId), Size: aws.ToInt64(v.Size), ETag: aws.ToString(v.ETag)}
				if err := emit(obj, v.ChecksumAlgorithm); err != nil {
					return err
				}
			}
		}
		return nil
	}
	p := s3.NewListObjectsV2Paginator(o.cl, &s3.ListObjectsV2Input{Bucket: aws.String(o.bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, c := range page.Contents {
			obj := ListedObject{Key: aws.ToString(c.Key), Size: aws.ToInt64(c.Size), ETag: aws.ToString(c.ETag)}
			if err := emit(obj, c.ChecksumAlgorithm); err != nil {
				return err
			}
		}
	}
	return nil
}

// VersionIDs lists the ids of every version and delete marker of exactly
// key (not of other keys it is a prefix of), from the first page of a
// listing; call it again after deleting them to catch the rest.
func (o *Objects) VersionIDs(ctx context.Context, key string) ([]string, error) {
	out, err := o.cl.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(o.bucket), Prefix: aws.String(key)})
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, v := range out.Versions {
		if aws.ToString(v.Key) == key {
			ids = append(ids, aws.ToString(v.VersionId))
		}
	}
	for _, m := range out.DeleteMarkers {
		if aws.ToString(m.Key) == key {
			ids = append(ids, aws.ToString(m.VersionId))
		}
	}
	return ids, nil
}

// Delete deletes key, or one version of it when version is not empty. An
// object or version already gone is not an error.
func (o *Objects) Delete(ctx context.Context, key, version string) error {
	in := &s3.DeleteObjectInput{Bucket: aws.String(o.bucket), Key: aws.String(key)}
	if version != "" {
		in.VersionId = aws.String(version)
	}
	if _, err := o.cl.DeleteObject(ctx, in); err != nil && !isNotFound(err) {
		return err
	}
	return nil
}

// Open starts a download of key, at version when not empty. The reader's
// Head is known at once (from the response headers), before any byte is
// read, so a caller can refuse an object whose ETag is not the pinned one.
// When the body breaks or stalls, Read continues where it stopped with a
// ranged GET of the same version, If-Match its ETag, after the store's
// backoff, up to the store's number of attempts: the bytes reach the caller
// once, in order. A missing object or version gives an error wrapping
// ErrNoSuchObject.
func (o *Objects) Open(ctx context.Context, key, version string) (*ObjectReader, error) {
	r := &ObjectReader{o: o, ctx: ctx, key: key, version: version}
	if err := r.get(); err != nil {
		return nil, o.notFound(err, version)
	}
	return r, nil
}

// ObjectReader is an object's body that resumes after a broken or stalled
// connection. Close it.
type ObjectReader struct {
	o       *Objects
	ctx     context.Context
	key     string
	version string
	head    ObjectHead
	body    io.ReadCloser
	n       int64 // bytes handed to the caller
	tries   int   // requests made after the first
}

// Head is what the first response said of the object.
func (r *ObjectReader) Head() ObjectHead { return r.head }

// get sends the GET for the bytes from r.n on.
func (r *ObjectReader) get() error {
	in := &s3.GetObjectInput{Bucket: aws.String(r.o.bucket), Key: aws.String(r.key)}
	if v := firstNonEmpty(r.head.VersionID, r.version); v != "" {
		in.VersionId = aws.String(v)
	}
	if r.body != nil || r.n > 0 {
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", r.n))
		if r.head.ETag != "" {
			in.IfMatch = aws.String(`"` + r.head.ETag + `"`)
		}
	}
	out, err := r.o.cl.GetObject(r.ctx, in) // the SDK has retried the request itself
	if err != nil {
		return err
	}
	if r.body == nil && r.n == 0 {
		r.head = ObjectHead{Size: aws.ToInt64(out.ContentLength), ETag: strings.Trim(aws.ToString(out.ETag), `"`), VersionID: aws.ToString(out.VersionId)}
	}
	r.body = out.Body
	return nil
}

// Read reads the body, resuming it when the connection breaks or stalls.
func (r *ObjectReader) Read(p []byte) (int, error) {
	for {
		n, err := r.body.Read(p)
		r.n += int64(n)
		if err == nil || errors.Is(err, io.EOF) {
			if errors.Is(err, io.EOF) && r.n < r.head.Size {
				err = io.ErrUnexpectedEOF // cut short: resume below
			} else {
				return n, err
			}
		}
		if n > 0 {
			return n, nil // the error comes back at the next Read
		}
		if rerr := r.resume(err); rerr != nil {
			return 0, rerr
		}
	}
}

// resume replaces a broken body with the rest of the object, or says why it
// cannot.
func (r *ObjectReader) resume(cause error) error {
	r.body.Close()
	r.tries++
	if r.ctx.Err() != nil {
		return r.ctx.Err()
	}
	// Attempts are counted per object, whatever each one brought: a server
	// that stalls every body after a few bytes must not keep a run going.
	if r.tries >= max(r.o.opts.MaxAttempts, 1) {
		return &BodyError{Attempts: r.tries, Cause: cause}
	}
	t := time.NewTimer(Backoff(r.tries, r.o.opts.MaxBackoff))
	select {
	case <-r.ctx.Done():
		t.Stop()
		return r.ctx.Err()
	case <-t.C:
	}
	if err := r.get(); err != nil {
		if code, status := APIError(err); code == "PreconditionFailed" || status == 412 {
			return fmt.Errorf("the object changed while it was read (its ETag is no longer %s): run the command again", r.head.ETag)
		}
		return err
	}
	return nil
}

// BodyError is a download whose body kept breaking or stalling until the
// attempts ran out.
type BodyError struct {
	Attempts int
	Cause    error
}

func (e *BodyError) Error() string {
	return fmt.Sprintf("the connection kept failing after %d attempts (%v)", e.Attempts, NetCause(e.Cause))
}

func (e *BodyError) Unwrap() error { return e.Cause }

// Close releases the connection.
func (r *ObjectReader) Close() error { return r.body.Close() }

// Explain turns an error of a request about r into one that says what to
// do, naming the endpoint. op says what was being done ("check",
// "download", "list the versions of").
func (o *Objects) Explain(err error, op string, r s3ref.Ref) error {
	code, status := APIError(err)
	at := ""
	if ep := o.cl.Options().BaseEndpoint; ep != nil {
		at = " at " + aws.ToString(ep)
	}
	switch {
	case errors.Is(err, context.Canceled):
		return err
	case code == "NoSuchBucket":
		return fmt.Errorf("bucket %s does not exist%s: check the reference, or the endpoint (AWS_ENDPOINT_URL_S3 for buckets other than the LFS URL's)", r.Bucket, at)
	case IsUnreachable(err):
		return fmt.Errorf("cannot reach the S3 endpoint%s to %s %s (%v): check that the server is running and the endpoint is right (the LFS URL for its own bucket; AWS_ENDPOINT_URL_S3 or the profile's endpoint_url for any other)", at, op, r.Object(), NetCause(err))
	case IsAccessDenied(err):
		return fmt.Errorf("access denied to %s%s (%s): check your AWS credentials or profile, and that they may read the bucket and its versions", r.Object(), at, APIErrorString(err))
	case IsNoCredentials(err):
		return fmt.Errorf("no usable AWS credentials to %s %s: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, choose a profile with AWS_PROFILE, or run `aws sso login`", op, r.Object())
	case IsTransient(err) && status != 0:
		return fmt.Errorf("%s %s%s: the server kept answering %s after the retries: run the command again later (fetch resumes)", op, r.Object(), at, APIErrorString(err))
	case IsTransient(err):
		return fmt.Errorf("%s %s%s: the connection kept failing after the retries (%v): check the network and run the command again (fetch resumes)", op, r.Object(), at, NetCause(err))
	}
	return fmt.Errorf("%s %s%s: %s", op, r.Object(), at, APIErrorString(err))
}

// ForBucket returns a store for a bucket named without an LFS URL, through
// the SDK's standard settings (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL,
// endpoint_url in the profile): a non-AWS endpoint found there is addressed
// path-style and without the SDK's default CRC headers, as an LFS URL's
// endpoint is.
func ForBucket(ctx context.Context, bucket string, opts Options) (*Store, error) {
	st, err := New(ctx, Location{Bucket: bucket}, opts)
	if err != nil {
		return nil, err
	}
	if ep := st.client.Options().BaseEndpoint; ep != nil && !isAWSEndpoint(*ep) {
		return New(ctx, Location{Bucket: bucket, Endpoint: *ep}, opts)
	}
	return st, nil
}

func isAWSEndpoint(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil {
		return false
	}
	h := strings.ToLower(u.Hostname())
	return strings.HasSuffix(h, ".amazonaws.com") || strings.HasSuffix(h, ".amazonaws.com.cn")
}
