package faultproxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// upstream is a test server that records what reaches it and answers every
// request with body.
type upstream struct {
	*httptest.Server
	body []byte

	mu   sync.Mutex
	reqs []seen
}

type seen struct {
	method, uri, host, header string
	body                      []byte
}

func newUpstream(t *testing.T, size int) *upstream {
	t.Helper()
	u := &upstream{body: make([]byte, size)}
	for i := range u.body {
		u.body[i] = byte(i % 251)
	}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.reqs = append(u.reqs, seen{r.Method, r.RequestURI, r.Host, r.Header.Get("X-Test"), b})
		u.mu.Unlock()
		w.Header().Set("ETag", `"e1"`)
		w.Write(u.body)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) seen() []seen {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]seen(nil), u.reqs...)
}

// events waits until the proxy has recorded n events (a client can see a
// reset before the handler has returned) and returns them.
func events(t *testing.T, p *Proxy, n int) []Event {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(p.Events()) < n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	return p.Events()
}

func startProxy(t *testing.T, upstream string, rules ...Rule) *Proxy {
	t.Helper()
	p, err := Start(upstream)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	p.SetRules(rules...)
	return p
}

// client never reuses connections, so one request's fault cannot touch the next.
func client(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
}

func do(t *testing.T, c *http.Client, method, url string, body []byte) (*http.Response, []byte, error) {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Test", "kept")
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

func TestPassThrough(t *testing.T) {
	u := newUpstream(t, 1000)
	p := startProxy(t, u.URL)
	body := []byte("hello")
	resp, got, err := do(t, client(5*time.Second), "PUT", p.URL()+"/b/k%20x?partNumber=2&uploadId=u", body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !bytes.Equal(got, u.body) || resp.Header.Get("ETag") != `"e1"` {
		t.Fatalf("got %d, %d bytes, etag %q", resp.StatusCode, len(got), resp.Header.Get("ETag"))
	}
	s := u.seen()
	if len(s) != 1 || s[0].method != "PUT" || s[0].uri != "/b/k%20x?partNumber=2&uploadId=u" ||
		s[0].host != strings.TrimPrefix(p.URL(), "http://") || s[0].header != "kept" || string(s[0].body) != "hello" {
		t.Fatalf("upstream saw %+v", s)
	}
	ev := events(t, p, 1)
	if len(ev) != 1 || ev[0].ReqBytes != 5 || ev[0].UpBytes != 5 || ev[0].RespBytes != 1000 || ev[0].Status != 200 ||
		ev[0].Fault != "" || ev[0].Param("partNumber") != "2" {
		t.Fatalf("events = %+v", ev)
	}
}

func TestStatus(t *testing.T) {
	u := newUpstream(t, 10)
	p := startProxy(t, u.URL, Rule{Method: "PUT", Fault: SlowDown()})
	resp, got, err := do(t, client(5*time.Second), "PUT", p.URL()+"/b/k", []byte("abc"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 503 || !bytes.Contains(got, []byte("<Code>SlowDown</Code>")) {
		t.Fatalf("got %d %s", resp.StatusCode, got)
	}
	if n := len(u.seen()); n != 0 {
		t.Fatalf("upstream saw %d requests, want 0", n)
	}
	// A GET does not match the rule's method.
	if resp, _, err := do(t, client(5*time.Second), "GET", p.URL()+"/b/k", nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET: %v %v", resp, err)
	}
	if st := p.Stats(); st[0].Matched != 1 || st[0].Applied != 1 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestSelection(t *testing.T) {
	cases := []struct {
		rule Rule
		want string // per request: x faulted, . passed
	}{
		{Rule{First: 2}, "xx......"},
		{Rule{Skip: 1, First: 2}, ".xx....."},
		{Rule{Every: 3}, "..x..x.."},
		{Rule{Every: 3, First: 1}, "..x....."},
		{Rule{Skip: 2, Every: 2}, "...x.x.x"},
		{Rule{}, "xxxxxxxx"},
	}
	for _, c := range cases {
		var got strings.Builder
		for i := 1; i <= 8; i++ {
			if c.rule.picks(i) {
				got.WriteByte('x')
			} else {
				got.WriteByte('.')
			}
		}
		if got.String() != c.want {
			t.Errorf("%+v picks %s, want %s", c.rule, got.String(), c.want)
		}
	}
}

func TestPerKeyAndQuery(t *testing.T) {
	u := newUpstream(t, 10)
	p := startProxy(t, u.URL, Rule{Path: regexp.MustCompile(`^/b/`), Query: []string{"partNumber=2"}, First: 1, PerKey: true, Fault: Error(500, "InternalError")})
	c := client(5 * time.Second)
	var codes []int
	for _, path := range []string{"/b/x?partNumber=2", "/b/x?partNumber=2", "/b/y?partNumber=2", "/b/y?partNumber=1", "/c/x?partNumber=2"} {
		resp, _, err := do(t, c, "GET", p.URL()+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		codes = append(codes, resp.StatusCode)
	}
	want := []int{500, 200, 500, 200, 200}
	for i := range want {
		if codes[i] != want[i] {
			t.Fatalf("statuses = %v, want %v", codes, want)
		}
	}
}

func TestResetRequest(t *testing.T) {
	u := newUpstream(t, 10)
	p := startProxy(t, u.URL, Rule{Fault: ResetRequestAfter(1000)})
	_, _, err := do(t, client(5*time.Second), "PUT", p.URL()+"/b/k", make([]byte, 1<<20))
	if err == nil {
		t.Fatal("PUT through a reset succeeded")
	}
	if n := len(u.seen()); n != 0 {
		t.Fatalf("upstream saw %d requests, want 0", n)
	}
	if ev := events(t, p, 1); len(ev) != 1 || ev[0].ReqBytes < 1000 || ev[0].UpBytes != 0 {
		t.Fatalf("events = %+v", ev)
	}
}

func TestResetAndTruncateResponse(t *testing.T) {
	u := newUpstream(t, 100000)
	for _, f := range []Fault{ResetResponseAfter(5000), TruncateAfter(5000)} {
		p := startProxy(t, u.URL, Rule{Fault: f})
		resp, got, err := do(t, client(5*time.Second), "GET", p.URL()+"/b/k", nil)
		if err == nil {
			t.Fatalf("%v: body read without error", f)
		}
		if resp.StatusCode != 200 || len(got) > 5000 || !bytes.Equal(got, u.body[:len(got)]) {
			t.Fatalf("%v: got %d, %d bytes", f, resp.StatusCode, len(got))
		}
		if f.Kind == Truncate && (len(got) != 5000 || !errors.Is(err, io.ErrUnexpectedEOF)) {
			t.Fatalf("%v: got %d bytes and %v, want 5000 and unexpected EOF", f, len(got), err)
		}
		if f.Kind == ResetResponse && !errors.Is(err, syscall.ECONNRESET) {
			t.Logf("%v: %v (not ECONNRESET)", f, err)
		}
		if ev := events(t, p, 1); len(ev) != 1 || ev[0].RespBytes != 5000 {
			t.Fatalf("%v: events = %+v", f, ev)
		}
	}
}

func TestFlip(t *testing.T) {
	u := newUpstream(t, 1000)
	p := startProxy(t, u.URL, Rule{Method: "GET", Fault: FlipResponseAt(10)}, Rule{Method: "PUT", Fault: FlipRequestAt(2)})
	_, got, err := do(t, client(5*time.Second), "GET", p.URL()+"/b/k", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]byte(nil), u.body...)
	want[10] ^= 0xff
	if !bytes.Equal(got, want) {
		t.Fatal("response byte 10 was not flipped (or something else was)")
	}
	if _, _, err := do(t, client(5*time.Second), "PUT", p.URL()+"/b/k", []byte("abcd")); err != nil {
		t.Fatal(err)
	}
	if s := u.seen(); string(s[1].body) != "ab\x9cd" {
		t.Fatalf("upstream got %q, want byte 2 flipped", s[1].body)
	}
}

func TestStalls(t *testing.T) {
	u := newUpstream(t, 100000)
	p := startProxy(t, u.URL, Rule{Method: "GET", Fault: StallBodyAfter(3000, time.Minute)}, Rule{Method: "PUT", Fault: StallBeforeHeaders(time.Minute)})
	c := client(300 * time.Millisecond)
	start := time.Now()
	resp, got, err := do(t, c, "GET", p.URL()+"/b/k", nil)
	if err == nil || resp.StatusCode != 200 || len(got) != 3000 {
		t.Fatalf("GET: %v, %d bytes, %v", resp, len(got), err)
	}
	if _, _, err := do(t, c, "PUT", p.URL()+"/b/k", []byte("x")); err == nil {
		t.Fatal("PUT through a stall succeeded")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("stalls took %v", d)
	}
	// The client went away: the proxy lets go of both stalls.
	deadline := time.Now().Add(5 * time.Second)
	for p.Stalled() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := p.Stalled(); n != 0 {
		t.Fatalf("%d requests still stalled after the client left", n)
	}
	if n := len(u.seen()); n != 1 {
		t.Fatalf("upstream saw %d requests, want 1 (the GET; the stalled PUT never went on)", n)
	}
}

func TestStallEndsOnClose(t *testing.T) {
	u := newUpstream(t, 10)
	p := startProxy(t, u.URL, Rule{Fault: StallBeforeHeaders(time.Hour)})
	done := make(chan error, 1)
	go func() {
		_, _, err := do(t, client(time.Minute), "GET", p.URL()+"/b/k", nil)
		done <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for p.Stalled() == 0 && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	p.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("request succeeded through a closed proxy")
		}
	case <-ctx.Done():
		t.Fatal("Close did not end the stall")
	}
}

func TestDownUp(t *testing.T) {
	u := newUpstream(t, 10)
	p := startProxy(t, u.URL)
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil}} // keeps connections alive
	if _, _, err := do(t, c, "GET", p.URL()+"/b/k", nil); err != nil {
		t.Fatal(err)
	}
	p.Down()
	_, _, err := do(t, c, "GET", p.URL()+"/b/k", nil)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("GET while down: %v, want connection refused", err)
	}
	if err := p.Up(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := do(t, c, "GET", p.URL()+"/b/k", nil); err != nil {
		t.Fatalf("GET after Up: %v", err)
	}
}

func TestStallRequest(t *testing.T) {
	u := newUpstream(t, 10)
	p := startProxy(t, u.URL, Rule{Fault: StallRequestAfter(1000, 500*time.Millisecond)})
	start := time.Now()
	body := make([]byte, 5000)
	if _, _, err := do(t, client(5*time.Second), "PUT", p.URL()+"/b/k", body); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Fatalf("PUT took %v, want the 500ms stall", d)
	}
	if s := u.seen(); len(s) != 1 || len(s[0].body) != 5000 {
		t.Fatalf("upstream saw %d requests", len(s))
	}
}
