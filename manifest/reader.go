package manifest

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Batch sizes: a batch is handed to one worker; it holds at most
// batchRecords records or about batchBytes bytes of record text. They are
// variables so that tests can make batches tiny.
var (
	batchRecords = 256
	batchBytes   = 1 << 20
)

// maxRecordBytes bounds one record (line, CSV row or JSON array element).
// SageMaker allows lines up to 100,000 characters; this is far above that.
const maxRecordBytes = 64 << 20

// rawRecord is one record as read, before parsing.
type rawRecord struct {
	line   int      // 1-based line where the record starts
	col    int      // 1-based column where the record starts (JSON documents)
	data   []byte   // JSON text (JSON Lines, JSON documents); points into batch.buf
	fields []string // CSV cells
	// problem is set when the reader already knows the record is bad (a
	// malformed CSV row); the record is then not validated further.
	problem *Problem
}

// batch is a run of consecutive records handed to one worker.
type batch struct {
	seq  int
	recs []rawRecord
	buf  []byte // backing store for recs[i].data
}

func (b *batch) reset() {
	b.recs = b.recs[:0]
	b.buf = b.buf[:0]
}

func (b *batch) full() bool {
	return len(b.recs) >= batchRecords || len(b.buf) >= batchBytes
}

// recordReader yields records in file order. fill appends records to b until
// the batch is full or the input ends; it returns io.EOF once nothing is left.
// A fatal error is either a *Problem (the file is malformed beyond this point)
// or an I/O error.
type recordReader interface {
	fill(b *batch) error
}

// fatalProblem marks a malformed input after which no more records can be read.
type fatalProblem struct{ p Problem }

// Error returns the problem's message.
func (e *fatalProblem) Error() string { return e.p.Message }

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// --- JSON Lines ---

type jsonlReader struct {
	r    *bufio.Reader
	line int
	long []byte // scratch for lines longer than the bufio buffer
}

func newJSONLReader(r *bufio.Reader) *jsonlReader {
	if b, err := r.Peek(3); err == nil && bytes.Equal(b, utf8BOM) {
		_, _ = r.Discard(3)
	}
	return &jsonlReader{r: r}
}

func (j *jsonlReader) fill(b *batch) error {
	for !b.full() {
		line, err := j.readLine()
		if len(line) == 0 && err != nil {
			if err == io.EOF && len(b.recs) > 0 {
				return nil
			}
			return err
		}
		j.line++
		line = bytes.TrimRight(line, "\r\n")
		if len(bytes.TrimLeft(line, " \t")) == 0 {
			if err != nil && err != io.EOF {
				return err
			}
			continue // blank lines are not records
		}
		rec := rawRecord{line: j.line, col: 1}
		if len(line) > maxRecordBytes {
			rec.problem = &Problem{Line: j.line, Message: fmt.Sprintf("line is %d bytes long, more than the %d allowed", len(line), maxRecordBytes)}
		} else {
			start := len(b.buf)
			b.buf = append(b.buf, line...)
			rec.data = b.buf[start:len(b.buf):len(b.buf)]
		}
		b.recs = append(b.recs, rec)
		if err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
	return nil
}

// readLine returns the next line including its newline. The result is valid
// until the next call.
func (j *jsonlReader) readLine() ([]byte, error) {
	line, err := j.r.ReadSlice('\n')
	if err != bufio.ErrBufferFull {
		return line, err
	}
	j.long = append(j.long[:0], line...)
	for err == bufio.ErrBufferFull {
		line, err = j.r.ReadSlice('\n')
		if len(j.long) <= maxRecordBytes {
			j.long = append(j.long, line...)
		}
	}
	return j.long, err
}

// --- CSV ---

type csvReader struct {
	r      *csv.Reader
	header []string
}

// newCSVReader reads the header row. It returns a *fatalProblem when there is
// no usable header.
func newCSVReader(r *bufio.Reader) (*csvReader, error) {
	if b, err := r.Peek(3); err == nil && bytes.Equal(b, utf8BOM) {
		_, _ = r.Discard(3)
	}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = false
	header, err := cr.Read()
	if err == io.EOF {
		return nil, &fatalProblem{Problem{Line: 1, Message: "empty CSV file, want a header row"}}
	}
	if err != nil {
		return nil, csvFatal(err)
	}
	seen := make(map[string]bool, len(header))
	for i, h := range header {
		if h == "" {
			return nil, &fatalProblem{Problem{Line: 1, Column: i + 1, Message: fmt.Sprintf("CSV header column %d has no name", i+1)}}
		}
		if seen[h] {
			return nil, &fatalProblem{Problem{Line: 1, Pointer: pointerFor(h), Message: fmt.Sprintf("CSV header names column %q twice", h)}}
		}
		seen[h] = true
	}
	return &csvReader{r: cr, header: header}, nil
}

func csvFatal(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &fatalProblem{Problem{Line: pe.Line, Column: pe.Column, Message: "malformed CSV: " + pe.Err.Error()}}
	}
	return err
}

func (c *csvReader) fill(b *batch) error {
	for !b.full() {
		fields, err := c.r.Read()
		if err == io.EOF {
			if len(b.recs) > 0 {
				return nil
			}
			return io.EOF
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return err
			}
			// A quoting error: report the row and go on with the next one.
			b.recs = append(b.recs, rawRecord{line: pe.StartLine, problem: &Problem{
				Line: pe.Line, Column: pe.Column, Message: "malformed CSV: " + pe.Err.Error(),
			}})
			continue
		}
		line, _ := c.r.FieldPos(0)
		rec := rawRecord{line: line, fields: fields}
		if len(fields) != len(c.header) {
			rec.problem = &Problem{Line: line, Message: fmt.Sprintf("row has %d fields, the header has %d", len(fields), len(c.header))}
			rec.fields = nil
		}
		for _, f := range fields {
			b.buf = append(b.buf, f...) // only to account for the batch size
		}
		b.recs = append(b.recs, rec)
	}
	return nil
}

// --- JSON documents ---

// docReader streams the elements of one array inside a JSON document without
// holding the document in memory. It scans structure only; each element's
// text is parsed (and any syntax error in it located) by the workers.
type docReader struct {
	r       *bufio.Reader
	line    int
	col     int
	records []string // JSON pointer tokens leading to the records array
	ptr     string   // the pointer as given, for messages
	stack   []byte   // open containers around the records array: '{' or '['
	started bool
	done    bool
	single  bool // the document is one object and is itself the only record
	// elements counts the array elements read so far.
	elements int
	// capture makes next append what it reads to scratch: only while a
	// record or a key is read, so that skipping a large value costs no memory.
	capture bool
	scratch []byte
}

func newDocReader(r *bufio.Reader, records string) (*docReader, error) {
	toks, err := splitPointer(records)
	if err != nil {
		return nil, err
	}
	if b, err := r.Peek(3); err == nil && bytes.Equal(b, utf8BOM) {
		_, _ = r.Discard(3)
	}
	return &docReader{r: r, line: 1, col: 1, records: toks, ptr: records}, nil
}

func (d *docReader) fatal(format string, args ...any) error {
	return &fatalProblem{Problem{Line: d.line, Column: d.col, Message: "malformed JSON: " + fmt.Sprintf(format, args...)}}
}

func (d *docReader) peek() (byte, error) {
	b, err := d.r.Peek(1)
	if err != nil {
		if err == io.EOF {
			return 0, d.fatal("unexpected end of input")
		}
		return 0, err
	}
	return b[0], nil
}

func (d *docReader) next() (byte, error) {
	c, err := d.r.ReadByte()
	if err != nil {
		if err == io.EOF {
			return 0, d.fatal("unexpected end of input")
		}
		return 0, err
	}
	if c == '\n' {
		d.line++
		d.col = 1
	} else if c < 0x80 || c >= 0xC0 {
		d.col++ // count characters, not UTF-8 continuation bytes
	}
	if d.capture {
		d.scratch = append(d.scratch, c)
	}
	return c, nil
}

func (d *docReader) skipSpace() error {
	for {
		b, err := d.r.Peek(1)
		if err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		switch b[0] {
		case ' ', '\t', '\r', '\n':
			if _, err := d.next(); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

func (d *docReader) expect(want byte, what string) error {
	if err := d.skipSpace(); err != nil {
		return err
	}
	c, err := d.peek()
	if err != nil {
		return err
	}
	if c != want {
		return d.fatal("unexpected %s, want %s", describeByte(c), what)
	}
	_, err = d.next()
	return err
}

func describeByte(c byte) string {
	if c < 0x20 || c >= 0x7f {
		return fmt.Sprintf("byte 0x%02x", c)
	}
	return fmt.Sprintf("%q", rune(c))
}

// skipValue consumes one JSON value, checking only its structure. The bytes
// consumed are appended to d.scratch.
func (d *docReader) skipValue() error {
	depth := 0
	for {
		if err := d.skipSpace(); err != nil {
			return err
		}
		c, err := d.peek()
		if err != nil {
			return err
		}
		switch {
		case c == '{' || c == '[':
			if _, err := d.next(); err != nil {
				return err
			}
			depth++
			if depth > maxDepth {
				return d.fatal("nested too deeply")
			}
			continue
		case c == '}' || c == ']':
			if depth == 0 {
				return d.fatal("unexpected %s, want a JSON value", describeByte(c))
			}
			if _, err := d.next(); err != nil {
				return err
			}
			depth--
		case c == '"':
			if err := d.skipString(); err != nil {
				return err
			}
		case c == ',' || c == ':':
			if depth == 0 {
				return d.fatal("unexpected %s, want a JSON value", describeByte(c))
			}
			if _, err := d.next(); err != nil {
				return err
			}
			continue
		default:
			if err := d.skipScalar(); err != nil {
				return err
			}
		}
		if depth == 0 {
			return nil
		}
	}
}

func (d *docReader) skipString() error {
	if _, err := d.next(); err != nil { // opening quote
		return err
	}
	for {
		c, err := d.next()
		if err != nil {
			return err
		}
		switch c {
		case '"':
			return nil
		case '\\':
			if _, err := d.next(); err != nil {
				return err
			}
		case '\n':
			return d.fatal("unterminated string")
		}
	}
}

func (d *docReader) skipScalar() error {
	n := 0
	for {
		b, err := d.r.Peek(1)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		c := b[0]
		if c == ',' || c == ']' || c == '}' || c == ':' || c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '"' || c == '[' || c == '{' {
			break
		}
		if _, err := d.next(); err != nil {
			return err
		}
		n++
	}
	if n == 0 {
		c, _ := d.peek()
		return d.fatal("unexpected %s, want a JSON value", describeByte(c))
	}
	return nil
}

// readKey reads a quoted property name and decodes it.
func (d *docReader) readKey() (string, error) {
	if err := d.skipSpace(); err != nil {
		return "", err
	}
	c, err := d.peek()
	if err != nil {
		return "", err
	}
	if c != '"' {
		return "", d.fatal("unexpected %s, want a quoted property name", describeByte(c))
	}
	line, col := d.line, d.col
	d.scratch = d.scratch[:0]
	d.capture = true
	err = d.skipString()
	d.capture = false
	if err != nil {
		return "", err
	}
	v, err := parseJSON(d.scratch)
	if err != nil {
		return "", &fatalProblem{Problem{Line: line, Column: col, Message: "malformed JSON: " + err.Error()}}
	}
	return v.(string), nil
}

// start walks from the top of the document to the records array.
func (d *docReader) start() error {
	d.started = true
	if err := d.skipSpace(); err != nil {
		return err
	}
	for i, tok := range d.records {
		if err := d.skipSpace(); err != nil {
			return err
		}
		c, err := d.peek()
		if err != nil {
			return err
		}
		at := "/" + strings.Join(d.records[:i], "/")
		if i == 0 {
			at = "the top level"
		}
		switch c {
		case '{':
			_, _ = d.next()
			d.stack = append(d.stack, '{')
			found := false
			first := true
			for !found {
				if err := d.skipSpace(); err != nil {
					return err
				}
				c, err := d.peek()
				if err != nil {
					return err
				}
				if c == '}' {
					return &fatalProblem{Problem{Line: d.line, Column: d.col, Message: fmt.Sprintf("records pointer %s: %s has no property %q", d.ptr, at, tok)}}
				}
				if !first {
					if err := d.expect(',', "',' or '}'"); err != nil {
						return err
					}
				}
				first = false
				key, err := d.readKey()
				if err != nil {
					return err
				}
				if err := d.expect(':', "':'"); err != nil {
					return err
				}
				if key == tok {
					found = true
				} else if err := d.skipValue(); err != nil {
					return err
				}
			}
		case '[':
			_, _ = d.next()
			d.stack = append(d.stack, '[')
			idx, ok := arrayIndex(tok)
			if !ok {
				return &fatalProblem{Problem{Line: d.line, Column: d.col, Message: fmt.Sprintf("records pointer %s: %s is an array and %q is not an index", d.ptr, at, tok)}}
			}
			for n := 0; n <= idx; n++ {
				if err := d.skipSpace(); err != nil {
					return err
				}
				if c, err := d.peek(); err != nil {
					return err
				} else if c == ']' {
					return &fatalProblem{Problem{Line: d.line, Column: d.col, Message: fmt.Sprintf("records pointer %s: %s has no element %d", d.ptr, at, idx)}}
				}
				if n > 0 {
					if err := d.expect(',', "',' or ']'"); err != nil {
						return err
					}
				}
				if n < idx {
					if err := d.skipValue(); err != nil {
						return err
					}
				}
			}
		default:
			return &fatalProblem{Problem{Line: d.line, Column: d.col, Message: fmt.Sprintf("records pointer %s: %s is not an object or array", d.ptr, at)}}
		}
	}
	if err := d.skipSpace(); err != nil {
		return err
	}
	c, err := d.peek()
	if err != nil {
		return err
	}
	switch {
	case c == '[':
		_, _ = d.next()
		d.stack = append(d.stack, '[')
		return d.skipSpace()
	case c == '{' && len(d.records) == 0:
		d.single = true
		return nil
	case len(d.records) == 0:
		return d.fatal("the document is neither an array of records nor an object")
	default:
		return &fatalProblem{Problem{Line: d.line, Column: d.col, Message: fmt.Sprintf("records pointer %s does not name an array", d.ptr)}}
	}
}

func (d *docReader) fill(b *batch) error {
	if d.done {
		return io.EOF
	}
	if !d.started {
		if err := d.start(); err != nil {
			return err
		}
	}
	if d.single {
		if err := d.element(b); err != nil {
			return err
		}
		d.stack = nil
		d.done = true
		return d.finish()
	}
	for !b.full() {
		if err := d.skipSpace(); err != nil {
			return err
		}
		c, err := d.peek()
		if err != nil {
			return err
		}
		if c == ']' {
			_, _ = d.next()
			d.stack = d.stack[:len(d.stack)-1]
			d.done = true
			if err := d.finish(); err != nil {
				return err
			}
			if len(b.recs) == 0 {
				return io.EOF
			}
			return nil
		}
		if d.elements > 0 {
			if err := d.expect(',', "',' or ']'"); err != nil {
				return err
			}
		}
		if err := d.element(b); err != nil {
			return err
		}
	}
	return nil
}

// element captures the next value as a record.
func (d *docReader) element(b *batch) error {
	if err := d.skipSpace(); err != nil {
		return err
	}
	line, col := d.line, d.col
	d.scratch = d.scratch[:0]
	d.capture = true
	err := d.skipValue()
	d.capture = false
	if err != nil {
		return err
	}
	d.elements++
	rec := rawRecord{line: line, col: col}
	if len(d.scratch) > maxRecordBytes {
		rec.problem = &Problem{Line: line, Column: col, Message: fmt.Sprintf("record is %d bytes long, more than the %d allowed", len(d.scratch), maxRecordBytes)}
	} else {
		start := len(b.buf)
		b.buf = append(b.buf, d.scratch...)
		rec.data = b.buf[start:len(b.buf):len(b.buf)]
	}
	b.recs = append(b.recs, rec)
	return nil
}

// finish checks the structure of the rest of the document.
func (d *docReader) finish() error {
	for len(d.stack) > 0 {
		open := d.stack[len(d.stack)-1]
		if err := d.skipSpace(); err != nil {
			return err
		}
		c, err := d.peek()
		if err != nil {
			return err
		}
		switch {
		case open == '{' && c == '}', open == '[' && c == ']':
			_, _ = d.next()
			d.stack = d.stack[:len(d.stack)-1]
			continue
		case c != ',':
			return d.fatal("unexpected %s, want ',' or %q", describeByte(c), map[byte]rune{'{': '}', '[': ']'}[open])
		}
		_, _ = d.next()
		if open == '{' {
			if _, err := d.readKey(); err != nil {
				return err
			}
			if err := d.expect(':', "':'"); err != nil {
				return err
			}
		}
		if err := d.skipValue(); err != nil {
			return err
		}
	}
	if err := d.skipSpace(); err != nil {
		return err
	}
	if b, err := d.r.Peek(1); err == nil {
		return d.fatal("unexpected %s after the end of the document", describeByte(b[0]))
	}
	return nil
}

func arrayIndex(tok string) (int, bool) {
	if tok == "" || len(tok) > 9 || (len(tok) > 1 && tok[0] == '0') {
		return 0, false
	}
	n := 0
	for _, c := range tok {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}
