package faultproxy

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// Kind is what a fault does to a request.
type Kind int

// The kinds of fault. After is a byte offset into the request or response
// body; Stall is how long a response is held.
const (
	// Status answers with Status and an S3 XML error body carrying Code,
	// after reading the request body; nothing reaches the server.
	Status Kind = iota + 1
	// ResetRequest reads After bytes of the request body, then resets the
	// connection (TCP RST); nothing reaches the server.
	ResetRequest
	// ResetResponse forwards the request, sends After bytes of the response
	// body, then resets the connection.
	ResetResponse
	// Truncate forwards the request, sends After bytes of the response body,
	// then closes the connection cleanly: the body ends early.
	Truncate
	// FlipRequest forwards the request with the request body byte at offset
	// After inverted.
	FlipRequest
	// FlipResponse forwards the request and inverts the response body byte
	// at offset After.
	FlipResponse
	// StallHeaders reads the request body, then holds the request for Stall
	// before forwarding it: the client waits for response headers.
	StallHeaders
	// StallBody forwards the request, sends After bytes of the response
	// body, then holds the rest for Stall.
	StallBody
	// StallRequest forwards the request but stops reading its body after
	// After bytes for Stall, as a server that stops accepting an upload:
	// once the socket buffers fill, the client's writes block.
	StallRequest
)

// Fault is one way to break a request. Build one with the functions below.
type Fault struct {
	Kind   Kind
	Status int           // Status: the HTTP status
	Code   string        // Status: the S3 error code in the XML body
	After  int64         // byte offset of a reset, cut, flip or body stall
	Stall  time.Duration // StallHeaders, StallBody: how long to hold
}

// Error answers with an S3 error: HTTP status and error code, for example
// Error(500, "InternalError").
func Error(status int, code string) Fault { return Fault{Kind: Status, Status: status, Code: code} }

// SlowDown is S3's throttling answer: 503 with the code SlowDown.
func SlowDown() Fault { return Error(http.StatusServiceUnavailable, "SlowDown") }

// ResetRequestAfter resets the connection after n bytes of the request body.
func ResetRequestAfter(n int64) Fault { return Fault{Kind: ResetRequest, After: n} }

// ResetResponseAfter resets the connection after n bytes of the response body.
func ResetResponseAfter(n int64) Fault { return Fault{Kind: ResetResponse, After: n} }

// TruncateAfter closes the connection after n bytes of the response body.
func TruncateAfter(n int64) Fault { return Fault{Kind: Truncate, After: n} }

// FlipRequestAt inverts the request body byte at offset n.
func FlipRequestAt(n int64) Fault { return Fault{Kind: FlipRequest, After: n} }

// FlipResponseAt inverts the response body byte at offset n.
func FlipResponseAt(n int64) Fault { return Fault{Kind: FlipResponse, After: n} }

// StallBeforeHeaders holds the request for d before forwarding it.
func StallBeforeHeaders(d time.Duration) Fault { return Fault{Kind: StallHeaders, Stall: d} }

// StallBodyAfter sends n bytes of the response body, then holds the rest for d.
func StallBodyAfter(n int64, d time.Duration) Fault {
	return Fault{Kind: StallBody, After: n, Stall: d}
}

// StallRequestAfter stops reading the request body after n bytes for d.
func StallRequestAfter(n int64, d time.Duration) Fault {
	return Fault{Kind: StallRequest, After: n, Stall: d}
}

// String describes the fault, for logs and event records.
func (f Fault) String() string {
	switch f.Kind {
	case Status:
		return fmt.Sprintf("%d %s", f.Status, f.Code)
	case ResetRequest:
		return fmt.Sprintf("reset after %d request bytes", f.After)
	case ResetResponse:
		return fmt.Sprintf("reset after %d response bytes", f.After)
	case Truncate:
		return fmt.Sprintf("truncate after %d response bytes", f.After)
	case FlipRequest:
		return fmt.Sprintf("flip request byte %d", f.After)
	case FlipResponse:
		return fmt.Sprintf("flip response byte %d", f.After)
	case StallHeaders:
		return fmt.Sprintf("stall %v before headers", f.Stall)
	case StallBody:
		return fmt.Sprintf("stall %v after %d response bytes", f.Stall, f.After)
	case StallRequest:
		return fmt.Sprintf("stall %v after %d request bytes", f.Stall, f.After)
	}
	return "no fault"
}

// ObjectKeys matches the URL path of an LFS object in path-style S3
// requests: .../lfs/objects/OID[0:2]/OID[2:4]/OID.
var ObjectKeys = regexp.MustCompile(`/lfs/objects/[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}$`)

// Rule scopes a fault to some requests and picks which of them it breaks.
// A request matches when its method, path and query all match; the
// matching requests are numbered from 1 (per rule, or per URL path with
// PerKey), and the fault applies to request number i when i > Skip and,
// counting k = i-Skip, k is a multiple of Every (when Every > 0) and at
// most First multiples have been hit (when First > 0).
type Rule struct {
	// Name labels the rule in events; empty means the fault's description.
	Name string
	// Method is the HTTP method to match; empty matches every method.
	Method string
	// Path is matched against the URL path; nil matches every path.
	Path *regexp.Regexp
	// Query lists query parameters the request must carry: "uploads"
	// means present with any value, "partNumber=2" means that value.
	Query []string
	// Fault is what happens to a picked request.
	Fault Fault
	// Skip lets the first Skip matching requests through.
	Skip int
	// First limits the fault to that many requests; 0 means no limit.
	First int
	// Every picks only every Every-th matching request; 0 or 1 picks each.
	Every int
	// PerKey counts requests per URL path instead of across the rule.
	PerKey bool
}

func (r *Rule) name() string {
	if r.Name != "" {
		return r.Name
	}
	return r.Fault.String()
}

func (r *Rule) matches(req *http.Request) bool {
	if r.Method != "" && r.Method != req.Method {
		return false
	}
	if r.Path != nil && !r.Path.MatchString(req.URL.Path) {
		return false
	}
	q := req.URL.Query()
	for _, want := range r.Query {
		k, v, hasValue := strings.Cut(want, "=")
		if !q.Has(k) || hasValue && q.Get(k) != v {
			return false
		}
	}
	return true
}

// picks reports whether the i-th matching request (from 1) gets the fault.
func (r *Rule) picks(i int) bool {
	k := i - r.Skip
	if k <= 0 {
		return false
	}
	if r.Every > 1 {
		if k%r.Every != 0 {
			return false
		}
		k /= r.Every
	}
	return r.First <= 0 || k <= r.First
}

// ruleState is a rule with its counters.
type ruleState struct {
	Rule
	matched int
	applied int
	perKey  map[string]int
}

// RuleStats counts what one rule did.
type RuleStats struct {
	Name    string
	Matched int // requests that matched the rule's scope
	Applied int // requests the fault was applied to
}
