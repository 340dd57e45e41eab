package manifest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/datalfs/datalfs/internal/jsonpointer"
	"github.com/datalfs/datalfs/manifest/internal/jsonparse"
)

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
	toks, err := jsonpointer.Split(records)
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

// peekPast skips white space and returns the next byte without consuming it.
func (d *docReader) peekPast() (byte, error) {
	if err := d.skipSpace(); err != nil {
		return 0, err
	}
	return d.peek()
}

func (d *docReader) expect(want byte, what string) error {
	c, err := d.peekPast()
	if err != nil {
		return err
	}
	if c != want {
		return d.fatal("unexpected %s, want %s", jsonparse.DescribeByte(c), what)
	}
	_, err = d.next()
	return err
}

// skipValue consumes one JSON value, checking only its structure. The bytes
// consumed are appended to d.scratch.
func (d *docReader) skipValue() error {
	depth := 0
	for {
		c, err := d.peekPast()
		if err != nil {
			return err
		}
		switch {
		case c == '{' || c == '[':
			if _, err := d.next(); err != nil {
				return err
			}
			depth++
			if depth > jsonparse.MaxDepth {
				return d.fatal("nested too deeply")
			}
			continue
		case c == '}' || c == ']':
			if depth == 0 {
				return d.fatal("unexpected %s, want a JSON value", jsonparse.DescribeByte(c))
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
				return d.fatal("unexpected %s, want a JSON value", jsonparse.DescribeByte(c))
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
		return d.fatal("unexpected %s, want a JSON value", jsonparse.DescribeByte(c))
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
		return "", d.fatal("unexpected %s, want a quoted property name", jsonparse.DescribeByte(c))
	}
	line, col := d.line, d.col
	d.scratch = d.scratch[:0]
	d.capture = true
	err = d.skipString()
	d.capture = false
	if err != nil {
		return "", err
	}
	v, err := jsonparse.Parse(d.scratch)
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
		c, err := d.peekPast()
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
				c, err := d.peekPast()
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
			idx, ok := jsonpointer.ArrayIndex(tok)
			if !ok {
				return &fatalProblem{Problem{Line: d.line, Column: d.col, Message: fmt.Sprintf("records pointer %s: %s is an array and %q is not an index", d.ptr, at, tok)}}
			}
			for n := 0; n <= idx; n++ {
				if c, err := d.peekPast(); err != nil {
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
	c, err := d.peekPast()
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
		c, err := d.peekPast()
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
		c, err := d.peekPast()
		if err != nil {
			return err
		}
		switch {
		case open == '{' && c == '}', open == '[' && c == ']':
			_, _ = d.next()
			d.stack = d.stack[:len(d.stack)-1]
			continue
		case c != ',':
			return d.fatal("unexpected %s, want ',' or %q", jsonparse.DescribeByte(c), map[byte]rune{'{': '}', '[': ']'}[open])
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
		return d.fatal("unexpected %s after the end of the document", jsonparse.DescribeByte(b[0]))
	}
	return nil
}
