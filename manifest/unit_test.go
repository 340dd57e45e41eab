package manifest

import (
	"bufio"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/datalfs/datalfs/internal/jsonpointer"
	"github.com/datalfs/datalfs/manifest/internal/jsonparse"

	"github.com/datalfs/datalfs/gitrepo"
)

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

func TestJSONPointerSplit(t *testing.T) {
	got, err := jsonpointer.Split("/a~1b/c~0d/0")
	if want := []string{"a/b", "c~d", "0"}; err != nil || !cmp.Equal(want, got) {
		t.Errorf("splitPointer = %q, %v, want %q", got, err, want)
	}
	for _, bad := range []string{"a", "/a~", "/a~2"} {
		if _, err := jsonpointer.Split(bad); err == nil {
			t.Errorf("jsonpointer.Split(%q) succeeded", bad)
		}
	}
	if p := jsonpointer.Format("a/b", "c~d"); p != "/a~1b/c~0d" {
		t.Errorf("pointerFor = %q", p)
	}
}

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
		got, err := jsonparse.Parse(appendJSONString(nil, s))
		if err != nil || got != s {
			t.Errorf("appendJSONString(%q) decodes to %q, %v", s, got, err)
		}
	}
}
