package manifest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/datalfs/datalfs/internal/jsonpointer"
	"github.com/datalfs/datalfs/manifest/internal/fastpath"
	"github.com/datalfs/datalfs/manifest/internal/jsonparse"
)

// DefaultMaxProblems is how many problems per file a report keeps by default.
const DefaultMaxProblems = 20

// Options tune a validation run.
type Options struct {
	// MaxProblems is how many problems the report keeps; the rest are only
	// counted. 0 means DefaultMaxProblems, a negative value keeps none.
	MaxProblems int
	// Jobs is the number of parse-and-validate workers; 0 means one per CPU.
	Jobs int
	// NoFastPath sends every record through the full validator, for tests
	// and benchmarks of the fast path. Setting the environment variable
	// DATALFS_NO_FASTPATH (to anything but "" or "0") does the same.
	NoFastPath bool
}

// NoFastPathEnv names the environment variable that turns the fast path
// off, for a user who suspects it: every record then goes through the
// library path. See docs/validation-guarantees.md.
const NoFastPathEnv = "DATALFS_NO_FASTPATH"

// fastPathOn reports whether a run with opt may use the fast path.
func fastPathOn(opt Options) bool {
	if opt.NoFastPath {
		return false
	}
	v := os.Getenv(NoFastPathEnv)
	return v == "" || v == "0"
}

// Report is the outcome of validating one manifest.
type Report struct {
	// File is the manifest's name as shown to the user.
	File string
	// Schema is the schema file the records were checked against.
	Schema string
	// Format is the format the file was read as.
	Format Format
	// Records is the number of records read.
	Records int
	// BadRecords is the number of records with at least one problem.
	BadRecords int
	// Problems is the total number of problems found.
	Problems int
	// Shown holds the first problems, in file order, up to the cap.
	Shown []Problem
	// MaxBad is the tolerated number or share of bad records.
	MaxBad Allowance
	// Malformed is set when the file could not be read to its end.
	Malformed bool
}

// OK reports whether the file passes: no problems, or no more bad records
// than the allowance and no malformed structure.
func (r *Report) OK() bool {
	if r.Problems == 0 {
		return true
	}
	return !r.Malformed && r.BadRecords <= r.MaxBad.Allowed(r.Records)
}

// Omitted is the number of problems found but not kept in Shown.
func (r *Report) Omitted() int { return r.Problems - len(r.Shown) }

// Validate reads a manifest from src and checks every record against sch and
// the cross-record checks in cfg. name is used to pick the format by
// extension and to label the report.
//
// Records are parsed and validated by opt.Jobs workers; problems are
// reported in file order. Memory use is bounded by the number of batches in
// flight, plus 27 to 54 bytes per record when cfg.ID asks for unique ids.
//
// The error is non-nil only when src cannot be read or cfg is unusable; a
// malformed file is reported as a problem.
func Validate(ctx context.Context, src io.Reader, name string, sch *Schema, cfg Config, opt Options) (*Report, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if opt.MaxProblems == 0 {
		opt.MaxProblems = DefaultMaxProblems
	}
	if opt.Jobs <= 0 {
		opt.Jobs = runtime.GOMAXPROCS(0)
	}
	rep := &Report{File: name, Schema: sch.Path, MaxBad: cfg.MaxBad}
	br := bufio.NewReaderSize(src, 64<<10)

	format := cfg.Format
	if format == FormatAuto {
		format = formatFromName(name)
	}
	if format == FormatAuto || (format == FormatJSON && cfg.Records == "") {
		format = sniff(br, format)
	}
	rep.Format = format

	c := &checker{sch: sch, fast: sch.fast}
	if !fastPathOn(opt) {
		c.fast = nil
	}
	var rr recordReader
	switch format {
	case FormatCSV:
		cr, err := newCSVReader(br)
		if err != nil {
			return rep, finishFatal(rep, err, opt)
		}
		rr = cr
		c.header = cr.header
		c.kinds = sch.columnKinds(cr.header)
		c.headerJSON, c.rowFast = encodeHeader(cr.header)
	case FormatJSON:
		dr, err := newDocReader(br, cfg.Records)
		if err != nil {
			return nil, fmt.Errorf("records: %w", err)
		}
		rr = dr
	default:
		rr = newJSONLReader(br)
	}
	c.id, _ = jsonpointer.Split(cfg.ID)
	c.hasID = cfg.ID != ""
	c.idPtr = cfg.ID
	for _, r := range cfg.Refs {
		toks, _ := jsonpointer.Split(r)
		c.refs = append(c.refs, toks)
		c.refPtrs = append(c.refPtrs, r)
	}
	c.seed1, c.seed2 = maphash.MakeSeed(), maphash.MakeSeed()
	return rep, run(ctx, rr, c, rep, opt)
}

// finishFatal records a fatal reader problem in rep, or returns an I/O error.
func finishFatal(rep *Report, err error, opt Options) error {
	var fp *fatalProblem
	if errors.As(err, &fp) {
		rep.Malformed = true
		rep.Problems++
		if len(rep.Shown) < opt.MaxProblems {
			rep.Shown = append(rep.Shown, fp.p)
		}
		return nil
	}
	return err
}

// sniff decides between JSON Lines and a JSON document from the first bytes:
// a document is an array, or an object that does not end on its first line.
func sniff(br *bufio.Reader, fallback Format) Format {
	head, _ := br.Peek(64 << 10)
	head = bytes.TrimPrefix(head, utf8BOM)
	trimmed := bytes.TrimLeft(head, " \t\r\n")
	if len(trimmed) == 0 {
		if fallback == FormatAuto {
			return FormatJSONL
		}
		return fallback
	}
	switch trimmed[0] {
	case '[':
		return FormatJSON
	case '{':
		first, rest, found := bytes.Cut(trimmed, []byte("\n"))
		if _, err := jsonparse.Parse(first); err == nil && found && len(bytes.TrimSpace(rest)) > 0 {
			return FormatJSONL
		}
		if fallback == FormatAuto {
			if _, err := jsonparse.Parse(first); err == nil {
				return FormatJSONL
			}
			return FormatJSON
		}
		return fallback
	}
	if fallback == FormatAuto {
		return FormatCSV
	}
	return fallback
}

// checker holds what every worker needs to check a record. It is read-only
// once built.
type checker struct {
	sch          *Schema
	fast         *fastpath.Schema
	header       []string    // CSV header
	kinds        []fieldKind // CSV column typing
	headerJSON   [][]byte    // each header name as a JSON string and a colon
	rowFast      bool        // CSV rows can take the fast path
	hasID        bool
	id           []string
	idPtr        string
	refs         [][]string
	refPtrs      []string
	seed1, seed2 maphash.Seed
}

// recResult is what a worker found about one record that needs reporting or
// a cross-record check.
type recResult struct {
	line     int
	problems []Problem
	idKey    [2]uint64
	idValue  any
	hasID    bool
}

type batchResult struct {
	seq     int
	records int
	recs    []recResult
	err     error // fatal error after these records
}

// run drives the reader, the workers and the in-order collector.
func run(ctx context.Context, rr recordReader, c *checker, rep *Report, opt Options) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	inflight := 4 * opt.Jobs
	tokens := make(chan struct{}, inflight)
	jobs := make(chan *batch, opt.Jobs)
	results := make(chan batchResult, inflight)
	pool := sync.Pool{New: func() any { return &batch{} }}

	// Reader: fills batches in order. Every batch, and the final error or
	// io.EOF, holds a token that the collector returns once it is done.
	go func() {
		defer close(jobs)
		acquire := func() bool {
			select {
			case tokens <- struct{}{}:
				return true
			case <-ctx.Done():
				return false
			}
		}
		for seq := 0; ; {
			if !acquire() {
				return
			}
			b := pool.Get().(*batch)
			b.reset()
			b.seq = seq
			err := rr.fill(b)
			if len(b.recs) > 0 {
				select {
				case jobs <- b:
				case <-ctx.Done():
					return
				}
				seq++
				if err != nil && !acquire() {
					return
				}
			} else {
				pool.Put(b)
			}
			if err != nil {
				select {
				case results <- batchResult{seq: seq, err: err}:
				case <-ctx.Done():
				}
				return
			}
		}
	}()

	var wg sync.WaitGroup
	for range opt.Jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var fw *fastWorker
			if c.fast != nil {
				fw = &fastWorker{fc: c.fast.NewChecker(c.topNames())}
			}
			for b := range jobs {
				res := batchResult{seq: b.seq, records: len(b.recs)}
				for i := range b.recs {
					if r, ok := c.check(&b.recs[i], fw); ok {
						res.recs = append(res.recs, r)
					}
				}
				pool.Put(b)
				select {
				case results <- res:
				case <-ctx.Done():
					return
				}
			}
		}()
	}

	// Collector: puts results back in order and runs cross-record checks.
	pending := make(map[int]batchResult)
	ids := &idSet{}
	next := 0
	for {
		var res batchResult
		select {
		case res = <-results:
		case <-ctx.Done():
			return ctx.Err()
		}
		pending[res.seq] = res
		for {
			r, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			<-tokens
			if r.err != nil {
				cancel()
				wg.Wait()
				if r.err == io.EOF {
					return nil
				}
				return finishFatal(rep, r.err, opt)
			}
			rep.Records += r.records
			for i := range r.recs {
				c.collect(&r.recs[i], ids, rep, opt)
			}
		}
	}
}

// collect adds one record's findings to the report, checking its id.
func (c *checker) collect(r *recResult, ids *idSet, rep *Report, opt Options) {
	probs := r.problems
	if r.hasID {
		if first := ids.firstLine(r.idKey, int32(min(r.line, 1<<31-1))); first != 0 {
			probs = append(probs, Problem{Line: r.line, Pointer: c.idPtr,
				Message: fmt.Sprintf("duplicate id, first used on line %d", first), Value: shortValue(r.idValue)})
		}
	}
	if len(probs) == 0 {
		return
	}
	rep.BadRecords++
	rep.Problems += len(probs)
	for _, p := range probs {
		if len(rep.Shown) >= opt.MaxProblems {
			break
		}
		rep.Shown = append(rep.Shown, p)
	}
}

// fastWorker is one worker's fast-path checker, with the buffer in which it
// writes a CSV row as JSON.
type fastWorker struct {
	fc  *fastpath.Checker
	row []byte
}

// check parses and validates one record. It reports false when there is
// nothing to pass on to the collector. fw, when not nil, is the worker's
// fast path.
func (c *checker) check(rec *rawRecord, fw *fastWorker) (recResult, bool) {
	res := recResult{line: rec.line}
	if rec.problem != nil {
		res.problems = []Problem{*rec.problem}
		return res, true
	}
	data := rec.data
	if fw != nil && rec.fields != nil && c.rowFast {
		// A CSV row takes the fast path as the JSON text of the very object
		// the full path would build from it.
		var ok bool
		if fw.row, ok = c.rowJSON(fw.row[:0], rec.fields); ok {
			data = fw.row
		}
	}
	if fw != nil && data != nil && fw.fc.CertainlyValid(data) {
		// Certainly valid: only the cross-record checks are left, on the
		// few fields they name.
		c.crossChecks(&res, func(toks []string) (any, bool) {
			raw, ok := fw.fc.CertifiedLookup(data, toks)
			if !ok {
				return nil, false
			}
			v, err := jsonparse.Parse(raw)
			return v, err == nil
		})
		if len(res.problems) > 1 {
			res.problems = sortProblems(res.problems)
		}
		return res, res.hasID || len(res.problems) > 0
	}
	var v any
	if rec.fields != nil {
		obj := make(map[string]any, len(rec.fields))
		for i, f := range rec.fields {
			if cv, present := c.cell(i, f); present {
				obj[c.header[i]] = cv
			}
		}
		v = obj
	} else {
		var err error
		v, err = jsonparse.Parse(rec.data)
		if err != nil {
			var se *jsonparse.SyntaxError
			msg := err.Error()
			line, col := rec.line, rec.col
			if errors.As(err, &se) {
				l, cc := jsonparse.LineCol(rec.data, se.Offset)
				if l == 1 {
					col += cc - 1
				} else {
					col = cc
				}
				line += l - 1
			}
			res.problems = []Problem{{Line: line, Column: col, Message: "malformed JSON: " + msg}}
			return res, true
		}
	}
	res.problems = c.sch.validate(rec.line, v)
	c.crossChecks(&res, func(toks []string) (any, bool) { return jsonpointer.Lookup(v, toks) })
	if len(res.problems) > 1 {
		res.problems = sortProblems(res.problems)
	}
	return res, res.hasID || len(res.problems) > 0
}

// topNames returns the distinct top-level names the id and reference
// checks start from.
func (c *checker) topNames() []string {
	var names []string
	for _, toks := range append([][]string{c.id}, c.refs...) {
		if len(toks) > 0 && !slices.Contains(names, toks[0]) {
			names = append(names, toks[0])
		}
	}
	return names
}

// crossChecks checks the reference fields and extracts the id, finding
// fields with get.
func (c *checker) crossChecks(res *recResult, get func(toks []string) (any, bool)) {
	for i, toks := range c.refs {
		rv, ok := get(toks)
		if !ok {
			continue // presence is the schema's business
		}
		s, isStr := rv.(string)
		msg := ""
		if !isStr {
			msg = "reference must be a string"
		} else {
			msg = checkRef(s)
		}
		if msg != "" {
			res.problems = append(res.problems, Problem{Line: res.line, Pointer: c.refPtrs[i], Message: msg, Value: shortValue(rv)})
		}
	}
	if !c.hasID {
		return
	}
	idv, ok := get(c.id)
	var key string
	switch x := idv.(type) {
	case string:
		key = "s" + x
	case json.Number:
		key = "n" + string(x)
	}
	switch {
	case !ok:
		res.problems = append(res.problems, Problem{Line: res.line, Pointer: c.idPtr, Message: "missing id"})
	case key == "":
		res.problems = append(res.problems, Problem{Line: res.line, Pointer: c.idPtr, Message: "id must be a string or a number", Value: shortValue(idv)})
	default:
		res.hasID = true
		res.idValue = idv
		res.idKey = [2]uint64{maphash.String(c.seed1, key), maphash.String(c.seed2, key)}
	}
}

// encodeHeader renders each CSV header name as a JSON object key. It
// reports false when a name is not valid UTF-8 (JSON text cannot hold it).
func encodeHeader(header []string) ([][]byte, bool) {
	out := make([][]byte, len(header))
	for i, h := range header {
		if !utf8.ValidString(h) {
			return nil, false
		}
		out[i] = append(appendJSONString(nil, h), ':')
	}
	return out, true
}

// cell returns the value of the CSV cell f in column i of a row, and
// whether the property is present at all: the one place where a cell
// becomes a value, for the library path and the fast path alike.
func (c *checker) cell(i int, f string) (any, bool) {
	if f == "" {
		// An empty cell is null where the column allows null (the nullable
		// field schema generators write), an absent property otherwise.
		return nil, c.kinds[i]&kindNull != 0
	}
	return typeCell(c.kinds[i], f), true
}

// rowJSON appends to buf the JSON text of the object check builds from a CSV
// row, cell by cell. It reports false when it cannot render a cell exactly
// (not valid UTF-8, or a value of a kind it does not know), which sends the
// row to the library path.
func (c *checker) rowJSON(buf []byte, fields []string) ([]byte, bool) {
	buf = append(buf, '{')
	first := true
	for i, f := range fields {
		cv, present := c.cell(i, f)
		if !present {
			continue
		}
		if !first {
			buf = append(buf, ',')
		}
		first = false
		buf = append(buf, c.headerJSON[i]...)
		switch v := cv.(type) {
		case nil:
			buf = append(buf, "null"...)
		case json.Number:
			buf = append(buf, v...)
		case bool:
			buf = strconv.AppendBool(buf, v)
		case string:
			if !utf8.ValidString(v) {
				return buf, false
			}
			buf = appendJSONString(buf, v)
		default:
			return buf, false
		}
	}
	return append(buf, '}'), true
}

// appendJSONString appends s, valid UTF-8, as a JSON string that decodes
// back to exactly s.
func appendJSONString(buf []byte, s string) []byte {
	const hex = "0123456789abcdef"
	buf = append(buf, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			buf = append(buf, '\\', c)
		case c < 0x20:
			buf = append(buf, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		default:
			buf = append(buf, c)
		}
	}
	return append(buf, '"')
}
