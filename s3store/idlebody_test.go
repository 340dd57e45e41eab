package s3store

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/datalfs/datalfs/internal/mems3"
	"github.com/datalfs/datalfs/transfer"
)

// fakeClock runs the watchdog's timers by hand: elapse is "the idle time
// passed" for every timer armed at that moment.
type fakeClock struct {
	mu     sync.Mutex
	timers []*fakeTimer
	armed  chan struct{} // a value after a timer is armed
}

type fakeTimer struct {
	c  *fakeClock
	f  func()
	on bool
}

func newFakeClock() *fakeClock { return &fakeClock{armed: make(chan struct{}, 1)} }

func (c *fakeClock) AfterFunc(_ time.Duration, f func()) timer {
	t := &fakeTimer{c: c, f: f}
	c.mu.Lock()
	c.timers = append(c.timers, t)
	c.mu.Unlock()
	t.Reset(0)
	return t
}

func (t *fakeTimer) Reset(time.Duration) bool {
	t.c.mu.Lock()
	was := t.on
	t.on = true
	t.c.mu.Unlock()
	select {
	case t.c.armed <- struct{}{}:
	default:
	}
	return was
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.on
	t.on = false
	return was
}

// running returns how many timers are armed.
func (c *fakeClock) running() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if t.on {
			n++
		}
	}
	return n
}

// waitArmed returns once at least one timer is armed.
func (c *fakeClock) waitArmed() {
	for c.running() == 0 {
		<-c.armed
	}
}

// elapse fires every armed timer and returns how many fired.
func (c *fakeClock) elapse() int {
	c.mu.Lock()
	var due []func()
	for _, t := range c.timers {
		if t.on {
			t.on = false
			due = append(due, t.f)
		}
	}
	c.mu.Unlock()
	for _, f := range due {
		f()
	}
	return len(due)
}

// TestIdleBody: a read that waits longer than the idle time fails with a
// timeout error (which the SDK retries); time the caller spends between
// reads does not count.
func TestIdleBody(t *testing.T) {
	// "abcd" is there at once; then nothing comes: the server stalls.
	pr, _ := io.Pipe()
	body := struct {
		io.Reader
		io.Closer
	}{io.MultiReader(strings.NewReader("abcd"), pr), pr}
	c := newFakeClock()
	b := (&idleWatch{idle: 100 * time.Millisecond, clock: c}).body(body)
	buf := make([]byte, 2)
	if _, err := io.ReadFull(b, buf); err != nil {
		t.Fatal(err)
	}
	if n := c.elapse(); n != 0 { // a slow caller, not a stalled server
		t.Errorf("%d watchdogs fired between two reads, want none", n)
	}
	if _, err := io.ReadFull(b, buf); err != nil || string(buf) != "cd" {
		t.Fatalf("read after a slow caller: %q, %v; want \"cd\"", buf, err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := b.Read(buf)
		done <- err
	}()
	c.waitArmed()
	c.elapse()
	err := <-done
	var te interface{ Timeout() bool }
	if !errors.As(err, &te) || !te.Timeout() || !strings.Contains(err.Error(), "no data for 100ms") {
		t.Errorf("stalled read error = %v, want a timeout saying no data came for 100ms", err)
	}
}

// idleStore returns a store on srv whose watchdog runs on a fake clock,
// and the key of an object of size random bytes stored there.
func idleStore(t *testing.T, srv *mems3.Server, size int) (*Store, *fakeClock, []byte, string) {
	t.Helper()
	loc, err := ParseURL(srv.URL + "/bucket/repo")
	if err != nil {
		t.Fatal(err)
	}
	opts := DefaultOptions()
	opts.MaxAttempts = 3
	opts.MaxBackoff = 1 // no wait between attempts
	s, err := New(context.Background(), loc, opts)
	if err != nil {
		t.Fatal(err)
	}
	c := newFakeClock()
	s.watch.clock = c
	data := make([]byte, size)
	rand.Read(data)
	sum := sha256.Sum256(data)
	oid := hex.EncodeToString(sum[:])
	srv.Put(t, "bucket", loc.Key(oid), data)
	return s, c, data, oid
}

// stallAfter answers a GET with the whole object's headers and its first n
// bytes, then sends nothing more until the client goes away.
func stallAfter(w http.ResponseWriter, r *http.Request, data []byte, n int) {
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.Header().Set("Content-Range", fmt.Sprintf("bytes 0-%d/%d", len(data)-1, len(data)))
	w.Header().Set("ETag", `"stall-etag"`)
	w.WriteHeader(http.StatusPartialContent)
	w.Write(data[:n])
	w.(http.Flusher).Flush()
	<-r.Context().Done()
}

// slowWriter is a download target that calls during on its first write,
// as a disk that takes long to accept bytes would make the idle time pass.
type slowWriter struct {
	buf    []byte
	once   sync.Once
	during func()
	n      atomic.Int64
	at     int64
	reach  chan struct{} // closed once at bytes have been written
}

func (w *slowWriter) WriteAt(p []byte, off int64) (int, error) {
	w.once.Do(w.during)
	n := copy(w.buf[off:], p)
	if w.n.Add(int64(n)) >= w.at && w.reach != nil {
		close(w.reach)
		w.reach = nil
	}
	return n, nil
}

// TestDownloadSlowDiskIsNotStalled: time the download spends writing is not
// the server's stall. A write during which the idle time passes must not
// abort the GET (it used to: copyIdle's own watchdog counted it, and the
// range was fetched again).
func TestDownloadSlowDiskIsNotStalled(t *testing.T) {
	srv := mems3.Start(t, "bucket")
	s, c, data, oid := idleStore(t, srv, 2<<20)
	var fired int
	w := &slowWriter{buf: make([]byte, len(data)), during: func() { fired = c.elapse() }}
	if err := s.Download(context.Background(), oid, int64(len(data)), 0, w, func(int64) {}); err != nil {
		t.Fatalf("Download: %v", err)
	}
	if fired != 0 {
		t.Errorf("%d watchdogs fired while the download was writing, want none", fired)
	}
	if !bytes.Equal(w.buf, data) {
		t.Error("downloaded bytes differ from the object")
	}
	if n := srv.Requests("GET"); n != 1 {
		t.Errorf("%d GETs (ranges %q), want 1", n, srv.Ranges())
	}
}

// TestDownloadStallResumes: a GET whose body stops for the idle time is
// abandoned and the download resumes at the first missing byte, pinned to
// the first answer's ETag. This is the path of the agent and of export.
func TestDownloadStallResumes(t *testing.T) {
	srv := mems3.Start(t, "bucket")
	s, c, data, oid := idleStore(t, srv, 256<<10)
	half := len(data) / 2
	var gets atomic.Int32
	var ifMatch atomic.Value
	srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, oid) {
			return false
		}
		if gets.Add(1) == 1 {
			stallAfter(w, r, data, half)
			return true
		}
		ifMatch.Store(r.Header.Get("If-Match"))
		return false
	})
	w := &slowWriter{buf: make([]byte, len(data)), during: func() {}, at: int64(half), reach: make(chan struct{})}
	reach := w.reach
	done := make(chan error, 1)
	go func() { done <- s.Download(context.Background(), oid, int64(len(data)), 0, w, func(int64) {}) }()
	<-reach       // the first half is written; the next read waits
	c.waitArmed() // ... under the watchdog
	c.elapse()
	if err := <-done; err != nil {
		t.Fatalf("Download after a stall: %v", err)
	}
	if !bytes.Equal(w.buf, data) {
		t.Error("downloaded bytes differ from the object")
	}
	want := []string{fmt.Sprintf("bytes=0-%d", len(data)-1), fmt.Sprintf("bytes=%d-%d", half, len(data)-1)}
	if got := srv.Ranges(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("ranged GETs %q, want %q", got, want)
	}
	if got := ifMatch.Load(); got != `"stall-etag"` {
		t.Errorf("resumed GET If-Match %q, want the first answer's ETag", got)
	}
}

// TestDownloadStallsGiveUp: a server that stalls every body ends the
// download after the store's attempts with a transient error (the agent
// keeps what it has for the next run) that says the data stopped.
func TestDownloadStallsGiveUp(t *testing.T) {
	srv := mems3.Start(t, "bucket")
	s, c, data, oid := idleStore(t, srv, 64<<10)
	srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, oid) {
			return false
		}
		stallAfter(w, r, data, 0)
		return true
	})
	done := make(chan error, 1)
	w := &slowWriter{buf: make([]byte, len(data)), during: func() {}}
	go func() { done <- s.Download(context.Background(), oid, int64(len(data)), 0, w, func(int64) {}) }()
	var err error
	for stalls := 0; ; {
		select {
		case err = <-done:
		case <-c.armed:
			stalls += c.elapse()
			continue
		}
		break
	}
	if !errors.Is(err, transfer.ErrTransient) || !strings.Contains(err.Error(), "no data for 30s") {
		t.Errorf("Download = %v, want a transient error saying no data came for 30s", err)
	}
	if n := srv.Requests("GET"); n != 3 {
		t.Errorf("%d GETs, want the store's 3 attempts", n)
	}
}

// TestObjectReaderStallResumes: the dataset commands' resumable GET has the
// same watchdog: a stalled body is continued from the first missing byte.
func TestObjectReaderStallResumes(t *testing.T) {
	srv := mems3.Start(t, "bucket")
	s, c, data, oid := idleStore(t, srv, 128<<10)
	key := s.loc.Key(oid)
	half := len(data) / 2
	var gets atomic.Int32
	srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, oid) || gets.Add(1) > 1 {
			return false
		}
		stallAfter(w, r, data, half)
		return true
	})
	r, err := s.Objects().Open(context.Background(), key, "")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := make([]byte, half)
	if _, err := io.ReadFull(r, got); err != nil {
		t.Fatal(err)
	}
	done := make(chan []byte, 1)
	go func() {
		rest, err := io.ReadAll(r)
		if err != nil {
			t.Errorf("read after a stall: %v", err)
		}
		done <- rest
	}()
	c.waitArmed()
	c.elapse()
	got = append(got, <-done...)
	if !bytes.Equal(got, data) {
		t.Errorf("read %d bytes, not the object's %d", len(got), len(data))
	}
	if ranges := srv.Ranges(); len(ranges) != 1 || ranges[0] != fmt.Sprintf("bytes=%d-", half) {
		t.Errorf("ranged GETs %q, want one from the stall", ranges)
	}
}
