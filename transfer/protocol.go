// Package transfer implements the Git LFS custom transfer protocol in standalone
// mode: git-lfs starts the agent, sends one JSON object per line on stdin and
// reads one JSON object per line from stdout. The agent moves each object
// between the local disk and a Store.
package transfer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
)

// MaxLineSize is the longest protocol line the agent accepts. git-lfs sends a
// few hundred bytes per message; anything near this limit is not git-lfs.
const MaxLineSize = 1 << 20

// Request is one message from git-lfs. Which fields are set depends on Event.
type Request struct {
	Event string `json:"event"`

	// init
	Operation           string `json:"operation,omitempty"`
	Remote              string `json:"remote,omitempty"`
	Concurrent          bool   `json:"concurrent,omitempty"`
	ConcurrentTransfers int    `json:"concurrenttransfers,omitempty"`

	// upload, download
	Oid    string          `json:"oid,omitempty"`
	Size   int64           `json:"size"`
	Path   string          `json:"path,omitempty"`
	Action json.RawMessage `json:"action,omitempty"`
}

// WireError is the error object of the protocol.
type WireError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// initReply answers an init event.
type initReply struct {
	Error *WireError `json:"error,omitempty"`
}

// progress reports bytes moved for one object.
type progress struct {
	Event          string `json:"event"`
	Oid            string `json:"oid"`
	BytesSoFar     int64  `json:"bytesSoFar"`
	BytesSinceLast int64  `json:"bytesSinceLast"`
}

// complete ends one transfer, with a path for downloads or an error.
type complete struct {
	Event string     `json:"event"`
	Oid   string     `json:"oid"`
	Path  string     `json:"path,omitempty"`
	Error *WireError `json:"error,omitempty"`
}

// ProtocolError is input that breaks the protocol itself; the agent stops.
type ProtocolError struct {
	Msg string
}

func (e *ProtocolError) Error() string { return "protocol error: " + e.Msg }

// decoder reads requests, one JSON object per line, refusing lines longer than
// MaxLineSize.
type decoder struct {
	r    *bufio.Reader
	line int
}

func newDecoder(r io.Reader) *decoder {
	return &decoder{r: bufio.NewReaderSize(r, 64<<10)}
}

// Next returns the next request. It returns io.EOF at a clean end of input and
// a *ProtocolError for input that is not a protocol message.
func (d *decoder) Next() (*Request, error) {
	for {
		line, err := d.readLine()
		if err != nil {
			return nil, err
		}
		d.line++
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var req Request
		if err := json.Unmarshal(line, &req); err != nil {
			return nil, &ProtocolError{Msg: fmt.Sprintf("line %d is not a JSON object (%v): %q", d.line, err, shorten(line, 80))}
		}
		if req.Event == "" {
			return nil, &ProtocolError{Msg: fmt.Sprintf("line %d has no \"event\": %q", d.line, shorten(line, 80))}
		}
		return &req, nil
	}
}

// readLine returns one line without its newline. A final line without a
// newline is returned as a line.
func (d *decoder) readLine() ([]byte, error) {
	var buf []byte
	for {
		chunk, err := d.r.ReadSlice('\n')
		if len(buf)+len(chunk) > MaxLineSize+1 {
			return nil, &ProtocolError{Msg: fmt.Sprintf("line %d is longer than %d bytes", d.line+1, MaxLineSize)}
		}
		buf = append(buf, chunk...)
		switch {
		case err == nil:
			return buf[:len(buf)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if len(buf) == 0 {
				return nil, io.EOF
			}
			return buf, nil
		default:
			return nil, fmt.Errorf("read request: %w", err)
		}
	}
}

func shorten(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "..."
}

// encoder writes replies, one JSON object per line. It is safe for concurrent
// use, so progress can be reported from the goroutines that move bytes.
type encoder struct {
	mu  sync.Mutex
	w   io.Writer
	err error
}

func newEncoder(w io.Writer) *encoder { return &encoder{w: w} }

// Send writes v as one line. After the first write error every later call
// returns that error.
func (e *encoder) Send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode reply: %w", err)
	}
	b = append(b, '\n')
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err != nil {
		return e.err
	}
	if _, err := e.w.Write(b); err != nil {
		e.err = fmt.Errorf("write reply: %w", err)
	}
	return e.err
}
