package transfer

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"time"
)

// Store is the object storage the agent moves objects to and from. Objects are
// named by their LFS oid, the hex SHA-256 of their content.
type Store interface {
	// Stat returns the size of the stored object named oid, or an error
	// wrapping fs.ErrNotExist when there is none.
	Stat(ctx context.Context, oid string) (int64, error)

	// Upload stores the size bytes of body under oid. It may read body more
	// than once and from several goroutines. It must never make bytes visible
	// under oid whose SHA-256 is not oid: such content is refused with an
	// error wrapping ErrDigestMismatch. progress is called with the count of
	// bytes newly accepted; bytes sent again after a retry are not counted
	// twice. progress(0) says the store is waiting for an answer that may
	// take long (a multipart completion), not stalled.
	Upload(ctx context.Context, oid string, size int64, body io.ReaderAt, progress func(int64)) error

	// Download writes bytes [from, size) of oid into w at their offsets,
	// each byte exactly once (possibly several ranges at once, each range in
	// order), and calls progress with the count of bytes written. It returns
	// an error wrapping fs.ErrNotExist when the object does not exist.
	Download(ctx context.Context, oid string, size, from int64, w io.WriterAt, progress func(int64)) error

	// Locate names where oid lives, for messages (for example s3://bucket/key).
	Locate(oid string) string
}

// ErrDigestMismatch reports content whose SHA-256 is not the oid it was
// stored or fetched under.
var ErrDigestMismatch = errors.New("content does not match its oid")

// ErrTransient marks a failure that may go away by itself (the network broke
// or the server failed for longer than the retries lasted). A download that
// fails this way keeps its verified part for the next run to resume.
var ErrTransient = errors.New("transient failure")

// Transient returns an error that reads msg and wraps both cause and
// ErrTransient, so errors.Is finds either without either showing in the text.
func Transient(cause error, msg string) error {
	return &transientError{msg: msg, cause: cause}
}

type transientError struct {
	msg   string
	cause error
}

func (e *transientError) Error() string   { return e.msg }
func (e *transientError) Unwrap() []error { return []error{e.cause, ErrTransient} }

// invalidError is a request that is well formed but wrong (code 400).
type invalidError struct{ msg string }

func (e *invalidError) Error() string { return e.msg }

func invalid(format string, args ...any) error {
	return &invalidError{msg: fmt.Sprintf(format, args...)}
}

// Target is where one agent process moves objects.
type Target struct {
	Store Store
	// TempDir is the directory for downloads in progress. It must be on the
	// same file system as git-lfs's object store, because git-lfs renames the
	// finished file into place.
	TempDir string
	// StallTimeout gives up on an object when no byte has moved for this
	// long, retries included; zero means never.
	StallTimeout time.Duration
	// ObjectMode is the mode git-lfs gives files in this repository's object
	// store (core.sharedRepository, else the umask). A finished download is
	// handed over with it, because git-lfs keeps the mode of the file it
	// moves into place. Zero leaves it 0600.
	ObjectMode fs.FileMode
}

// Opener returns the target for the operation and remote named in init. The
// agent calls it once, at the first transfer request, so that init stays
// cheap; an error is reported on every object of the session.
type Opener func(ctx context.Context, operation, remote string) (*Target, error)

// Agent serves one git-lfs transfer session.
type Agent struct {
	Open Opener
	// Log receives diagnostics. It must not be the protocol stream.
	Log io.Writer
	// ProgressInterval is the shortest time between two progress messages
	// for one object; the first bytes are always reported at once.
	ProgressInterval time.Duration

	downloads tempFiles
}

// session is the state between init and terminate.
type session struct {
	operation string
	remote    string
	once      sync.Once
	target    *Target
	openErr   error
}

// Serve reads requests from r and writes replies to w until git-lfs sends
// terminate or closes r. It returns an error only for input that breaks the
// protocol or when w fails; per-object failures are reported to git-lfs and
// the session goes on.
func (a *Agent) Serve(ctx context.Context, r io.Reader, w io.Writer) error {
	dec := newDecoder(r)
	enc := newEncoder(w)
	var s *session
	for {
		req, err := dec.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		switch req.Event {
		case "init":
			if s != nil {
				return &ProtocolError{Msg: "a second init in one session"}
			}
			s, err = a.init(req)
			if err != nil {
				a.logf("init: %v", err)
				if err := enc.Send(initReply{Error: &WireError{Code: 32, Message: err.Error()}}); err != nil {
					return err
				}
				s = nil
				continue
			}
			if err := enc.Send(initReply{}); err != nil {
				return err
			}
		case "upload", "download":
			if s == nil {
				return &ProtocolError{Msg: fmt.Sprintf("%s request for %q before init", req.Event, req.Oid)}
			}
			if err := enc.Send(a.transfer(ctx, s, enc, req)); err != nil {
				return err
			}
		case "terminate":
			return nil
		default:
			a.logf("ignoring unknown event %q", req.Event)
			if req.Oid != "" {
				reply := complete{Event: "complete", Oid: req.Oid, Error: &WireError{Code: 400,
					Message: fmt.Sprintf("datalfs does not know the event %q; upgrade datalfs or report this", req.Event)}}
				if err := enc.Send(reply); err != nil {
					return err
				}
			}
		}
	}
}

func (a *Agent) init(req *Request) (*session, error) {
	switch req.Operation {
	case "upload", "download":
	default:
		return nil, fmt.Errorf("unknown operation %q in init: expected upload or download", req.Operation)
	}
	return &session{operation: req.Operation, remote: req.Remote}, nil
}

func (a *Agent) logf(format string, args ...any) {
	if a.Log != nil {
		fmt.Fprintf(a.Log, "datalfs: "+format+"\n", args...)
	}
}

// transfer moves one object and returns the complete message for it.
func (a *Agent) transfer(ctx context.Context, s *session, enc *encoder, req *Request) complete {
	var (
		path string
		err  error
	)
	switch {
	case req.Event != s.operation:
		err = fmt.Errorf("%s request in a session started for %s", req.Event, s.operation)
	case !ValidOid(req.Oid):
		err = invalid("invalid oid %q: expected 64 lower-case hex digits", req.Oid)
	case req.Size < 0:
		err = invalid("invalid size %d for object %s", req.Size, req.Oid)
	default:
		var t *Target
		t, err = a.target(ctx, s)
		if err == nil {
			path, err = a.move(ctx, t, enc, req)
		}
	}
	if err != nil {
		a.logf("%s %s: %v", req.Event, req.Oid, err)
		return complete{Event: "complete", Oid: req.Oid, Error: &WireError{Code: errorCode(err), Message: err.Error()}}
	}
	return complete{Event: "complete", Oid: req.Oid, Path: path}
}

// errStalled cancels a transfer whose bytes stopped moving.
var errStalled = errors.New("no bytes moved")

// move transfers one object, giving up when no byte has moved for
// t.StallTimeout, retries included.
func (a *Agent) move(ctx context.Context, t *Target, enc *encoder, req *Request) (path string, err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var watchdog *time.Timer
	moved := func() {}
	if t.StallTimeout > 0 {
		watchdog = time.AfterFunc(t.StallTimeout, func() { cancel(errStalled) })
		defer watchdog.Stop()
		moved = func() { watchdog.Reset(t.StallTimeout) }
	}
	p := newProgress(enc, req.Oid, req.Size, a.ProgressInterval)
	p.moved = moved
	if req.Event == "upload" {
		err = a.upload(ctx, t, req, p)
	} else {
		path, err = a.download(ctx, t, req, p)
	}
	p.flush()
	if err != nil && errors.Is(context.Cause(ctx), errStalled) {
		err = fmt.Errorf("gave up on %s %s after %v without progress, retries included (%v); check the network and the endpoint, then run the command again",
			req.Event, req.Oid, t.StallTimeout, err)
	}
	return path, err
}

// interrupted reports whether ctx ended because the agent is being stopped
// (a signal), as opposed to a stalled transfer.
func interrupted(ctx context.Context) bool {
	return ctx.Err() != nil && !errors.Is(context.Cause(ctx), errStalled)
}

func (a *Agent) target(ctx context.Context, s *session) (*Target, error) {
	s.once.Do(func() {
		s.target, s.openErr = a.Open(ctx, s.operation, s.remote)
	})
	return s.target, s.openErr
}

func errorCode(err error) int {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return 404
	case errors.Is(err, ErrDigestMismatch):
		return 422
	case errors.Is(err, fs.ErrPermission):
		return 403
	case errors.As(err, new(*invalidError)):
		return 400
	default:
		return 500
	}
}

// ValidOid reports whether oid is a SHA-256 in lower-case hex, the only form
// git-lfs produces. Anything else could smuggle a path into a key or file name.
func ValidOid(oid string) bool {
	if len(oid) != sha256.Size*2 {
		return false
	}
	for i := 0; i < len(oid); i++ {
		c := oid[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func (a *Agent) upload(ctx context.Context, t *Target, req *Request, p *progressReporter) error {
	if req.Path == "" {
		return fmt.Errorf("upload request for %s has no path", req.Oid)
	}
	f, err := os.Open(req.Path)
	if err != nil {
		return fmt.Errorf("open local copy of %s: %w", req.Oid, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat local copy of %s: %w", req.Oid, err)
	}
	if fi.Size() != req.Size {
		return fmt.Errorf("local file %s is %d bytes but git-lfs expects %d for %s; run `git lfs fsck` to find damaged objects",
			req.Path, fi.Size(), req.Size, req.Oid)
	}
	if u, ok := t.Store.(IfAbsentUploader); ok {
		res, err := u.UploadIfAbsent(ctx, req.Oid, req.Size, f, p.add)
		switch {
		case err != nil:
			return err
		case res == IfAbsentStored:
			return nil
		case res == IfAbsentPresent:
			// Already stored, as a HEAD would have found: gc must learn
			// that this push relies on it, as on the Stat path below.
			again, err := a.keep(ctx, t, req.Oid)
			if err != nil || !again {
				return err
			}
			return t.Store.Upload(ctx, req.Oid, req.Size, f, p.addOrAlive)
		}
	}
	size, err := t.Store.Stat(ctx, req.Oid)
	switch {
	case err == nil && size == req.Size:
		again, err := a.keep(ctx, t, req.Oid)
		if err != nil {
			return err
		}
		if !again {
			p.add(req.Size) // already stored: nothing to send
			return nil
		}
	case err == nil:
		a.logf("%s holds %d bytes, expected %d: uploading again", t.Store.Locate(req.Oid), size, req.Size)
	case errors.Is(err, fs.ErrPermission):
		// Write-only credentials (S3 answers a HEAD of a missing key with
		// 403 without s3:ListBucket): send it; the upload says if it may not.
		a.logf("cannot check whether %s is stored (%v): uploading it", t.Store.Locate(req.Oid), err)
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	return t.Store.Upload(ctx, req.Oid, req.Size, f, p.addOrAlive)
}

// download fetches one object into a temp file in the LFS temp dir and
// returns its path once its size and SHA-256 match the request. A partial
// file left by an interrupted agent is resumed; if the result does not
// verify, the object is fetched once more from scratch.
func (a *Agent) download(ctx context.Context, t *Target, req *Request, p *progressReporter) (string, error) {
	path, resumed, err := a.downloadOnce(ctx, t, req, p, true)
	if errors.Is(err, ErrDigestMismatch) {
		// A resumed prefix or a byte damaged on the way: fetch it once more
		// before calling the bucket's copy corrupt.
		a.logf("download of %s did not verify (resumed from byte %d): fetching it again from the start", req.Oid, resumed)
		path, _, err = a.downloadOnce(ctx, t, req, p, false)
	}
	return path, err
}

func (a *Agent) downloadOnce(ctx context.Context, t *Target, req *Request, p *progressReporter, resume bool) (path string, resumed int64, err error) {
	tf, err := a.openTemp(t.TempDir, req.Oid, req.Size, resume)
	if err != nil {
		return "", 0, err
	}
	v := newVerifier(tf, req.Size)
	p.add(tf.resumeFrom)
	err = t.Store.Download(ctx, req.Oid, req.Size, tf.resumeFrom, v, p.add)
	size, sum, verr := v.result() // also stops the hasher
	if err == nil && verr == nil && (size != req.Size || sum != req.Oid) {
		err = fmt.Errorf("object %s at %s is corrupt: got %d bytes with sha256 %s, want %d bytes; "+
			"if a second try says the same, the bucket's copy is damaged: push it again from a clone that has a good copy: %w",
			req.Oid, t.Store.Locate(req.Oid), size, sum, req.Size, ErrDigestMismatch)
	}
	if err == nil {
		err = verr
	}
	// An interrupted agent (a signal) or a network failure leaves the part
	// already written for the next run to resume; any other failure leaves
	// nothing.
	if err != nil {
		tf.fail(interrupted(ctx) || errors.Is(context.Cause(ctx), errStalled) || errors.Is(err, ErrTransient), v.written())
		return "", tf.resumeFrom, err
	}
	path, err = tf.handOver(t.ObjectMode)
	return path, tf.resumeFrom, err
}

// progressReporter turns byte counts into progress messages, at most one per
// interval except for the first bytes, which workers waiting on this one need
// to see at once.
type progressReporter struct {
	enc      *encoder
	oid      string
	total    int64
	interval time.Duration

	moved func() // called whenever bytes move, even between messages

	mu       sync.Mutex
	soFar    int64
	reported int64
	last     time.Time
}

func newProgress(enc *encoder, oid string, total int64, interval time.Duration) *progressReporter {
	return &progressReporter{enc: enc, oid: oid, total: total, interval: interval}
}

// add records n more bytes moved. It is safe for concurrent use.
func (p *progressReporter) add(n int64) {
	if n <= 0 {
		return
	}
	if p.moved != nil {
		p.moved()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	// Never report more than the object's size, whatever was sent again.
	p.soFar = min(p.soFar+n, p.total)
	if p.soFar == p.reported {
		return
	}
	if p.reported == 0 || time.Since(p.last) >= p.interval {
		p.sendLocked()
	}
}

// flush reports bytes not yet reported.
func (p *progressReporter) flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.soFar > p.reported {
		p.sendLocked()
	}
}

func (p *progressReporter) sendLocked() {
	// A write error here surfaces on the complete message that follows.
	_ = p.enc.Send(progress{Event: "progress", Oid: p.oid, BytesSoFar: p.soFar, BytesSinceLast: p.soFar - p.reported})
	p.reported = p.soFar
	p.last = time.Now()
}
