package manifest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// csvSchema types columns in each of the ways schema authors and generators
// write them. weight and either are named in properties so that
// additionalProperties (booleans) does not apply to them.
const csvSchema = `{
  "$defs": {
    "count": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
    "flag": {"oneOf": [{"type": "boolean"}, {"const": null}]}
  },
  "type": "object",
  "required": ["id", "score", "note"],
  "properties": {
    "id": {"type": "integer"},
    "score": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
    "ratio": {"type": ["number", "null"]},
    "count": {"$ref": "#/$defs/count"},
    "flag": {"$ref": "#/$defs/flag"},
    "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    "both": {"allOf": [{"type": ["integer", "string"]}, {"type": ["integer", "boolean"]}]},
    "level": {"enum": [1, 2, 3]},
    "nothing": {"type": "null"},
    "tag": {"type": "string"},
    "weight": true,
    "either": {}
  },
  "allOf": [{"properties": {"weight": {"type": "number"}}}],
  "anyOf": [{"properties": {"either": {"type": "integer"}}}, {"properties": {"either": {"type": "null"}}}],
  "patternProperties": {"^x_": {"type": "integer"}},
  "additionalProperties": {"type": "boolean"}
}`

func compileText(t *testing.T, text string) *Schema {
	t.Helper()
	sch, err := CompileSchema("s.json", func(string) ([]byte, error) { return []byte(text), nil })
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

func TestColumnKinds(t *testing.T) {
	sch := compileText(t, csvSchema)
	header := []string{"id", "score", "ratio", "count", "flag", "note", "both", "level", "nothing", "tag", "weight", "either", "x_size", "other"}
	want := []fieldKind{
		fieldInteger,
		kindInteger | kindNull,
		kindInteger | kindNumber | kindNull,
		kindInteger | kindNull,
		kindBoolean | kindNull,
		kindString | kindNull,
		fieldInteger, // allOf: the types both branches allow
		fieldNumber,  // enum of integers
		kindNull,
		fieldString,
		fieldNumber,            // allOf at the top
		kindInteger | kindNull, // anyOf at the top
		fieldInteger,           // patternProperties
		fieldBoolean,           // additionalProperties
	}
	if diff := cmp.Diff(want, sch.columnKinds(header)); diff != "" {
		t.Errorf("columnKinds (-want +got):\n%s", diff)
	}
}

func TestTypeCellNull(t *testing.T) {
	for _, c := range []struct {
		k    fieldKind
		in   string
		want any
	}{
		{kindInteger | kindNull, "", nil},
		{kindInteger | kindNull, "null", nil},
		{kindInteger | kindNull, " NULL ", nil},
		{kindInteger | kindNull, "7", json.Number("7")},
		{kindInteger | kindNull, "none", "none"},
		{kindBoolean | kindNull, "true", true},
		{kindString | kindNull, "", nil},
		{kindString | kindNull, "null", "null"}, // text where text is allowed
		{kindNull, "null", nil},
		{fieldInteger, "null", "null"}, // not allowed: the validator says so
		{fieldString, "", ""},
	} {
		if got := typeCell(c.k, c.in); !cmp.Equal(c.want, got) {
			t.Errorf("typeCell(%b, %q) = %#v, want %#v", c.k, c.in, got, c.want)
		}
	}
}

// TestValidateCSVTyped checks whole rows: columns typed through anyOf, $ref,
// patternProperties and additionalProperties pass, the null token is null,
// and invalid UTF-8 in a cell is a problem with line, column and pointer.
func TestValidateCSVTyped(t *testing.T) {
	sch := compileText(t, csvSchema)
	csv := "id,score,ratio,count,flag,note,x_size,other\n" +
		"1,3,0.5,2,true,hi,4,false\n" +
		"2,null,null,NULL,null,null,5,true\n" +
		"3,x,0.5,2,true,hi,4,false\n" +
		"4,3,0.5,2,true,h\xffi,4,false\n"
	for _, noFast := range []bool{false, true} {
		rep, err := Validate(context.Background(), strings.NewReader(csv), "t.csv", sch, Config{}, Options{NoFastPath: noFast})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range rep.Shown {
			got = append(got, p.String())
		}
		want := []string{
			`4: /score: 'anyOf' failed (/score: got string, want integer; /score: got string, want null) (value "x")`,
			`5:16: /note: invalid UTF-8 byte 0xff at byte 2 in CSV cell`,
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Validate(NoFastPath=%v) problems (-want +got):\n%s", noFast, diff)
		}
		if rep.Records != 4 || rep.BadRecords != 2 {
			t.Errorf("Validate(NoFastPath=%v) = %d records, %d bad; want 4, 2", noFast, rep.Records, rep.BadRecords)
		}
	}
}

// TestValidateCSVBadHeader: a header that is not valid UTF-8 stops the file.
func TestValidateCSVBadHeader(t *testing.T) {
	sch := compileText(t, csvSchema)
	rep, err := Validate(context.Background(), strings.NewReader("id,\xfe\n1,2\n"), "t.csv", sch, Config{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := "1:4: CSV header column 2 holds invalid UTF-8 byte 0xfe at byte 1"
	if len(rep.Shown) != 1 || rep.Shown[0].String() != want || !rep.Malformed {
		t.Errorf("Validate = %v (malformed %v), want [%s], malformed", rep.Shown, rep.Malformed, want)
	}
}

// TestValidateCSVEmptyNull: an empty cell is null in a column whose schema
// allows null (the pydantic Optional field, required but nullable), and
// absent in the others, on both paths.
func TestValidateCSVEmptyNull(t *testing.T) {
	sch := compileText(t, `{"type": "object", "required": ["id", "score"],
	  "properties": {"id": {"type": "integer"}, "score": {"anyOf": [{"type": "integer"}, {"type": "null"}]}, "tag": {"type": "string"}}}`)
	csv := "id,score,tag\n1,,\n2,5,x\n,,y\n"
	for _, noFast := range []bool{false, true} {
		rep, err := Validate(context.Background(), strings.NewReader(csv), "t.csv", sch, Config{}, Options{NoFastPath: noFast})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range rep.Shown {
			got = append(got, p.String())
		}
		want := []string{`4: (record): missing property 'id'`}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Validate(NoFastPath=%v) problems (-want +got):\n%s", noFast, diff)
		}
	}
}
