package manifest

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/datalfs/datalfs/internal/jsonpointer"
	"github.com/datalfs/datalfs/manifest/internal/jsonparse"
)

// fuzzSchema accepts most records but exercises nested validation.
const fuzzSchema = `{"type": "object", "properties": {"id": {"type": "integer"},
  "ref": {"type": "string"}, "n": {"type": "number", "maximum": 10}, "b": {"type": "boolean"},
  "tags": {"type": "array", "items": {"type": "string"}}}}`

func fuzzValidate(t *testing.T, data []byte, cfg Config) {
	sch, err := CompileSchema("fuzz.json", func(string) ([]byte, error) { return []byte(fuzzSchema), nil })
	if err != nil {
		t.Fatal(err)
	}
	cfg.ID, cfg.Refs = "/id", []string{"/ref"}
	var reps []*Report
	for _, jobs := range []int{1, 3} {
		var rep *Report
		var err error
		done := make(chan struct{})
		go func() {
			defer close(done)
			rep, err = Validate(context.Background(), bytes.NewReader(data), "fuzz", sch, cfg, Options{Jobs: jobs, MaxProblems: 1000})
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("Validate with %d jobs hangs on %q", jobs, data)
		}
		if err != nil {
			t.Fatalf("Validate: %v", err)
		}
		if rep.BadRecords > rep.Records || len(rep.Shown) > rep.Problems || rep.BadRecords > rep.Problems {
			t.Fatalf("inconsistent report: %+v", rep)
		}
		for _, p := range rep.Shown {
			if p.Line < 1 {
				t.Fatalf("problem without a line: %+v", p)
			}
		}
		reps = append(reps, rep)
	}
	// Duplicate-id problems name the first line, which does not depend on
	// scheduling either, so the two runs must agree exactly.
	if diff := cmp.Diff(reps[0], reps[1]); diff != "" {
		t.Fatalf("1 and 3 workers disagree (-1 +3):\n%s", diff)
	}
	// Nor may the fast path change anything.
	full, err := Validate(context.Background(), bytes.NewReader(data), "fuzz", sch, cfg, Options{Jobs: 1, MaxProblems: 1000, NoFastPath: true})
	if err != nil {
		t.Fatalf("Validate without the fast path: %v", err)
	}
	if diff := cmp.Diff(reps[0], full); diff != "" {
		t.Fatalf("the fast path changes the report (-fast +full):\n%s", diff)
	}
}

func FuzzJSONL(f *testing.F) {
	for _, name := range []string{"good.manifest", "bad.jsonl", "bom-crlf.jsonl", "lines.json"} {
		if b, err := os.ReadFile("testdata/manifests/" + name); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("{\"id\": 1}\n{\"id\": 1}\n\n{\"ref\": \"s3://b\"}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzValidate(t, data, Config{Format: FormatJSONL})
	})
}

func FuzzCSV(f *testing.F) {
	for _, name := range []string{"good.csv", "bad.csv", "dupheader.csv"} {
		if b, err := os.ReadFile("testdata/manifests/" + name); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("id,ref,n,b\n1,s3://bucket/k,3.5,true\n1,,x,\n\"2\"\"\",a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzValidate(t, data, Config{Format: FormatCSV})
	})
}

func FuzzJSONDoc(f *testing.F) {
	for _, name := range []string{"good.json", "bad.json", "coco.json", "truncated.json", "object.json"} {
		if b, err := os.ReadFile("testdata/manifests/" + name); err == nil {
			f.Add(b, "")
			f.Add(b, "/annotations")
		}
	}
	f.Add([]byte(`{"a": [{"id": 1}, {"id": "x"}], "b": {"c": [[{"id": 2}]]}}`), "/b/c/0")
	f.Fuzz(func(t *testing.T, data []byte, records string) {
		if _, err := jsonpointer.Split(records); err != nil {
			return
		}
		fuzzValidate(t, data, Config{Format: FormatJSON, Records: records})
	})
}

// fastSchemas are the schemas FuzzFastPath checks instances against.
var fastSchemas = []string{
	fuzzSchema,
	`{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "required": ["a"],
	  "properties": {"a": {"type": "integer", "minimum": 0, "exclusiveMaximum": 100},
	    "b": {"type": ["string", "null"], "minLength": 2, "maxLength": 4, "pattern": "^[a-zé]+$"},
	    "c": {"enum": ["x", 1, true, null]}, "d": {"const": 2.5}, "e": {"$ref": "#/$defs/e"},
	    "f": {"type": "array", "items": {"type": "number", "maximum": 1e3}, "minItems": 1, "maxItems": 3},
	    "g": {"format": "date-time"}, "h": {"anyOf": [{"type": "string"}, {"type": "number", "minimum": 5}]}},
	  "patternProperties": {"^x-": {"type": "boolean"}}, "additionalProperties": false, "maxProperties": 8,
	  "$defs": {"e": {"type": "object", "properties": {"e": {"$ref": "#/$defs/e"}}, "additionalProperties": {"type": "integer"}}}}`,
	`{"$schema": "http://json-schema.org/draft-07/schema#", "definitions": {"n": {"type": "number", "minimum": -1.5}},
	  "type": "object", "properties": {"a": {"$ref": "#/definitions/n", "type": "string"}, "b": {"allOf": [{"maximum": 3}, {"minimum": 1}]}},
	  "required": ["a"]}`,
	`{"type": "array", "items": {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}}}`,
	`true`,
	`false`,
}

// FuzzFastPath checks the fast path against the full validator: whatever it
// certifies valid must parse and pass the full validation.
func FuzzFastPath(f *testing.F) {
	seeds := []string{
		`{"a": 1, "b": "ab", "c": "x", "d": 2.5, "e": {"e": {"z": 1}}, "f": [1, 2.5], "g": "2026-11-26T10:00:00Z", "h": 7, "x-y": true}`,
		`{"a": 99, "b": null}`, `{"a": 100}`, `{"a": 1.0}`, `{"a": "1"}`, `[{"id": 1}, {"id": 2}]`, `{"a": -1.5, "b": 2}`,
		`{"a": 1, "a": 2}`, `{"a": 1e400}`, `{"a": 0, "b": "\u00e9\u00e9"}`, `{"a":1,"f":[]}`, `{"a": 5, "g": "2026-02-30T00:00:00Z"}`,
	}
	for i, s := range seeds {
		f.Add([]byte(s), uint8(i))
	}
	compiled := make([]*Schema, len(fastSchemas))
	for i, text := range fastSchemas {
		sch, err := CompileSchema("fast.json", func(string) ([]byte, error) { return []byte(text), nil })
		if err != nil {
			f.Fatalf("schema %d: %v", i, err)
		}
		if sch.fast == nil {
			f.Fatalf("schema %d: no fast path", i)
		}
		compiled[i] = sch
	}
	f.Fuzz(func(t *testing.T, data []byte, which uint8) {
		sch := compiled[int(which)%len(compiled)]
		fv := sch.fast.NewChecker(nil)
		if !fv.CertainlyValid(data) {
			return
		}
		v, err := jsonparse.Parse(data)
		if err != nil {
			t.Fatalf("fast path accepts %q, which does not parse: %v", data, err)
		}
		if probs := sch.validate(1, v); len(probs) > 0 {
			t.Fatalf("fast path accepts %q against schema %d; the full validator says %v", data, int(which)%len(compiled), probs)
		}
	})
}
