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

// watchBodies adds to a client's stack a watchdog on every response body:
// when no byte arrives for idle, the body is closed and its reader gets a
// timeout error, which the SDK retries. Without it a server that stalls in
// the middle of an XML answer (a listing, a multipart completion) would
// hang the command: the transport bounds the wait for headers, not for the
// body. Object bodies the caller streams get the same watchdog.
func watchBodies(idle time.Duration) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Deserialize.Add(middleware.DeserializeMiddlewareFunc("datalfsIdleBody",
			func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleDeserialize(ctx, in)
				if resp, ok := out.RawResponse.(*smithyhttp.Response); ok && resp.Body != nil {
					resp.Body = newIdleBody(resp.Body, idle)
				}
				return out, md, err
			}), middleware.After)
	}
}

// errBodyStalled is what a stalled body's reader gets. It is a timeout, so
// the SDK's retryer takes it as a connection error worth another attempt.
type errBodyStalled struct{ idle time.Duration }

func (e errBodyStalled) Error() string {
	return fmt.Sprintf("the response body stopped: no data for %v", e.idle)
}
func (errBodyStalled) Timeout() bool   { return true }
func (errBodyStalled) Temporary() bool { return true }

// idleBody closes rc when one read waits longer than idle. Only time spent
// inside Read counts: a caller that is slow to ask for more (a busy disk)
// is not the server's stall.
type idleBody struct {
	rc    io.ReadCloser
	idle  time.Duration
	timer *time.Timer

	mu      sync.Mutex
	stalled bool
}

func newIdleBody(rc io.ReadCloser, idle time.Duration) *idleBody {
	b := &idleBody{rc: rc, idle: idle}
	b.timer = time.AfterFunc(idle, func() {
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
