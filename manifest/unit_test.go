package manifest

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/datalfs/datalfs/gitrepo"
)

func TestParseJSONMatchesEncodingJSON(t *testing.T) {
	inputs := []string{
		`{}`, `[]`, `0`, `-0`, `1.5e10`, `-1E-2`, `"a\u00e9\ud83d\ude00\n"`, `"\ud800"`, `"\ud800\u0041"`,
		`{"a": [1, {"b": null}], "c": true, "d": false, "a": 2}`, ` {"x" : "y"} `, `"é"`,
		`{"a":1,}`, `[1,]`, `01`, `1.`, `.5`, `-`, `+1`, `1e`, `tru`, `nul`, `"abc`, `"\x"`, `"\u12"`,
		"\"a\tb\"", `{"a" 1}`, `{1: 2}`, `[1 2]`, `{} {}`, ``, `   `, `"\/"`, `1e+5`, `[[[[]]]]`,
	}
	for _, in := range inputs {
		got, gotErr := parseJSON([]byte(in))
		var want any
		d := json.NewDecoder(strings.NewReader(in))
		d.UseNumber()
		wantErr := d.Decode(&want)
		if wantErr == nil {
			if _, err := d.Token(); err != io.EOF {
				wantErr = errTrailing
			}
		}
		if (gotErr == nil) != (wantErr == nil) {
			t.Errorf("parseJSON(%q) error = %v, encoding/json says %v", in, gotErr, wantErr)
			continue
		}
		if gotErr == nil {
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("parseJSON(%q) (-want +got):\n%s", in, diff)
			}
		}
	}
}

func TestParseJSONErrorPosition(t *testing.T) {
	tests := []struct {
		in        string
		line, col int
	}{
		{`{"a": 1,}`, 1, 9},
		{"{\n  \"a\": tru\n}", 2, 11},
		{`{"é": x}`, 1, 7},
		{"[1,\n2,\n", 3, 1},
	}
	for _, tt := range tests {
		_, err := parseJSON([]byte(tt.in))
		var se *syntaxError
		if !errors.As(err, &se) {
			t.Errorf("parseJSON(%q) = %v, want a syntax error", tt.in, err)
			continue
		}
		line, col := lineCol([]byte(tt.in), se.Offset)
		if line != tt.line || col != tt.col {
			t.Errorf("parseJSON(%q) error at %d:%d (%v), want %d:%d", tt.in, line, col, err, tt.line, tt.col)
		}
	}
}

func TestCheckRef(t *testing.T) {
	tests := []struct {
		ref  string
		want string // substring of the message, "" for well formed
	}{
		{"s3://bucket/key", ""},
		{"s3://my.bucket-1/a/b/c.jpg", ""},
		{"s3://bucket/key?versionId=abc.DEF_123", ""},
		{"4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393", ""},
		{"4D7A214614AB2935C943F9E0FF69D22EADBB8F32B1258DAAA5E2CA24D17E2393", "lower-case"},
		{"4d7a214614ab", "not a reference"},
		{"https://bucket.s3.amazonaws.com/key", "not a reference"},
		{"s3://bucket", "no object key"},
		{"s3://bucket/", "no object key"},
		{"s3://bucket/?versionId=1", "no object key"},
		{"s3://ab/key", "3 to 63"},
		{"s3://Bucket/key", "only a-z"},
		{"s3://-bucket/key", "start and end"},
		{"s3://bu..cket/key", `".."`},
		{"s3://bucket/key?versionId=", "exactly ?versionId="},
		{"s3://bucket/key?versionId=1&x=2", "exactly ?versionId="},
		{"s3://bucket/key?acl", "exactly ?versionId="},
		{"s3://bucket/a\nb", "control character"},
	}
	for _, tt := range tests {
		got := checkRef(tt.ref)
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("checkRef(%q) = %q, want %q", tt.ref, got, tt.want)
		}
	}
}

func TestParseAllowance(t *testing.T) {
	tests := []struct {
		in      string
		want    Allowance
		records int
		allowed int
		bad     bool
	}{
		{"", Allowance{}, 1000, 0, false},
		{"10", Allowance{Count: 10, Set: true}, 5, 10, false},
		{"1%", Allowance{Percent: 1, Set: true}, 1000, 10, false},
		{"1.5%", Allowance{Percent: 1.5, Set: true}, 99, 1, false},
		{"0%", Allowance{Set: true}, 99, 0, false},
		{"101%", Allowance{}, 0, 0, true},
		{"-1", Allowance{}, 0, 0, true},
		{"x", Allowance{}, 0, 0, true},
		{"%", Allowance{}, 0, 0, true},
	}
	for _, tt := range tests {
		got, err := ParseAllowance(tt.in)
		if (err != nil) != tt.bad {
			t.Errorf("ParseAllowance(%q) error = %v, want error %v", tt.in, err, tt.bad)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseAllowance(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		if n := got.Allowed(tt.records); n != tt.allowed {
			t.Errorf("ParseAllowance(%q).Allowed(%d) = %d, want %d", tt.in, tt.records, n, tt.allowed)
		}
	}
}

func TestConfigFromAttrs(t *testing.T) {
	got, err := configFromAttrs(gitrepo.Attrs{
		gitrepo.AttrSchema: "schemas/a.json", gitrepo.AttrFormat: "ndjson", gitrepo.AttrRecords: "unspecified",
		gitrepo.AttrID: "/id", gitrepo.AttrRef: "/source-ref,/mask-ref", gitrepo.AttrMaxBad: "2%",
	})
	want := Config{Schema: "schemas/a.json", Format: FormatJSONL, ID: "/id",
		Refs: []string{"/source-ref", "/mask-ref"}, MaxBad: Allowance{Percent: 2, Set: true}}
	if err != nil || !cmp.Equal(want, got) {
		t.Errorf("configFromAttrs = %+v, %v; want %+v", got, err, want)
	}
	for _, bad := range []gitrepo.Attrs{
		{gitrepo.AttrSchema: "set"}, {gitrepo.AttrFormat: "xml"}, {gitrepo.AttrMaxBad: "lots"}, {gitrepo.AttrID: "id"}, {gitrepo.AttrRef: "/a,"},
	} {
		if _, err := configFromAttrs(bad); err == nil {
			t.Errorf("configFromAttrs(%v) succeeded, want an error", bad)
		}
	}
}

func TestSniff(t *testing.T) {
	tests := []struct {
		in       string
		fallback Format
		want     Format
	}{
		{"[1]", FormatAuto, FormatJSON},
		{"{\"a\":1}\n{\"a\":2}\n", FormatJSON, FormatJSONL},
		{"{\"a\":1}\n", FormatJSON, FormatJSON},
		{"{\"a\":1}\n", FormatAuto, FormatJSONL},
		{"{\n \"a\": 1\n}\n", FormatAuto, FormatJSON},
		{"a,b\n1,2\n", FormatAuto, FormatCSV},
		{"", FormatAuto, FormatJSONL},
		{"\xef\xbb\xbf[]", FormatAuto, FormatJSON},
	}
	for _, tt := range tests {
		if got := sniff(bufio.NewReader(strings.NewReader(tt.in)), tt.fallback); got != tt.want {
			t.Errorf("sniff(%q, %q) = %q, want %q", tt.in, tt.fallback, got, tt.want)
		}
	}
}

func TestCSVTyping(t *testing.T) {
	sch, err := CompileSchema("testdata/schemas/table.json", func(string) ([]byte, error) {
		return []byte(`{"$defs": {"w": {"type": "integer"}}, "allOf": [{"properties": {"score": {"type": "number"}}}],
		 "properties": {"id": {"type": "integer"}, "width": {"$ref": "#/$defs/w"}, "ok": {"type": "boolean"},
		 "code": {"type": ["string", "integer"]}, "size": {"enum": [1, 2]}, "free": {}}}`), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	kinds := sch.columnKinds([]string{"id", "width", "score", "ok", "code", "size", "free", "unknown"})
	want := []fieldKind{fieldInteger, fieldInteger, fieldNumber, fieldBoolean, fieldString, fieldNumber, fieldString, fieldString}
	if diff := cmp.Diff(want, kinds); diff != "" {
		t.Errorf("columnKinds (-want +got):\n%s", diff)
	}
	cells := []struct {
		k    fieldKind
		in   string
		want any
	}{
		{fieldInteger, "12", json.Number("12")},
		{fieldInteger, " -3 ", json.Number("-3")},
		{fieldInteger, "1.5", json.Number("1.5")}, // the schema then says it is not an integer
		{fieldInteger, "twelve", "twelve"},
		{fieldInteger, "0x10", "0x10"},
		{fieldNumber, "1e3", json.Number("1e3")},
		{fieldNumber, "NaN", "NaN"},
		{fieldBoolean, "TRUE", true},
		{fieldBoolean, "false", false},
		{fieldBoolean, "yes", "yes"},
		{fieldString, "12", "12"},
	}
	for _, c := range cells {
		if got := typeCell(c.k, c.in); !cmp.Equal(c.want, got) {
			t.Errorf("typeCell(%v, %q) = %#v, want %#v", c.k, c.in, got, c.want)
		}
	}
}

func TestShortValue(t *testing.T) {
	long := strings.Repeat("é", 100)
	got := shortValue(long)
	if utf8.RuneCountInString(got) != maxValueLen+2 || !strings.HasSuffix(got, "\"…") {
		t.Errorf("shortValue(long) = %q", got)
	}
	if got := shortValue(map[string]any{}); got != "" {
		t.Errorf("shortValue(object) = %q, want empty", got)
	}
}

func TestSplitPointer(t *testing.T) {
	got, err := SplitPointer("/a~1b/c~0d/0")
	if want := []string{"a/b", "c~d", "0"}; err != nil || !cmp.Equal(want, got) {
		t.Errorf("splitPointer = %q, %v, want %q", got, err, want)
	}
	for _, bad := range []string{"a", "/a~", "/a~2"} {
		if _, err := SplitPointer(bad); err == nil {
			t.Errorf("SplitPointer(%q) succeeded", bad)
		}
	}
	if p := pointerFor("a/b", "c~d"); p != "/a~1b/c~0d" {
		t.Errorf("pointerFor = %q", p)
	}
}

var errTrailing = errors.New("trailing data")

func asSyntax(err error, se **syntaxError) bool { return errors.As(err, se) }

func TestIDSet(t *testing.T) {
	var s idSet
	for i := 1; i <= 5000; i++ {
		if got := s.firstLine([2]uint64{uint64(i) * 0x9e3779b97f4a7c15, uint64(i)}, int32(i)); got != 0 {
			t.Fatalf("new key %d: firstLine = %d, want 0", i, got)
		}
	}
	for i := 1; i <= 5000; i++ {
		if got := s.firstLine([2]uint64{uint64(i) * 0x9e3779b97f4a7c15, uint64(i)}, 99999); got != int32(i) {
			t.Fatalf("key %d again: firstLine = %d, want %d", i, got, i)
		}
	}
	if got := s.firstLine([2]uint64{}, 7); got != 0 {
		t.Errorf("zero key: firstLine = %d, want 0", got)
	}
	if got := s.firstLine([2]uint64{}, 8); got != 7 {
		t.Errorf("zero key again: firstLine = %d, want 7", got)
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", `q"uote`, `back\slash`, "tab\tnew\nline\x00\x1f", "é🙂", "\u2028"} {
		got, err := parseJSON(appendJSONString(nil, s))
		if err != nil || got != s {
			t.Errorf("appendJSONString(%q) decodes to %q, %v", s, got, err)
		}
	}
}
