package dataset

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/datalfs/datalfs/s3ref"
	"github.com/datalfs/datalfs/s3store"
)

// Status is what a check found about one asset.
type Status int

// The statuses, from good to bad.
const (
	OK        Status = iota
	Present          // fetch: already in the target directory and verified
	Changed          // the current object is not the pinned one
	Missing          // the pinned bytes are gone
	Forgotten        // deleted for good on purpose; see the tombstone
)

func (s Status) String() string {
	return [...]string{"ok", "present", "changed", "missing", "forgotten"}[s]
}

// Finding is the outcome for one asset of one record.
type Finding struct {
	Manifest string
	Line     int
	ID       string
	Asset    Asset
	Status   Status
	// Readable says, for Changed, whether the pinned bytes can still be read.
	Readable bool
	Detail   string
	Tomb     *Tombstone
	Bytes    int64 // fetch: bytes written
}

// String renders a problem as `MANIFEST:LINE: KEY: STATUS: DETAIL`.
func (f Finding) String() string {
	s := fmt.Sprintf("%s:%d: %s: %s", f.Manifest, f.Line, f.Asset.Ref.Object(), f.Status)
	switch {
	case f.Status == Forgotten:
		s += fmt.Sprintf(" on %s (%s)", f.Tomb.Date, f.Tomb.Reason)
	case f.Detail != "":
		s += ": " + f.Detail
	}
	return s
}

// Summary counts findings.
type Summary struct {
	Records, Assets                                int
	OK, Present, Changed, Missing, Forgotten, Fail int
	Bytes                                          int64
}

// ExitCode is 0 when all is well, 1 when problems were found, 3 when the
// only problems are forgotten assets.
func (s Summary) ExitCode() int {
	switch {
	case s.Changed+s.Missing+s.Fail > 0:
		return 1
	case s.Forgotten > 0:
		return 3
	}
	return 0
}

// Engine checks or fetches the assets of manifests, concurrently.
type Engine struct {
	Repo    *Repo
	Clients *Clients
	Tombs   map[string]Tombstone
	Jobs    int
	// Dir, when set, makes Run fetch each asset into Dir instead of only checking it.
	Dir string
	// Progress, when set, is called after each asset with the counts so far.
	Progress func(done int64, bytes int64)

	dirs sync.Map // fetch: directories known to exist under Dir
}

type job struct {
	manifest string
	line     int
	id       string
	asset    Asset
	dest     string
}

// Run checks (or fetches) every asset of ms and calls report for each
// finding that is not OK/Present, in manifest and line order at the end.
// A request that fails for another reason than a missing object (access
// denied, unreachable endpoint) stops the run with an error.
func (e *Engine) Run(ctx context.Context, ms []Manifest, report func(Finding)) (Summary, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var sum Summary
	jobs := make(chan job, 4*e.Jobs)
	var (
		mu       sync.Mutex
		findings []Finding
		firstErr error
		done     atomic.Int64
		bytes    atomic.Int64
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
		cancel()
	}
	for range max(e.Jobs, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				f, err := e.one(ctx, j)
				if err != nil {
					if ctx.Err() == nil {
						fail(err)
					}
					continue
				}
				mu.Lock()
				switch f.Status {
				case OK:
					sum.OK++
				case Present:
					sum.Present++
				case Changed:
					sum.Changed++
				case Missing:
					sum.Missing++
				case Forgotten:
					sum.Forgotten++
				}
				if f.Status >= Changed {
					findings = append(findings, f)
				}
				mu.Unlock()
				bytes.Add(f.Bytes)
				n := done.Add(1)
				if e.Progress != nil {
					e.Progress(n, bytes.Load())
				}
			}
		}()
	}
	readErr := func() error {
		defer close(jobs)
		for _, m := range ms {
			prefix := ""
			if e.Dir != "" {
				var err error
				if prefix, err = e.commonPrefix(ctx, m); err != nil {
					return err
				}
			}
			seen := map[string]bool{}
			err := e.Repo.Each(ctx, []Manifest{m}, func(m Manifest, rec *Record) error {
				sum.Records++
				for _, a := range rec.Assets {
					j := job{manifest: m.Path, line: rec.Line, id: rec.ID, asset: a}
					if e.Dir != "" {
						rel := strings.TrimPrefix(a.Ref.Bucket+"/"+a.Ref.Key, prefix)
						if !filepath.IsLocal(filepath.FromSlash(rel)) || strings.HasSuffix(rel, "/") {
							return &RecordError{File: m.Path, Line: rec.Line, Msg: fmt.Sprintf("%s cannot be written under the target directory (an empty, absolute or .. path)", a.Ref.Object())}
						}
						j.dest = filepath.Join(e.Dir, filepath.FromSlash(rel))
						if seen[j.dest] {
							continue // the same object referenced twice
						}
						seen[j.dest] = true
					}
					sum.Assets++
					select {
					case jobs <- j:
					case <-ctx.Done():
						return ctx.Err()
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	}()
	wg.Wait()
	sum.Bytes = bytes.Load()
	if firstErr != nil {
		return sum, firstErr
	}
	if readErr != nil {
		return sum, readErr
	}
	sort.SliceStable(findings, func(i, j int) bool {
		a, b := findings[i], findings[j]
		if a.Manifest != b.Manifest {
			return a.Manifest < b.Manifest
		}
		return a.Line < b.Line
	})
	for _, f := range findings {
		report(f)
	}
	return sum, nil
}

// commonPrefix is the longest common directory ("BUCKET/dir/") of the
// manifest's assets: fetch writes each asset at DIR/<the rest of BUCKET/KEY>.
func (e *Engine) commonPrefix(ctx context.Context, m Manifest) (string, error) {
	var prefix string
	first := true
	err := e.Repo.Each(ctx, []Manifest{m}, func(_ Manifest, rec *Record) error {
		for _, a := range rec.Assets {
			k := a.Ref.Bucket + "/" + a.Ref.Key
			if first {
				prefix, first = path.Dir(k)+"/", false
				continue
			}
			for !strings.HasPrefix(k, prefix) {
				prefix = strings.TrimSuffix(prefix, "/")
				i := strings.LastIndexByte(prefix, '/')
				if i < 0 {
					prefix = ""
					break
				}
				prefix = prefix[:i+1]
			}
		}
		return nil
	})
	return prefix, err
}

// isNotFound reports an answer that means "no such object or version". A
// 404 with another code (versitygw's XAdminUserNotFound for an unknown
// access key) is not one.
func isNotFound(err error) bool {
	code, status := s3store.APIError(err)
	return code == "NoSuchKey" || code == "NotFound" || code == "NoSuchVersion" || (status == 404 && code == "")
}

// explain turns a request error into one that says what to do.
func explain(err error, op string, r s3ref.Ref, cl *s3.Client) error {
	code, status := s3store.APIError(err)
	switch {
	case errors.Is(err, context.Canceled):
		return err
	case code == "NoSuchBucket":
		return fmt.Errorf("bucket %s does not exist%s: check the reference, or the endpoint (AWS_ENDPOINT_URL_S3 for buckets other than the LFS URL's)", r.Bucket, where(cl))
	case s3store.IsUnreachable(err):
		return fmt.Errorf("cannot reach the S3 endpoint%s to %s %s (%v): check that the server is running and the endpoint is right (the LFS URL for its own bucket; AWS_ENDPOINT_URL_S3 or the profile's endpoint_url for any other)", where(cl), op, r.Object(), s3store.NetCause(err))
	case s3store.IsAccessDenied(err):
		return fmt.Errorf("access denied to %s%s (%s): check your AWS credentials or profile, and that they may read the bucket and its versions", r.Object(), where(cl), s3store.APIErrorString(err))
	case s3store.IsNoCredentials(err):
		return fmt.Errorf("no usable AWS credentials to %s %s: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, choose a profile with AWS_PROFILE, or run `aws sso login`", op, r.Object())
	case s3store.IsTransient(err) && status != 0:
		return fmt.Errorf("%s %s%s: the server kept answering %s after the retries: run the command again later (fetch resumes)", op, r.Object(), where(cl), s3store.APIErrorString(err))
	case s3store.IsTransient(err):
		return fmt.Errorf("%s %s%s: the connection kept failing after the retries (%v): check the network and run the command again (fetch resumes)", op, r.Object(), where(cl), s3store.NetCause(err))
	}
	return fmt.Errorf("%s %s%s: %s", op, r.Object(), where(cl), s3store.APIErrorString(err))
}

// one checks or fetches one asset.
func (e *Engine) one(ctx context.Context, j job) (Finding, error) {
	f := Finding{Manifest: j.manifest, Line: j.line, ID: j.id, Asset: j.asset}
	if t, ok := e.Tombs[j.asset.Ref.Object()]; ok {
		f.Status, f.Tomb = Forgotten, &t
		return f, nil
	}
	cl, err := e.Clients.For(ctx, j.asset.Ref.Bucket)
	if err != nil {
		return f, err
	}
	if e.Dir != "" {
		return e.fetch(ctx, cl, j, f)
	}
	return e.verify(ctx, cl, j, f)
}

type head struct {
	size      int64
	etag      string
	sha256    string
	versionID string
}

func headObject(ctx context.Context, cl *s3.Client, r s3ref.Ref, version string) (head, error) {
	in := &s3.HeadObjectInput{Bucket: aws.String(r.Bucket), Key: aws.String(r.Key), ChecksumMode: types.ChecksumModeEnabled}
	if version != "" {
		in.VersionId = aws.String(version)
	}
	out, err := cl.HeadObject(ctx, in)
	if err != nil {
		return head{}, err
	}
	h := head{size: aws.ToInt64(out.ContentLength), etag: strings.Trim(aws.ToString(out.ETag), `"`), versionID: aws.ToString(out.VersionId)}
	if c := aws.ToString(out.ChecksumSHA256); c != "" && !strings.Contains(c, "-") && out.ChecksumType != types.ChecksumTypeComposite {
		if b, err := base64.StdEncoding.DecodeString(c); err == nil && len(b) == 32 {
			h.sha256 = hex.EncodeToString(b)
		}
	}
	return h, nil
}

// mismatch says how h differs from the pins of a, or "".
func mismatch(a Asset, h head) string {
	switch {
	case a.Size >= 0 && h.size != a.Size:
		return fmt.Sprintf("%d bytes, pinned %d", h.size, a.Size)
	case a.ETag != "" && h.etag != "" && h.etag != a.ETag:
		return fmt.Sprintf("ETag %s, pinned %s", h.etag, a.ETag)
	case a.SHA256 != "" && h.sha256 != "" && h.sha256 != a.SHA256:
		return fmt.Sprintf("SHA-256 %s…, pinned %s…", h.sha256[:12], a.SHA256[:12])
	}
	return ""
}

func (e *Engine) verify(ctx context.Context, cl *s3.Client, j job, f Finding) (Finding, error) {
	a := j.asset
	probe := e.Clients.Probe(a.Ref.Bucket)
	cur, err := headObject(ctx, cl, a.Ref, "")
	if err != nil {
		err = probe.Check(ctx, cl, a.Ref.Bucket, a.Ref.Key, "", err)
	}
	curGone := err != nil && isNotFound(err)
	if err != nil && !curGone {
		return f, explain(err, "check", a.Ref, cl)
	}
	if a.Ref.VersionID == "" {
		switch {
		case curGone:
			f.Status, f.Detail = Missing, "no such object (the reference is not pinned to a version)"
		case mismatch(a, cur) != "":
			f.Status, f.Detail = Changed, "overwritten: "+mismatch(a, cur)+"; the reference is not pinned to a version, so the old bytes cannot be named"
		}
		return f, nil
	}
	if !curGone && cur.versionID == a.Ref.VersionID {
		if d := mismatch(a, cur); d != "" {
			f.Status, f.Detail = Changed, "the pinned version does not match its pins: "+d
		}
		return f, nil
	}
	pinned, err := headObject(ctx, cl, a.Ref, a.Ref.VersionID)
	if err != nil {
		err = probe.Check(ctx, cl, a.Ref.Bucket, a.Ref.Key, a.Ref.VersionID, err)
		if !isNotFound(err) {
			code, _ := s3store.APIError(err)
			if code != "InvalidArgument" { // some servers answer a malformed or unknown version id so
				return f, explain(err, "check", a.Ref, cl)
			}
		}
		f.Status, f.Detail = Missing, "the pinned version "+a.Ref.VersionID+" is gone"
		return f, nil
	}
	how := "overwritten"
	if curGone {
		how = "deleted (hidden by a delete marker)"
	}
	f.Status, f.Readable = Changed, true
	f.Detail = how + "; the pinned version is still readable"
	if d := mismatch(a, pinned); d != "" {
		f.Readable = false
		f.Detail = how + "; the pinned version does not match its pins: " + d
	}
	return f, nil
}

// fetch writes the asset at j.dest, verified against its pins, through a
// temporary file renamed into place; a file already there that verifies is
// kept. A body that breaks or stalls is fetched again, with the store's
// backoff, up to its number of attempts; bytes that do not match their
// pins are fetched once more before the asset is reported changed, since
// the network may have damaged them.
func (e *Engine) fetch(ctx context.Context, cl *s3.Client, j job, f Finding) (Finding, error) {
	if ok, err := verifyFile(j.dest, j.asset); err != nil {
		return f, err
	} else if ok {
		f.Status = Present
		return f, nil
	}
	attempts := max(e.Clients.Opts.MaxAttempts, 1)
	for attempt := 1; ; attempt++ {
		got, again, err := e.fetchOnce(ctx, cl, j, f)
		switch {
		case again == retryNone, again == retryDamaged && attempt > 1:
			return got, err
		case again == retryBody && attempt >= attempts:
			return got, fmt.Errorf("download %s%s: the connection kept failing after %d attempts (%v): check the network and run the command again (it resumes)",
				j.asset.Ref.Object(), where(cl), attempt, s3store.NetCause(err))
		}
		t := time.NewTimer(s3store.Backoff(attempt, e.Clients.Opts.MaxBackoff))
		select {
		case <-ctx.Done():
			t.Stop()
			return f, ctx.Err()
		case <-t.C:
		}
	}
}

// retry says whether a fetch attempt is worth repeating.
type retry int

const (
	retryNone    retry = iota
	retryBody          // the body broke or stalled
	retryDamaged       // the bytes did not match their pins
)

// fetchOnce is one attempt of fetch.
func (e *Engine) fetchOnce(ctx context.Context, cl *s3.Client, j job, f Finding) (Finding, retry, error) {
	a := j.asset
	in := &s3.GetObjectInput{Bucket: aws.String(a.Ref.Bucket), Key: aws.String(a.Ref.Key)}
	if a.Ref.VersionID != "" {
		in.VersionId = aws.String(a.Ref.VersionID)
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out, err := cl.GetObject(rctx, in) // the SDK has retried the request itself
	if err != nil {
		code, _ := s3store.APIError(err)
		if isNotFound(err) || (a.Ref.VersionID != "" && code == "InvalidArgument") {
			f.Status = Missing
			f.Detail = "no such object"
			if a.Ref.VersionID != "" {
				f.Detail = "the pinned version " + a.Ref.VersionID + " is gone"
			}
			return f, retryNone, nil
		}
		return f, retryNone, explain(err, "download", a.Ref, cl)
	}
	defer out.Body.Close()
	etag := strings.Trim(aws.ToString(out.ETag), `"`)
	if a.ETag != "" && etag != a.ETag {
		f.Status = Changed
		f.Detail = fmt.Sprintf("the object's ETag is %s, pinned %s; not written", etag, a.ETag)
		return f, retryNone, nil
	}
	dir := filepath.Dir(j.dest)
	if _, ok := e.dirs.Load(dir); !ok {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return f, retryNone, fmt.Errorf("create the directory for %s: %w", j.dest, err)
		}
		e.dirs.Store(dir, true)
	}
	tmp, err := os.CreateTemp(dir, ".datalfs-fetch-*")
	if err != nil {
		return f, retryNone, fmt.Errorf("write %s: %w", j.dest, err)
	}
	renamed := false
	defer func() {
		if !renamed {
			os.Remove(tmp.Name())
		}
	}()
	hs, hm := sha256.New(), md5.New()
	length := int64(-1)
	if out.ContentLength != nil {
		length = *out.ContentLength
	}
	n, err := s3store.CopyBody(rctx, cancel, io.MultiWriter(tmp, hs, hm), out.Body, length, e.Clients.Opts.IdleTimeout)
	if cerr := tmp.Close(); err == nil && cerr != nil {
		return f, retryNone, fmt.Errorf("write %s: %w", j.dest, cerr)
	}
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return f, retryNone, ctx.Err()
	case s3store.IsLocalWrite(err):
		return f, retryNone, fmt.Errorf("write %s: %w", j.dest, err)
	default:
		return f, retryBody, err
	}
	if d := checkSums(a, n, etag, hs, hm); d != "" {
		f.Status, f.Detail = Changed, d+"; not written"
		return f, retryDamaged, nil
	}
	if err := os.Rename(tmp.Name(), j.dest); err != nil {
		return f, retryNone, fmt.Errorf("write %s: %w", j.dest, err)
	}
	renamed = true
	f.Bytes = n
	return f, retryNone, nil
}

// checkSums compares downloaded bytes with the pins: size, SHA-256, and the
// ETag when it is a plain MD5 (not a multipart or SSE-KMS ETag).
func checkSums(a Asset, n int64, etag string, hs, hm hash.Hash) string {
	if a.Size >= 0 && n != a.Size {
		return fmt.Sprintf("got %d bytes, pinned %d", n, a.Size)
	}
	if a.SHA256 != "" {
		if got := hex.EncodeToString(hs.Sum(nil)); got != a.SHA256 {
			return fmt.Sprintf("SHA-256 %s…, pinned %s…", got[:12], a.SHA256[:12])
		}
	}
	want := a.ETag
	if want == "" {
		want = etag
	}
	if isMD5(want) {
		if got := hex.EncodeToString(hm.Sum(nil)); got != want {
			return fmt.Sprintf("the bytes hash to MD5 %s, the ETag says %s: damaged in transit or at rest", got, want)
		}
	}
	return ""
}

func isMD5(etag string) bool {
	if len(etag) != 32 {
		return false
	}
	_, err := hex.DecodeString(etag)
	return err == nil
}

// verifyFile reports whether path already holds the asset's bytes: the
// pinned size, and the SHA-256 or MD5 ETag when pinned. Without a size or
// hash pin, a present file is not trusted.
func verifyFile(path string, a Asset) (bool, error) {
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !st.Mode().IsRegular() || a.Size < 0 || st.Size() != a.Size {
		return false, nil
	}
	if a.SHA256 == "" && !isMD5(a.ETag) {
		return false, nil // size alone (a multipart ETag) is not proof: download again
	}
	fh, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer fh.Close()
	hs, hm := sha256.New(), md5.New()
	if _, err := io.Copy(io.MultiWriter(hs, hm), fh); err != nil {
		return false, err
	}
	return checkSums(a, st.Size(), "", hs, hm) == "", nil
}
