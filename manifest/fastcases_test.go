package manifest

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/datalfs/datalfs/manifest/internal/fastpath"
	"github.com/datalfs/datalfs/manifest/internal/jsonparse"
)

// fastCase is a schema, a record and what the library says of it.
type fastCase struct {
	name, schema, record string
	valid                bool // the library's verdict
}

// fastCases are the defects the differential test found, kept as plain
// cases: for each, the fast path must not certify an invalid record, and
// must certify the valid one where it can (so the case is not vacuous).
var fastCases = []fastCase{
	{"const and enum both hold (const fails)", `{"properties": {"a": {"const": 1, "enum": [1, 2]}}}`, `{"a": 2}`, false},
	{"const and enum both hold (enum fails)", `{"properties": {"a": {"enum": [2, 3], "const": 1}}}`, `{"a": 1}`, false},
	{"const and enum both hold", `{"properties": {"a": {"enum": [1, 2], "const": 1}}}`, `{"a": 1}`, true},
	{"decoded name still matched by patternProperties", `{"properties": {"aé": {"type": "string"}}, "patternProperties": {"é": false}}`, `{"aé": "😀b"}`, false},
	{"escaped name still matched by patternProperties", `{"properties": {"ab": {"type": "string"}}, "patternProperties": {"^a": {"maxLength": 1}}}`, `{"\u0061b": "\u00e9\u00e9"}`, false},
	{"escaped name, valid", `{"properties": {"ab": {"type": "string"}}, "patternProperties": {"^a": {"maxLength": 2}}}`, `{"\u0061b": "\u00e9\u00e9"}`, true},
	{"duplicate key: the last counts", `{"properties": {"a": {"type": "integer"}}}`, `{"a": 1, "a": "x"}`, false},
	{"enum number spelled differently", `{"enum": [1]}`, `1.0`, true},
	{"number above a big integer bound", `{"maximum": 9007199254740992}`, `9007199254740993`, false},
	{"tiny number above zero", `{"exclusiveMinimum": 0}`, `1e-400`, true},
	{"tiny number is not zero", `{"maximum": 0}`, `1e-400`, false},
	{"code points, not bytes", `{"maxLength": 1}`, `"😀"`, true},
	{"code points, not bytes (too long)", `{"maxLength": 1}`, `"é\u00e9"`, false},
	{"required name written with escapes", `{"required": ["é"]}`, `{"\u00e9": 1}`, true},
	{"draft 7: the library applies const beside $ref", `{"$schema": "http://json-schema.org/draft-07/schema#", "properties": {"a": {"$ref": "#/definitions/t", "const": 1.5}}, "definitions": {"t": true}}`, `{"a": 2}`, false},
	{"draft 7: beside $ref, other keywords are ignored", `{"$schema": "http://json-schema.org/draft-07/schema#", "properties": {"a": {"$ref": "#/definitions/t", "maximum": 1}}, "definitions": {"t": true}}`, `{"a": 2}`, true},
	{"required name missing", `{"required": ["é"]}`, `{"e": 1}`, false},
}

func TestFastPathCases(t *testing.T) {
	for _, c := range fastCases {
		t.Run(c.name, func(t *testing.T) {
			sch, err := CompileSchema("case.json", func(string) ([]byte, error) { return []byte(c.schema), nil })
			if err != nil {
				t.Fatal(err)
			}
			v, err := jsonparse.Parse([]byte(c.record))
			if err != nil {
				t.Fatal(err)
			}
			if got := len(sch.validate(1, v)) == 0; got != c.valid {
				t.Fatalf("library says valid=%v, the case says %v", got, c.valid)
			}
			if sch.fast == nil {
				t.Fatal("no fast path for this schema")
			}
			// Compile several times: a verdict that depends on map order
			// shows up as a difference.
			for range 20 {
				doc, _ := jsonparse.Parse([]byte(c.schema))
				fv := fastpath.Compile(doc).NewChecker(nil)
				if got := fv.CertainlyValid([]byte(c.record)); got && !c.valid {
					t.Fatalf("fast path certifies %s against %s; the library says it is invalid", c.record, c.schema)
				}
			}
		})
	}
}

// TestFastPathReadsLastDuplicate checks that the id and reference checks
// read the occurrence of a repeated name that the schema check reads: the
// last one.
func TestFastPathReadsLastDuplicate(t *testing.T) {
	schema := `{"type": "object", "properties": {"id": {"type": ["string", "integer"]}, "ref": {"type": "string"}}}`
	sch, err := CompileSchema("dup.json", func(string) ([]byte, error) { return []byte(schema), nil })
	if err != nil {
		t.Fatal(err)
	}
	input := `{"id": 1, "ref": "s3://bucket/a"}
{"id": 2, "id": 1, "ref": "s3://bucket/b", "ref": "bad"}
{"i\u0064": 3, "id": "x", "r\u0065f": "s3://bucket/c"}
`
	cfg := Config{Format: FormatJSONL, ID: "/id", Refs: []string{"/ref"}}
	var reps []*Report
	for _, noFast := range []bool{false, true} {
		rep, err := Validate(context.Background(), strings.NewReader(input), "dup.jsonl", sch, cfg, Options{Jobs: 1, NoFastPath: noFast})
		if err != nil {
			t.Fatal(err)
		}
		reps = append(reps, rep)
	}
	var msgs []string
	for _, p := range reps[0].Shown {
		msgs = append(msgs, p.Pointer+" "+p.Message)
	}
	want := []string{"/ref not a reference: want s3://bucket/key or a 64-hex Git LFS oid", "/id duplicate id, first used on line 1"}
	if diff := cmp.Diff(want, msgs); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	if len(reps[0].Shown) == 2 && (reps[0].Shown[0].Line != 2 || reps[0].Shown[0].Value != `"bad"`) {
		t.Errorf("reference problem %+v, want line 2 with value \"bad\"", reps[0].Shown[0])
	}
	if diff := cmp.Diff(reps[1], reps[0]); diff != "" {
		t.Errorf("the fast path changes the report (-full +fast):\n%s", diff)
	}
}

// TestHugeExponent checks that a number math/big cannot hold is a clear
// problem, not a crash of the library path.
func TestHugeExponent(t *testing.T) {
	sch, err := CompileSchema("n.json", func(string) ([]byte, error) { return []byte(`{"properties": {"n": {"minimum": 0}}}`), nil })
	if err != nil {
		t.Fatal(err)
	}
	input := "{\"n\": 1e-1000001}\n{\"n\": 1e-999999}\n{\"n\": 1.5e1000002}\n"
	for _, noFast := range []bool{false, true} {
		rep, err := Validate(context.Background(), strings.NewReader(input), "n.jsonl", sch, Config{Format: FormatJSONL}, Options{Jobs: 1, NoFastPath: noFast})
		if err != nil {
			t.Fatal(err)
		}
		var lines []int
		for _, p := range rep.Shown {
			lines = append(lines, p.Line)
			if !strings.Contains(p.Message, "number out of range") {
				t.Errorf("line %d: %s, want a number out of range", p.Line, p.Message)
			}
		}
		if !cmp.Equal(lines, []int{1, 3}) {
			t.Errorf("problems on lines %v, want 1 and 3", lines)
		}
	}
}

// TestNoFastPathEnv checks the environment switch.
func TestNoFastPathEnv(t *testing.T) {
	for _, c := range []struct {
		env  string
		want bool
	}{{"", true}, {"0", true}, {"1", false}, {"true", false}} {
		t.Setenv(NoFastPathEnv, c.env)
		if got := fastPathOn(Options{}); got != c.want {
			t.Errorf("%s=%q: fastPathOn = %v, want %v", NoFastPathEnv, c.env, got, c.want)
		}
	}
	t.Setenv(NoFastPathEnv, "")
	if fastPathOn(Options{NoFastPath: true}) {
		t.Error("fastPathOn ignores Options.NoFastPath")
	}
}
