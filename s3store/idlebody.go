package s3store

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// idleWatch is the store's one idle watchdog on response bodies: a body that
// delivers no byte for idle while its reader waits is closed, and the
// waiting Read fails with errBodyStalled. Only time spent inside Read
// counts: a caller that is slow to ask for more (a busy disk) is not the
// server's stall.
type idleWatch struct {
	idle  time.Duration
	clock clock
}

// clock starts the watchdog's timers; tests replace it with one they
// advance by hand.
type clock interface {
	AfterFunc(d time.Duration, f func()) timer
}

// timer is the part of *time.Timer the watchdog uses.
type timer interface {
	Reset(d time.Duration) bool
	Stop() bool
}

type realClock struct{}

func (realClock) AfterFunc(d time.Duration, f func()) timer { return time.AfterFunc(d, f) }

// middleware adds the watchdog to every response body of a client's
// requests. Without it a server that stalls in the middle of an XML answer
// (a listing, a multipart completion) would hang the command: the
// transport bounds the wait for headers, not for the body. Object bodies
// the caller streams (GetObject) get the same watchdog, so a stalled
// download fails its Read and is resumed by the caller.
func (w *idleWatch) middleware(stack *middleware.Stack) error {
	return stack.Deserialize.Add(middleware.DeserializeMiddlewareFunc("datalfsIdleBody",
		func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleDeserialize(ctx, in)
			if resp, ok := out.RawResponse.(*smithyhttp.Response); ok && resp.Body != nil {
				resp.Body = w.body(resp.Body)
			}
			return out, md, err
		}), middleware.After)
}

// errBodyStalled is what a stalled body's reader gets. It is a timeout, so
// the SDK's retryer takes it as a connection error worth another attempt,
// and the store's resumable reads (Download, ObjectReader) continue from the
// first missing byte.
type errBodyStalled struct{ idle time.Duration }

func (e errBodyStalled) Error() string {
	return fmt.Sprintf("the response body stopped: no data for %v", e.idle)
}
func (errBodyStalled) Timeout() bool   { return true }
func (errBodyStalled) Temporary() bool { return true }

// idleBody closes rc when one read waits longer than idle.
type idleBody struct {
	rc    io.ReadCloser
	idle  time.Duration
	timer timer

	mu      sync.Mutex
	stalled bool
}

func (w *idleWatch) body(rc io.ReadCloser) *idleBody {
	b := &idleBody{rc: rc, idle: w.idle}
	b.timer = w.clock.AfterFunc(w.idle, func() {
		b.mu.Lock()
		b.stalled = true
		b.mu.Unlock()
		rc.Close() // the waiting read returns at once
	})
	b.timer.Stop()
	return b
}

func (b *idleBody) Read(p []byte) (int, error) {
	b.timer.Reset(b.idle)
	n, err := b.rc.Read(p)
	b.timer.Stop()
	b.mu.Lock()
	stalled := b.stalled
	b.mu.Unlock()
	if stalled {
		return n, errBodyStalled{b.idle}
	}
	return n, err
}

func (b *idleBody) Close() error {
	b.timer.Stop()
	return b.rc.Close()
}
