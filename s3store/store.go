package s3store

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/datalfs/datalfs/transfer"
)

// Store keeps LFS objects under one bucket location. It is safe for
// concurrent use.
type Store struct {
	loc    Location
	opts   Options
	client *s3.Client
	creds  aws.CredentialsProvider
	region string

	cred credentialCheck

	probe NotFoundProbe

	// waitClient serves requests whose answer may legitimately take
	// minutes (CompleteMultipartUpload): no response header timeout.
	waitClient aws.HTTPClient
	// uploadDir holds multipart upload records (see owner.go).
	uploadDir string
	cond      condState // see condput.go
	seen      seenState // see keep.go
	// watch is the idle watchdog on every response body (see idlebody.go).
	watch *idleWatch
}

// New returns a store for loc. It loads the AWS configuration (environment,
// shared config files, profile) but makes no network call: credentials are
// resolved at the first request.
func New(ctx context.Context, loc Location, opts Options) (*Store, error) {
	var loadOpts []func(*config.LoadOptions) error
	if opts.Profile != "" {
		loadOpts = append(loadOpts, config.WithSharedConfigProfile(opts.Profile))
	}
	httpClient := awshttp.NewBuildableClient().
		WithDialerOptions(func(d *net.Dialer) { d.Timeout = 10 * time.Second }).
		WithTransportOptions(func(tr *http.Transport) {
			tr.ResponseHeaderTimeout = opts.IdleTimeout
			tr.MaxIdleConnsPerHost = 64
			// A server that stops reading an upload must not hold it
			// forever: each write gets IdleTimeout, then the SDK retries.
			dial := tr.DialContext
			tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := dial(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				return &idleWriteConn{Conn: c, idle: opts.IdleTimeout}, nil
			}
		})
	loadOpts = append(loadOpts, config.WithHTTPClient(httpClient))
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	region := firstNonEmpty(opts.Region, loc.Region, cfg.Region)
	if region == "" {
		if loc.Endpoint == "" {
			return nil, fmt.Errorf("no AWS region for bucket %s: set AWS_REGION, a region in your AWS profile, `git config datalfs.region REGION`, or name the region in the LFS URL (https://%s.s3.REGION.amazonaws.com/PREFIX)", loc.Bucket, loc.Bucket)
		}
		region = "us-east-1" // S3-compatible stores mostly ignore it, but signing needs one
	}
	cfg.Region = region
	watch := &idleWatch{idle: opts.IdleTimeout, clock: realClock{}}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		loc.applyEndpoint(o)
		if loc.Endpoint != "" {
			o.BaseEndpoint = aws.String(loc.Endpoint)
			o.UsePathStyle = true
			whenRequiredChecksums(o)
		}
		if opts.IdleTimeout > 0 {
			o.APIOptions = append(o.APIOptions, watch.middleware)
		}
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = opts.MaxAttempts
			so.MaxBackoff = opts.MaxBackoff
			so.Backoff = backoffDelayer{opts.MaxBackoff}
			so.RateLimiter = ratelimit.None
			// A 200 answer whose XML body is cut short is worth another try.
			so.Retryables = append(append([]retry.IsErrorRetryable(nil), so.Retryables...),
				retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
					if errors.Is(err, io.ErrUnexpectedEOF) {
						return aws.TrueTernary
					}
					return aws.UnknownTernary
				}))
		})
	})
	// From the configured client: it carries AWS_CA_BUNDLE's roots.
	base, _ := cfg.HTTPClient.(*awshttp.BuildableClient)
	if base == nil {
		base = httpClient
	}
	waitClient := base.WithTransportOptions(func(tr *http.Transport) { tr.ResponseHeaderTimeout = 0 })
	return &Store{loc: loc, opts: opts, client: client, creds: cfg.Credentials, region: region, waitClient: waitClient, watch: watch}, nil
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// Location returns where the store keeps objects.
func (s *Store) Location() Location { return s.loc }

// Options returns the store's options.
func (s *Store) Options() Options { return s.opts }

// Region returns the region requests are signed for.
func (s *Store) Region() string { return s.region }

// Locate returns s3://BUCKET/KEY for oid.
func (s *Store) Locate(oid string) string { return s.loc.URI(oid) }

// Stat returns the size of oid, or an error wrapping fs.ErrNotExist.
func (s *Store) Stat(ctx context.Context, oid string) (int64, error) {
	if err := s.checkCredentials(ctx); err != nil {
		return 0, err
	}
	key := s.loc.Key(oid)
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.loc.Bucket, Key: &key})
	if err != nil {
		err = s.explain(s.probe.Check(ctx, s.client, s.loc.Bucket, key, "", err), "check", oid)
	}
	s.seen.note(oid, out, err)
	if err != nil {
		return 0, err
	}
	return aws.ToInt64(out.ContentLength), nil
}

// Upload stores size bytes of body under oid, in one PUT up to the multipart
// threshold and as a multipart upload above it.
func (s *Store) Upload(ctx context.Context, oid string, size int64, body io.ReaderAt, progress func(int64)) error {
	if err := s.checkCredentials(ctx); err != nil {
		return err
	}
	if size > MaxObjectSize {
		return fmt.Errorf("object %s is %d bytes, more than S3's limit of 5 TiB", oid, size)
	}
	if size > s.opts.MultipartThreshold {
		return s.uploadMultipart(ctx, oid, size, body, progress)
	}
	return s.putObject(ctx, oid, size, body, progress)
}

// putObject sends the object in one request. The content is hashed first:
// bytes that do not match the oid never leave the machine, and the request
// carries the oid as both its signed payload hash and its SHA-256 checksum,
// so the server refuses bytes damaged on the way.
func (s *Store) putObject(ctx context.Context, oid string, size int64, body io.ReaderAt, progress func(int64), set ...func(*s3.PutObjectInput)) error {
	sum, err := hashSection(body, 0, size)
	if err != nil {
		return fmt.Errorf("read local copy of %s: %w", oid, err)
	}
	if hex.EncodeToString(sum) != oid {
		return fmt.Errorf("local copy of %s does not hash to its oid (got %x); run `git lfs fsck` to find damaged objects: %w",
			oid, sum, errDigest)
	}
	in := &s3.PutObjectInput{
		Bucket:         &s.loc.Bucket,
		Key:            aws.String(s.loc.Key(oid)),
		Body:           newProgressReader(io.NewSectionReader(body, 0, size), progress),
		ContentLength:  aws.Int64(size),
		ChecksumSHA256: aws.String(base64.StdEncoding.EncodeToString(sum)),
	}
	s.applyUploadOptions(&in.StorageClass, &in.ServerSideEncryption, &in.SSEKMSKeyId)
	for _, f := range set {
		f(in)
	}
	if _, err := s.client.PutObject(ctx, in, s.withPayloadHash(oid)); err != nil {
		return s.explain(err, "upload", oid)
	}
	return nil
}

func (s *Store) applyUploadOptions(class *types.StorageClass, sse *types.ServerSideEncryption, kms **string) {
	if s.opts.StorageClass != "" {
		*class = types.StorageClass(s.opts.StorageClass)
	}
	if s.opts.SSE != "" {
		*sse = types.ServerSideEncryption(s.opts.SSE)
	}
	if s.opts.SSEKMSKeyID != "" {
		*kms = aws.String(s.opts.SSEKMSKeyID)
	}
}

func hashSection(r io.ReaderAt, off, n int64) ([]byte, error) {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(r, off, n)); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

// Download writes bytes [from, size) of oid into w. Objects above the
// multipart threshold are fetched as concurrent ranged GETs of PartSize
// each; every range is pinned to the ETag of the first response, so a
// concurrent overwrite cannot mix two objects' bytes.
func (s *Store) Download(ctx context.Context, oid string, size, from int64, w io.WriterAt, progress func(int64)) error {
	if err := s.checkCredentials(ctx); err != nil {
		return err
	}
	if from >= size && size > 0 {
		return nil
	}
	chunk := max(s.opts.PartSize, MinPartSize)
	if size-from <= s.opts.MultipartThreshold || s.opts.Concurrency < 2 {
		return s.getRange(ctx, oid, from, size, nil, w, progress)
	}
	first := min(from+chunk, size)
	etag, err := s.headETag(ctx, oid)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		next     = first
		firstErr error
		wg       sync.WaitGroup
	)
	claim := func() (int64, int64, bool) {
		mu.Lock()
		defer mu.Unlock()
		if next >= size || firstErr != nil {
			return 0, 0, false
		}
		a := next
		next = min(next+chunk, size)
		return a, next, true
	}
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
			cancel()
		}
		mu.Unlock()
	}
	work := func(a, b int64) {
		for {
			if err := s.getRange(ctx, oid, a, b, etag, w, progress); err != nil {
				fail(err)
				return
			}
			var ok bool
			if a, b, ok = claim(); !ok {
				return
			}
		}
	}
	run := func(a, b int64) {
		defer wg.Done()
		work(a, b)
	}
	wg.Add(1)
	go run(from, first)
	for range s.opts.Concurrency - 1 {
		if a, b, ok := claim(); ok {
			wg.Add(1)
			go run(a, b)
		}
	}
	wg.Wait()
	return firstErr
}

// headETag returns the current ETag of oid.
func (s *Store) headETag(ctx context.Context, oid string) (*string, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.loc.Bucket, Key: aws.String(s.loc.Key(oid))})
	if err != nil {
		return nil, s.explain(err, "download", oid)
	}
	return out.ETag, nil
}

// getRange copies bytes [a, b) of oid into w at their offsets. A response
// body cut mid-stream is resumed from the first missing byte, pinned to the
// ETag of the first response (or of etag when given).
func (s *Store) getRange(ctx context.Context, oid string, a, b int64, etag *string, w io.WriterAt, progress func(int64)) error {
	off := a
	for attempt := 1; ; attempt++ {
		in := &s3.GetObjectInput{Bucket: &s.loc.Bucket, Key: aws.String(s.loc.Key(oid)), IfMatch: etag}
		if off > 0 || b > 0 {
			in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", off, max(b-1, off)))
		}
		if b == 0 { // an empty object has no byte range
			in.Range = nil
		}
		n, err := s.getOnce(ctx, in, &offsetWriter{w: w, off: off, end: b}, progress, &etag)
		off += n
		if err == nil || (b > 0 && off >= b && retryableBody(err)) {
			// A body that broke after its last byte still delivered the
			// range; the end-to-end SHA-256 vouches for the bytes.
			return nil
		}
		var we *writeError
		if errors.As(err, &we) || ctx.Err() != nil || !retryableBody(err) {
			return s.explain(err, "download", oid)
		}
		if attempt >= s.opts.MaxAttempts {
			return transfer.Transient(err, fmt.Sprintf("download %s: the connection broke %d times, last at byte %d of %d (%v); check the network and run the command again, it resumes",
				s.Locate(oid), attempt, off, b, err))
		}
		if err := sleep(ctx, backoff(attempt, s.opts.MaxBackoff)); err != nil {
			return s.explain(err, "download", oid)
		}
	}
}

// getOnce runs one GET and copies its body to w, returning the bytes
// written. A failed request (as opposed to a failed body) is returned as a
// *requestError: the SDK has retried it already. A body that stalls fails
// its Read (the idle watchdog, see idlebody.go), which getRange resumes.
func (s *Store) getOnce(ctx context.Context, in *s3.GetObjectInput, w io.Writer, progress func(int64), etag **string) (int64, error) {
	out, err := s.client.GetObject(ctx, in)
	if err != nil {
		return 0, &requestError{err}
	}
	defer out.Body.Close()
	if *etag == nil {
		*etag = out.ETag
	}
	length := int64(-1)
	if out.ContentLength != nil {
		length = *out.ContentLength
	}
	return copyBody(w, out.Body, length, progress)
}

// offsetWriter writes a stream into w from off on, refusing bytes past end
// (a server sending more than asked must not overwrite the next range).
type offsetWriter struct {
	w        io.WriterAt
	off, end int64
}

func (o *offsetWriter) Write(p []byte) (int, error) {
	if o.end > 0 && o.off+int64(len(p)) > o.end {
		return 0, fmt.Errorf("the server sent more bytes than the range asked for")
	}
	n, err := o.w.WriteAt(p, o.off)
	o.off += int64(n)
	return n, err
}

// requestError marks an error from the request itself, which the SDK has
// already retried.
type requestError struct{ err error }

func (e *requestError) Error() string { return e.err.Error() }
func (e *requestError) Unwrap() error { return e.err }

// writeError marks a failure to write locally; retrying the network won't help.
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

func retryableBody(err error) bool {
	var re *requestError
	return !errors.As(err, &re)
}

// copyBody copies r, a body of length bytes (or -1 when unknown), to w and
// returns the bytes written. A failure to write w is a *writeError.
func copyBody(w io.Writer, r io.Reader, length int64, progress func(int64)) (int64, error) {
	// Sized to the body: thousands of small objects must not each
	// allocate (and zero) the buffer a large one wants.
	const most = 256 << 10
	size := int64(most)
	if length >= 0 {
		size = min(max(length, 512), most)
	}
	buf := make([]byte, size)
	var n int64
	for {
		m, rerr := r.Read(buf)
		if m > 0 {
			if _, err := w.Write(buf[:m]); err != nil {
				return n, &writeError{err}
			}
			n += int64(m)
			progress(int64(m))
		}
		if errors.Is(rerr, io.EOF) {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}

// Backoff is the wait before retry number attempt (1 for the first), as the
// store's own retries wait.
func Backoff(attempt int, ceiling time.Duration) time.Duration { return backoff(attempt, ceiling) }

// backoff is the wait before retry number attempt (1 for the first): 0.5 s
// doubling up to ceiling, with jitter over its upper half. With the defaults
// (10 attempts, 15 s) the retries of one request span about a minute.
func backoff(attempt int, ceiling time.Duration) time.Duration {
	d := 500 * time.Millisecond << min(attempt-1, 10)
	d = min(d, ceiling)
	return d/2 + time.Duration(jitter(int64(d/2)))
}

// idleWriteConn gives every write a deadline, so a peer that stops reading
// fails the request (and the SDK retries it) instead of stalling it.
type idleWriteConn struct {
	net.Conn
	idle time.Duration
}

func (c *idleWriteConn) Write(p []byte) (int, error) {
	if err := c.Conn.SetWriteDeadline(time.Now().Add(c.idle)); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

// backoffDelayer gives the SDK's retryer our backoff.
type backoffDelayer struct{ ceiling time.Duration }

func (b backoffDelayer) BackoffDelay(attempt int, _ error) (time.Duration, error) {
	return backoff(attempt, b.ceiling), nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
