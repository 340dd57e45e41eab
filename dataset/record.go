package dataset

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/datalfs/datalfs/internal/jsonpointer"
	"github.com/datalfs/datalfs/manifest"
	"github.com/datalfs/datalfs/s3ref"
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
	Ref    s3ref.Ref
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
// It reads with the manifest package's readers, so a manifest means the same
// records (and lines) here as to `datalfs manifest validate`.
func ReadRecords(src io.Reader, name string, cfg Config, fn func(*Record) error) error {
	format, err := manifest.ParseFormat(cfg.Format)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return manifest.Scan(src, name, format, cfg.Records, func(raw manifest.RawRecord) error {
		var fields map[string]any
		if raw.Cells != nil {
			fields = make(map[string]any, len(raw.Header))
			for i, h := range raw.Header {
				if raw.Cells[i] != "" { // an empty cell is an absent field
					fields[h] = raw.Cells[i]
				}
			}
		} else if fields, err = decodeObject(raw.JSON); err != nil {
			return &RecordError{File: name, Line: raw.Line, Msg: err.Error()}
		}
		r, err := newRecord(raw.Line, fields, cfg)
		if err != nil {
			return &RecordError{File: name, Line: raw.Line, Msg: err.Error()}
		}
		return fn(r)
	})
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

// lookup resolves a JSON pointer in a decoded record.
func lookup(v any, p string) (any, bool) {
	toks, err := jsonpointer.Split(p)
	if err != nil {
		return nil, false
	}
	return jsonpointer.Lookup(v, toks)
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
		ref, err := s3ref.Parse(s)
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
			return fmt.Errorf("/%s: want a byte count, got %s", FieldSize, s3ref.Shorten(string(canonical(v))))
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
