package dataset

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
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

// one checks or fetches one asset.
func (e *Engine) one(ctx context.Context, j job) (Finding, error) {
	f := Finding{Manifest: j.manifest, Line: j.line, ID: j.id, Asset: j.asset}
	if t, ok := e.Tombs[j.asset.Ref.Object()]; ok {
		f.Status, f.Tomb = Forgotten, &t
		return f, nil
	}
	b, err := e.Clients.For(ctx, j.asset.Ref.Bucket)
	if err != nil {
		return f, err
	}
	if e.Dir != "" {
		return e.fetch(ctx, b, j, f)
	}
	return e.verify(ctx, b, j, f)
}

type head = s3store.ObjectHead

// mismatch says how h differs from the pins of a, or "".
func mismatch(a Asset, h head) string {
	switch {
	case a.Size >= 0 && h.Size != a.Size:
		return fmt.Sprintf("%d bytes, pinned %d", h.Size, a.Size)
	case a.ETag != "" && h.ETag != "" && h.ETag != a.ETag:
		return fmt.Sprintf("ETag %s, pinned %s", h.ETag, a.ETag)
	case a.SHA256 != "" && h.SHA256 != "" && h.SHA256 != a.SHA256:
		return fmt.Sprintf("SHA-256 %s…, pinned %s…", h.SHA256[:12], a.SHA256[:12])
	}
	return ""
}

func (e *Engine) verify(ctx context.Context, b Bucket, j job, f Finding) (Finding, error) {
	a := j.asset
	cur, err := b.Head(ctx, a.Ref.Key, "")
	curGone := errors.Is(err, s3store.ErrNoSuchObject)
	if err != nil && !curGone {
		return f, b.Explain(err, "check", a.Ref)
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
	if !curGone && cur.VersionID == a.Ref.VersionID {
		if d := mismatch(a, cur); d != "" {
			f.Status, f.Detail = Changed, "the pinned version does not match its pins: "+d
		}
		return f, nil
	}
	pinned, err := b.Head(ctx, a.Ref.Key, a.Ref.VersionID)
	if errors.Is(err, s3store.ErrNoSuchObject) {
		f.Status, f.Detail = Missing, "the pinned version "+a.Ref.VersionID+" is gone"
		return f, nil
	}
	if err != nil {
		return f, b.Explain(err, "check", a.Ref)
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
// kept. A body that breaks or stalls is resumed by s3store; bytes that do
// not match their pins are fetched once more before the asset is reported
// changed, since the network may have damaged them.
func (e *Engine) fetch(ctx context.Context, b Bucket, j job, f Finding) (Finding, error) {
	if ok, err := verifyFile(j.dest, j.asset); err != nil {
		return f, err
	} else if ok {
		f.Status = Present
		return f, nil
	}
	got, damaged, err := e.fetchOnce(ctx, b, j, f)
	if damaged {
		got, _, err = e.fetchOnce(ctx, b, j, f)
	}
	return got, err
}

// fetchOnce is one attempt of fetch; damaged says the bytes did not match
// their pins.
func (e *Engine) fetchOnce(ctx context.Context, b Bucket, j job, f Finding) (_ Finding, damaged bool, _ error) {
	a := j.asset
	body, err := b.Open(ctx, a.Ref.Key, a.Ref.VersionID)
	if errors.Is(err, s3store.ErrNoSuchObject) {
		f.Status = Missing
		f.Detail = "no such object"
		if a.Ref.VersionID != "" {
			f.Detail = "the pinned version " + a.Ref.VersionID + " is gone"
		}
		return f, false, nil
	}
	if err != nil {
		return f, false, b.Explain(err, "download", a.Ref)
	}
	defer body.Close()
	etag := body.Head().ETag
	if a.ETag != "" && etag != a.ETag {
		f.Status = Changed
		f.Detail = fmt.Sprintf("the object's ETag is %s, pinned %s; not written", etag, a.ETag)
		return f, false, nil
	}
	dir := filepath.Dir(j.dest)
	if _, ok := e.dirs.Load(dir); !ok {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return f, false, fmt.Errorf("create the directory for %s: %w", j.dest, err)
		}
		e.dirs.Store(dir, true)
	}
	tmp, err := os.CreateTemp(dir, ".datalfs-fetch-*")
	if err != nil {
		return f, false, fmt.Errorf("write %s: %w", j.dest, err)
	}
	renamed := false
	defer func() {
		if !renamed {
			os.Remove(tmp.Name())
		}
	}()
	hs, hm := sha256.New(), md5.New()
	n, err := io.Copy(io.MultiWriter(tmp, hs, hm), readOnly{body})
	if cerr := tmp.Close(); err == nil && cerr != nil {
		return f, false, fmt.Errorf("write %s: %w", j.dest, cerr)
	}
	var be *s3store.BodyError
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return f, false, ctx.Err()
	case errors.As(err, &be):
		return f, false, fmt.Errorf("download %s: %v: check the network and run the command again (it resumes)", a.Ref.Object(), be)
	case errors.As(err, new(*readError)):
		return f, false, b.Explain(errors.Unwrap(err), "download", a.Ref)
	default:
		return f, false, fmt.Errorf("write %s: %w", j.dest, err)
	}
	if d := checkSums(a, n, etag, hs, hm); d != "" {
		f.Status, f.Detail = Changed, d+"; not written"
		return f, true, nil
	}
	if err := os.Rename(tmp.Name(), j.dest); err != nil {
		return f, false, fmt.Errorf("write %s: %w", j.dest, err)
	}
	renamed = true
	f.Bytes = n
	return f, false, nil
}

// readOnly hides the body's other methods from io.Copy and marks its
// errors, so that a failure to read is told from a failure to write.
type readOnly struct{ r io.Reader }

func (r readOnly) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		if _, ok := err.(*s3store.BodyError); !ok {
			err = &readError{err}
		}
	}
	return n, err
}

// readError is an error of the download that is not a BodyError: the
// object changed while it was read, or the request failed.
type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

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
