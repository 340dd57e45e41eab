package manifest

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/datalfs/datalfs/internal/jsonpointer"
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
		if !utf8.ValidString(h) {
			line, col := cr.FieldPos(i)
			return nil, &fatalProblem{Problem{Line: line, Column: col, Message: fmt.Sprintf("CSV header column %d holds invalid UTF-8 %s", i+1, badUTF8Byte(h))}}
		}
		if h == "" {
			return nil, &fatalProblem{Problem{Line: 1, Column: i + 1, Message: fmt.Sprintf("CSV header column %d has no name", i+1)}}
		}
		if seen[h] {
			return nil, &fatalProblem{Problem{Line: 1, Pointer: jsonpointer.Format(h), Message: fmt.Sprintf("CSV header names column %q twice", h)}}
		}
		seen[h] = true
	}
	return &csvReader{r: cr, header: header}, nil
}

// badUTF8 returns a problem for the first cell of a row that is not valid
// UTF-8 (JSON text, and so the schema, cannot hold it), located at the
// cell's start and naming its column.
func (c *csvReader) badUTF8(fields []string) *Problem {
	for i, f := range fields {
		if utf8.ValidString(f) {
			continue
		}
		line, col := c.r.FieldPos(i)
		return &Problem{Line: line, Column: col, Pointer: jsonpointer.Format(c.header[i]), Message: "invalid UTF-8 " + badUTF8Byte(f) + " in CSV cell"}
	}
	return nil
}

// badUTF8Byte describes the first byte of s that is not valid UTF-8.
func badUTF8Byte(s string) string {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 {
			return fmt.Sprintf("byte 0x%02x at byte %d", s[i], i+1)
		}
		i += size
	}
	return ""
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
		} else if p := c.badUTF8(fields); p != nil {
			rec.problem = p
			rec.fields = nil
		}
		for _, f := range fields {
			b.buf = append(b.buf, f...) // only to account for the batch size
		}
		b.recs = append(b.recs, rec)
	}
	return nil
}
