package dataset

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Config says where a manifest's records keep their id, asset references
// and label. It comes from the same git attributes as the schema mapping
// (manifest-id, manifest-ref, manifest-format, manifest-records) plus
// manifest-label.
type Config struct {
	Format  string   // jsonl, csv, json; "" decides by extension, then content
	Records string   // JSON pointer of the records array in a JSON document
	ID      string   // JSON pointer of the record id; "" uses the first reference's s3://BUCKET/KEY
	Refs    []string // JSON pointers of reference fields; none: every top-level field ending in -ref
	Label   string   // JSON pointer of the label diff summarises by; "" for none
}

// Pin field names: top-level fields of a record that pin its first reference.
const (
	FieldSize   = "size"
	FieldETag   = "etag"
	FieldSHA256 = "sha256"
)

// Asset is one referenced object and what the record pins about it.
type Asset struct {
	Ref    Ref
	Size   int64  // -1 when not pinned
	ETag   string // without quotes; "" when not pinned
	SHA256 string // hex; "" when not pinned
}

// Record is one manifest record.
type Record struct {
	Line   int // line where it starts (JSON documents: its position in the array)
	ID     string
	Label  string
	Fields map[string]any // decoded with json.Number
	Assets []Asset
}

// Canonical is the record's canonical JSON: keys sorted, numbers as written,
// no HTML escaping, no spaces.
func (r *Record) Canonical() []byte { return canonical(r.Fields) }

func canonical(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return bytes.TrimRight(b.Bytes(), "\n")
}

// RecordError is a record that cannot be used: malformed, or a bad reference.
type RecordError struct {
	File string
	Line int
	Msg  string
}

// Error says where and what, and what to run.
func (e *RecordError) Error() string {
	return fmt.Sprintf("%s:%d: %s (run `datalfs manifest validate %s` for every problem)", e.File, e.Line, e.Msg, e.File)
}

// ReadRecords calls fn with each record of the manifest src, in file order.
func ReadRecords(src io.Reader, name string, cfg Config, fn func(*Record) error) error {
	br := bufio.NewReaderSize(src, 64<<10)
	format := cfg.Format
	if format == "" {
		format = formatOf(name, br)
	}
	rec := func(line int, fields map[string]any) error {
		r, err := newRecord(line, fields, cfg)
		if err != nil {
			return &RecordError{File: name, Line: line, Msg: err.Error()}
		}
		return fn(r)
	}
	switch format {
	case "jsonl", "ndjson", "manifest":
		return readJSONL(br, name, rec)
	case "csv":
		return readCSV(br, name, rec)
	case "json":
		return readJSONDoc(br, name, cfg.Records, rec)
	}
	return fmt.Errorf("%s: unknown manifest format %q, want jsonl, csv or json", name, format)
}

func formatOf(name string, br *bufio.Reader) string {
	switch strings.ToLower(path.Ext(name)) {
	case ".jsonl", ".ndjson", ".manifest":
		return "jsonl"
	case ".csv":
		return "csv"
	case ".json":
		// A .json file whose first line is a whole object is JSON Lines.
		head, _ := br.Peek(64 << 10)
		head = bytes.TrimPrefix(head, []byte("\xEF\xBB\xBF"))
		if i := bytes.IndexByte(head, '\n'); i > 0 && json.Valid(head[:i]) && bytes.HasPrefix(bytes.TrimSpace(head), []byte("{")) {
			return "jsonl"
		}
		return "json"
	}
	head, _ := br.Peek(1)
	if len(head) == 1 && (head[0] == '{') {
		return "jsonl"
	}
	if len(head) == 1 && head[0] == '[' {
		return "json"
	}
	return "csv"
}

func decodeObject(data []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("malformed JSON record: %v", err)
	}
	if m == nil {
		return nil, errors.New("record is not a JSON object")
	}
	if dec.More() {
		return nil, errors.New("malformed JSON record: more than one value on the line")
	}
	return m, nil
}

func readJSONL(br *bufio.Reader, name string, rec func(int, map[string]any) error) error {
	line := 0
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte("\xEF\xBB\xBF")) {
		_, _ = br.Discard(3)
	}
	for {
		data, err := br.ReadBytes('\n')
		if len(data) > 0 {
			line++
			if t := bytes.TrimSpace(data); len(t) > 0 {
				m, derr := decodeObject(t)
				if derr != nil {
					return &RecordError{File: name, Line: line, Msg: derr.Error()}
				}
				if err := rec(line, m); err != nil {
					return err
				}
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
	}
}

func readCSV(br *bufio.Reader, name string, rec func(int, map[string]any) error) error {
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte("\xEF\xBB\xBF")) {
		_, _ = br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return &RecordError{File: name, Line: 1, Msg: "malformed CSV header: " + err.Error()}
	}
	header = append([]string(nil), header...)
	for {
		row, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			return &RecordError{File: name, Line: line, Msg: "malformed CSV row: " + err.Error()}
		}
		m := make(map[string]any, len(header))
		for i, h := range header {
			if i < len(row) && row[i] != "" {
				m[h] = row[i]
			}
		}
		if err := rec(line, m); err != nil {
			return err
		}
	}
}

// readJSONDoc streams the records array of a JSON document: the document
// itself when it is an array, else the array at pointer (object keys only),
// else the document as one record.
func readJSONDoc(br *bufio.Reader, name, pointer string, rec func(int, map[string]any) error) error {
	dec := json.NewDecoder(br)
	dec.UseNumber()
	bad := func(err error) error {
		return &RecordError{File: name, Line: 1, Msg: "malformed JSON document: " + err.Error()}
	}
	segs, err := splitPointer(pointer)
	if err != nil {
		return fmt.Errorf("%s: records pointer: %w", name, err)
	}
	for _, seg := range segs {
		tok, err := dec.Token()
		if err != nil {
			return bad(err)
		}
		if tok != json.Delim('{') {
			return fmt.Errorf("%s: no object holds %q on the way to the records pointer %s", name, seg, pointer)
		}
		for {
			if !dec.More() {
				return fmt.Errorf("%s: the records pointer %s names nothing in the document", name, pointer)
			}
			k, err := dec.Token()
			if err != nil {
				return bad(err)
			}
			if k == seg {
				break
			}
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return bad(err)
			}
		}
	}
	tok, err := dec.Token()
	if err != nil {
		return bad(err)
	}
	if tok != json.Delim('[') {
		if len(segs) > 0 || tok != json.Delim('{') {
			return fmt.Errorf("%s: the records are not an array; set manifest-records to the array's JSON pointer", name)
		}
		// One object is one record: read the rest of it.
		m := map[string]any{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return bad(err)
			}
			var v any
			if err := dec.Decode(&v); err != nil {
				return bad(err)
			}
			m[k.(string)] = v
		}
		return rec(1, m)
	}
	n := 0
	for dec.More() {
		n++
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			return &RecordError{File: name, Line: n, Msg: "malformed JSON record: " + err.Error()}
		}
		if err := rec(n, m); err != nil {
			return err
		}
	}
	return nil
}

func splitPointer(p string) ([]string, error) {
	if p == "" {
		return nil, nil
	}
	if p[0] != '/' {
		return nil, fmt.Errorf("JSON pointer %q must start with /", p)
	}
	segs := strings.Split(p[1:], "/")
	for i, s := range segs {
		segs[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	return segs, nil
}

// lookup resolves a JSON pointer in a decoded record.
func lookup(v any, p string) (any, bool) {
	segs, err := splitPointer(p)
	if err != nil {
		return nil, false
	}
	for _, s := range segs {
		switch t := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = t[s]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(s)
			if err != nil || i < 0 || i >= len(t) {
				return nil, false
			}
			v = t[i]
		default:
			return nil, false
		}
	}
	return v, true
}

func scalar(v any) (string, bool) {
	switch t := v.(type) {
	case string:
		return t, true
	case json.Number:
		return t.String(), true
	case bool:
		return strconv.FormatBool(t), true
	}
	return "", false
}

func newRecord(line int, fields map[string]any, cfg Config) (*Record, error) {
	r := &Record{Line: line, Fields: fields}
	refs := cfg.Refs
	if len(refs) == 0 {
		for k := range fields {
			if strings.HasSuffix(k, "-ref") {
				refs = append(refs, "/"+strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1"))
			}
		}
		sort.Strings(refs)
	}
	for i, p := range refs {
		v, ok := lookup(fields, p)
		if !ok {
			continue
		}
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("%s: reference is not a string", p)
		}
		if !strings.HasPrefix(s, "s3://") {
			continue // a Git LFS oid or another kind of reference: not an S3 asset
		}
		ref, err := ParseRef(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", p, err)
		}
		a := Asset{Ref: ref, Size: -1}
		if i == 0 {
			if err := pins(fields, &a); err != nil {
				return nil, err
			}
		}
		r.Assets = append(r.Assets, a)
	}
	if cfg.ID != "" {
		v, ok := lookup(fields, cfg.ID)
		if !ok {
			return nil, fmt.Errorf("%s: the record has no id", cfg.ID)
		}
		id, ok := scalar(v)
		if !ok {
			return nil, fmt.Errorf("%s: the id is not a string or number", cfg.ID)
		}
		r.ID = id
	} else if len(r.Assets) > 0 {
		r.ID = r.Assets[0].Ref.Object()
	} else {
		r.ID = string(canonical(fields))
	}
	if cfg.Label != "" {
		if v, ok := lookup(fields, cfg.Label); ok {
			if s, ok := scalar(v); ok {
				r.Label = s
			} else {
				r.Label = string(canonical(v))
			}
		}
	}
	return r, nil
}

func pins(fields map[string]any, a *Asset) error {
	if v, ok := fields[FieldSize]; ok {
		s, _ := scalar(v)
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("/%s: want a byte count, got %s", FieldSize, shorten(string(canonical(v))))
		}
		a.Size = n
	}
	if v, ok := fields[FieldETag]; ok {
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("/%s: want a string", FieldETag)
		}
		a.ETag = strings.Trim(s, `"`)
	}
	if v, ok := fields[FieldSHA256]; ok {
		s, ok := v.(string)
		if !ok || len(s) != 64 {
			return fmt.Errorf("/%s: want 64 hex digits", FieldSHA256)
		}
		a.SHA256 = strings.ToLower(s)
	}
	return nil
}
