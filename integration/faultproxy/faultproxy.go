// Package faultproxy is an HTTP proxy for tests that sits between an S3
// client and an S3 server on the loopback interface and breaks chosen
// requests on purpose: it answers with S3 errors, resets connections after
// some bytes, cuts or corrupts bodies, holds responses past a client's
// timeouts, and refuses connections altogether for a while.
//
// Faults are chosen by rules. A rule scopes a fault to requests by method,
// URL path and query parameters, and picks which of the matching requests
// it breaks deterministically: skip the first few, then break the next n,
// or every k-th, counted across the rule or per URL path (per object key).
// Every request is recorded as an Event with the bytes that crossed the
// proxy each way, so a test can prove what was sent again after a fault.
//
// The proxy forwards each request with its headers and Host unchanged, so
// AWS Signature Version 4 signatures made for the proxy's address stay
// valid at the server behind it.
package faultproxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Event records one request that reached the proxy.
type Event struct {
	Seq    int       // order of arrival, from 1
	Start  time.Time // when the request arrived
	End    time.Time // when the proxy was done with it
	Method string
	Path   string // URL path, for example /bucket/prefix/lfs/objects/ab/cd/OID
	Query  string // raw query
	Range  string // the request's Range header
	// Rule and Fault name the fault applied; both are empty for a request
	// passed through untouched.
	Rule  string
	Fault string
	// Status is the status sent to the client; 0 when the connection was
	// reset or closed before a status line.
	Status int
	// ReqBytes counts request body bytes read from the client; UpBytes
	// those forwarded to the server.
	ReqBytes int64
	UpBytes  int64
	// RespBytes counts response body bytes written to the client.
	RespBytes int64
	// Err says what went wrong forwarding the request or writing the
	// response (the client going away, an injected reset), if anything.
	Err string
}

// Param returns the value of query parameter k of the request.
func (e Event) Param(k string) string {
	q, _ := url.ParseQuery(e.Query)
	return q.Get(k)
}

// Proxy is a running fault-injecting proxy. Its methods are safe for
// concurrent use.
type Proxy struct {
	upstream  *url.URL
	addr      string
	srv       *http.Server
	transport *http.Transport
	ctx       context.Context // cancelled by Close: ends every stall
	cancel    context.CancelFunc

	mu      sync.Mutex
	ln      net.Listener // nil while down
	conns   map[net.Conn]struct{}
	rules   []*ruleState
	events  []Event
	seq     int
	stalled int
	active  int
	closed  bool
}

// Start starts a proxy on 127.0.0.1 (a free port) that forwards to
// upstream, for example http://127.0.0.1:7070. It passes everything through
// until rules are set.
func Start(upstream string) (*Proxy, error) {
	u, err := url.Parse(upstream)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("faultproxy: upstream %q is not an http://HOST:PORT URL", upstream)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{
		upstream: u,
		addr:     ln.Addr().String(),
		ctx:      ctx,
		cancel:   cancel,
		ln:       ln,
		conns:    map[net.Conn]struct{}{},
		transport: &http.Transport{
			Proxy:               nil, // never an HTTP_PROXY from the environment
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			DisableCompression:  true, // pass bodies and headers as they are
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     30 * time.Second,
		},
	}
	p.srv = &http.Server{
		Handler:           p,
		ReadHeaderTimeout: 30 * time.Second,
		ConnState:         p.trackConn,
		ErrorLog:          log.New(io.Discard, "", 0), // injected faults are not news
	}
	go p.srv.Serve(ln)
	return p, nil
}

// URL returns the proxy's base URL, http://127.0.0.1:PORT.
func (p *Proxy) URL() string { return "http://" + p.addr }

// SetRules replaces the rules, with fresh counters. Requests are checked
// against the rules in order; the first rule that picks a request applies.
func (p *Proxy) SetRules(rules ...Rule) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = p.rules[:0]
	for _, r := range rules {
		p.rules = append(p.rules, &ruleState{Rule: r, perKey: map[string]int{}})
	}
}

// Stats returns the counters of the current rules, in rule order.
func (p *Proxy) Stats() []RuleStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]RuleStats, len(p.rules))
	for i, r := range p.rules {
		out[i] = RuleStats{Name: r.name(), Matched: r.matched, Applied: r.applied}
	}
	return out
}

// Applied returns how many requests the current rules have faulted, all
// rules together.
func (p *Proxy) Applied() int {
	n := 0
	for _, s := range p.Stats() {
		n += s.Applied
	}
	return n
}

// Events returns the requests the proxy has finished with, in order of
// arrival.
func (p *Proxy) Events() []Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := append([]Event(nil), p.events...)
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out
}

// ClearEvents forgets the recorded events.
func (p *Proxy) ClearEvents() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = nil
}

// Stalled returns how many requests a stall is holding right now.
func (p *Proxy) Stalled() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stalled
}

// Active returns how many requests the proxy is handling right now; their
// events are recorded when they end.
func (p *Proxy) Active() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.active
}

// Down stops accepting connections (clients get "connection refused") and
// closes every open one, as if the server had gone away.
func (p *Proxy) Down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
}

// Up accepts connections again, on the same address, after Down.
func (p *Proxy) Up() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errors.New("faultproxy: closed")
	}
	if p.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		return fmt.Errorf("faultproxy: listen again on %s: %w", p.addr, err)
	}
	p.ln = ln
	go p.srv.Serve(ln)
	return nil
}

// Close stops the proxy, ending every stall and connection.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.cancel()
	p.Down()
	err := p.srv.Close()
	p.transport.CloseIdleConnections()
	return err
}

func (p *Proxy) trackConn(c net.Conn, s http.ConnState) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch s {
	case http.StateNew:
		p.conns[c] = struct{}{}
	case http.StateClosed, http.StateHijacked:
		delete(p.conns, c)
	}
}

// pick counts the request against every rule that matches it, up to the
// first that picks it, and returns that rule.
func (p *Proxy) pick(r *http.Request) (name string, f *Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, rs := range p.rules {
		if !rs.matches(r) {
			continue
		}
		rs.matched++
		i := rs.matched
		if rs.PerKey {
			rs.perKey[r.URL.Path]++
			i = rs.perKey[r.URL.Path]
		}
		if rs.picks(i) {
			rs.applied++
			f := rs.Fault
			return rs.name(), &f
		}
	}
	return "", nil
}

func (p *Proxy) record(ev *Event) {
	ev.End = time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, *ev)
	p.active--
}

// ServeHTTP forwards one request, applying the fault of the first rule that
// picks it.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.seq++
	p.active++
	ev := &Event{Seq: p.seq, Start: time.Now(), Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Range: r.Header.Get("Range")}
	p.mu.Unlock()
	// The transport may still read the request body on its own goroutine
	// when the response is already back, so the counters are atomic.
	var reqN, upN, respN atomic.Int64
	defer func() {
		ev.ReqBytes, ev.UpBytes, ev.RespBytes = reqN.Load(), upN.Load(), respN.Load()
		p.record(ev)
	}()

	body := &countReader{r: r.Body, n: &reqN}
	cw := &countWriter{w: w, n: &respN, status: &ev.Status}
	name, f := p.pick(r)
	if f == nil {
		p.forward(cw, r, body, nil, ev, &upN)
		return
	}
	ev.Rule, ev.Fault = name, f.String()
	switch f.Kind {
	case Status:
		_, _ = io.Copy(io.Discard, body)
		writeS3Error(cw, r, f.Status, f.Code, ev.Seq)
	case ResetRequest:
		_, _ = io.CopyN(io.Discard, body, f.After)
		ev.Err = "reset by fault"
		abort(w, true)
	case StallHeaders:
		// Read the whole body first: only then does the server notice a
		// client that goes away, which ends the stall early.
		buf, err := io.ReadAll(body)
		if err != nil {
			ev.Err = "read request body: " + err.Error()
			return
		}
		if !p.stall(r.Context(), f.Stall) {
			ev.Err = "stall ended early: the client went away or the proxy closed"
			abort(w, false)
		}
		p.forward(cw, r, &byteReader{b: buf}, nil, ev, &upN)
	case FlipRequest:
		p.forward(cw, r, &flipReader{r: body, at: f.After}, nil, ev, &upN)
	case StallRequest:
		sr := &stallReader{r: body, at: f.After, stall: func() bool { return p.stall(r.Context(), f.Stall) }}
		p.forward(cw, r, sr, nil, ev, &upN)
	default:
		p.forward(cw, r, body, f, ev, &upN)
	}
}

// stall waits for d, or until the client goes away or the proxy closes. It
// reports whether the whole stall passed.
func (p *Proxy) stall(ctx context.Context, d time.Duration) bool {
	p.mu.Lock()
	p.stalled++
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.stalled--
		p.mu.Unlock()
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-p.ctx.Done():
	}
	return false
}

// hopHeaders are connection-level headers a proxy must not pass on.
var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// forward sends the request upstream with body as its body and copies the
// response back, applying a response-side fault f (nil for none).
func (p *Proxy) forward(w *countWriter, r *http.Request, body io.Reader, f *Fault, ev *Event, upN *atomic.Int64) {
	up := &countReader{r: body, n: upN}
	out, err := http.NewRequestWithContext(r.Context(), r.Method, p.upstream.Scheme+"://"+p.upstream.Host+r.RequestURI, up)
	if err != nil {
		ev.Err = "build upstream request: " + err.Error()
		writeS3Error(w, r, http.StatusBadGateway, "FaultProxyBadRequest", ev.Seq)
		return
	}
	out.Header = r.Header.Clone()
	for _, h := range hopHeaders {
		out.Header.Del(h)
	}
	out.Host = r.Host
	out.ContentLength = r.ContentLength
	if r.ContentLength == 0 {
		out.Body = http.NoBody
	}
	resp, err := p.transport.RoundTrip(out)
	if err != nil {
		ev.Err = "upstream: " + err.Error()
		if p.ctx.Err() != nil {
			abort(w.w, false)
		}
		if r.Context().Err() == nil {
			writeS3Error(w, r, http.StatusBadGateway, "FaultProxyUpstreamError", ev.Seq)
		}
		return
	}
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	for _, h := range hopHeaders {
		w.Header().Del(h)
	}
	if resp.ContentLength >= 0 {
		w.Header().Set("Content-Length", fmt.Sprint(resp.ContentLength))
	}
	w.WriteHeader(resp.StatusCode)
	if r.Method == http.MethodHead {
		return
	}
	if f == nil {
		if _, err := io.Copy(w, resp.Body); err != nil {
			ev.Err = "copy response: " + err.Error()
		}
		return
	}
	switch f.Kind {
	case FlipResponse:
		if _, err := io.Copy(w, &flipReader{r: resp.Body, at: f.After}); err != nil {
			ev.Err = "copy response: " + err.Error()
		}
	case ResetResponse, Truncate:
		if _, err := io.CopyN(w, resp.Body, f.After); err != nil {
			ev.Err = "copy response: " + err.Error()
			return
		}
		ev.Err = "cut by fault"
		abort(w.w, f.Kind == ResetResponse)
	case StallBody:
		if _, err := io.CopyN(w, resp.Body, f.After); err != nil {
			ev.Err = "copy response: " + err.Error()
			return
		}
		_ = http.NewResponseController(w.w).Flush()
		if !p.stall(r.Context(), f.Stall) {
			ev.Err = "stall ended early: the client went away or the proxy closed"
			abort(w.w, false)
		}
		if _, err := io.Copy(w, resp.Body); err != nil {
			ev.Err = "copy response: " + err.Error()
		}
	}
}

// abort ends the connection under w after flushing what was written (with
// a TCP reset when rst is set, else with a clean close) and ends the
// handler: it does not return.
func abort(w http.ResponseWriter, rst bool) {
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	if conn, buf, err := rc.Hijack(); err == nil {
		flushBuffered(buf)
		if tc, ok := conn.(*net.TCPConn); ok && rst {
			_ = tc.SetLinger(0) // close sends RST, not FIN
		}
		conn.Close()
	}
	// The server recovers this panic silently and closes the connection
	// if it still has it; deferred calls (the event record) still run.
	panic(http.ErrAbortHandler)
}

func flushBuffered(buf *bufio.ReadWriter) {
	if buf != nil {
		_ = buf.Flush()
	}
}

// writeS3Error answers like S3 does: the status and, except for HEAD, an
// XML error document.
func writeS3Error(w http.ResponseWriter, r *http.Request, status int, code string, seq int) {
	body := fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
		`<Error><Code>%s</Code><Message>%s</Message><Resource>%s</Resource><RequestId>faultproxy-%d</RequestId></Error>`,
		code, messageFor(code), xmlEscape(r.URL.Path), seq)
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("x-amz-request-id", fmt.Sprintf("faultproxy-%d", seq))
	if r.Method == http.MethodHead {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func messageFor(code string) string {
	switch code {
	case "SlowDown":
		return "Please reduce your request rate."
	case "InternalError":
		return "We encountered an internal error. Please try again."
	case "ServiceUnavailable":
		return "Service is unable to handle request."
	}
	return "Injected by faultproxy."
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// countReader counts the bytes read through it into *n.
type countReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n.Add(int64(n))
	return n, err
}

// countWriter counts the body bytes written through it and records the
// status.
type countWriter struct {
	w      http.ResponseWriter
	n      *atomic.Int64
	status *int
}

func (c *countWriter) Header() http.Header { return c.w.Header() }

func (c *countWriter) WriteHeader(status int) {
	*c.status = status
	c.w.WriteHeader(status)
}

func (c *countWriter) Write(b []byte) (int, error) {
	if *c.status == 0 {
		*c.status = http.StatusOK
	}
	n, err := c.w.Write(b)
	c.n.Add(int64(n))
	return n, err
}

// Unwrap lets http.ResponseController reach the real ResponseWriter.
func (c *countWriter) Unwrap() http.ResponseWriter { return c.w }

// flipReader inverts the byte at offset at of the stream.
type flipReader struct {
	r   io.Reader
	off int64
	at  int64
}

func (f *flipReader) Read(b []byte) (int, error) {
	n, err := f.r.Read(b)
	if i := f.at - f.off; i >= 0 && i < int64(n) {
		b[i] ^= 0xff
	}
	f.off += int64(n)
	return n, err
}

// stallReader calls stall once, when the stream reaches offset at; a stall
// that does not run its course fails the read.
type stallReader struct {
	r     io.Reader
	off   int64
	at    int64
	done  bool
	stall func() bool
}

func (s *stallReader) Read(b []byte) (int, error) {
	if !s.done && s.off >= s.at {
		s.done = true
		if !s.stall() {
			return 0, errors.New("faultproxy: stall ended early")
		}
	}
	if !s.done && int64(len(b)) > s.at-s.off {
		b = b[:s.at-s.off]
	}
	n, err := s.r.Read(b)
	s.off += int64(n)
	return n, err
}

// byteReader reads a byte slice; unlike bytes.Reader it has no WriteTo, so
// the bytes it hands on are counted by the reader wrapping it.
type byteReader struct{ b []byte }

func (r *byteReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}
