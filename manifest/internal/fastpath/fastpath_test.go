package fastpath

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/datalfs/datalfs/manifest/internal/ecmaregex"
	"github.com/datalfs/datalfs/manifest/internal/jsonparse"
)

// TestFastPathReferenceBlowup checks that references that fan out without
// consuming input cannot make the fast path run for ever.
func TestFastPathReferenceBlowup(t *testing.T) {
	schema := `{"$defs": {"a": {"anyOf": [{"$ref": "#/$defs/a"}, {"$ref": "#/$defs/a"}, {"$ref": "#/$defs/a"}, {"$ref": "#/$defs/a"}, {"$ref": "#/$defs/a"}]}},
	  "properties": {"x": {"$ref": "#/$defs/a"}}}`
	doc, err := jsonparse.Parse([]byte(schema))
	if err != nil {
		t.Fatal(err)
	}
	fv := Compile(doc).NewChecker(nil)
	done := make(chan bool)
	go func() { done <- fv.CertainlyValid([]byte(`{"x": 1}`)) }()
	select {
	case got := <-done:
		if got {
			t.Fatal("fast path certifies a record against an endless reference")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("fast path does not finish on a reference that fans out")
	}
}

// TestECMADoc: the fast path's copy of a schema has every pattern rewritten,
// wherever it sits, except inside data keywords.
func TestECMADoc(t *testing.T) {
	doc, err := jsonparse.Parse([]byte(`{
	  "properties": {"enum": {"pattern": "\\s"}, "a": {"items": [{"pattern": "\\s"}]}},
	  "patternProperties": {"^\\s": {"pattern": "\\s"}},
	  "components": {"x": {"pattern": "\\s"}},
	  "const": {"pattern": "\\s"},
	  "enum": [{"pattern": "\\s"}]
	}`))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(ecmaDoc(doc))
	space, err := ecmaregex.ToGo(`\s`)
	if err != nil {
		t.Fatal(err)
	}
	sp := strings.ReplaceAll(strings.ReplaceAll(`"`+space+`"`, `\`, `\\`), "\t", `\t`)
	want := `{"components":{"x":{"pattern":` + sp + `}},"const":{"pattern":"\\s"},"enum":[{"pattern":"\\s"}],` +
		`"patternProperties":{"^` + sp[1:] + `:{"pattern":` + sp + `}},` +
		`"properties":{"a":{"items":[{"pattern":` + sp + `}]},"enum":{"pattern":` + sp + `}}}`
	if string(got) != want {
		t.Errorf("ecmaDoc =\n%s\nwant\n%s", got, want)
	}
}

// FuzzDFA checks the fast path's pattern matcher against regexp.Match.
func FuzzDFA(f *testing.F) {
	for _, s := range [][2]string{
		{`^s3://[a-z0-9.-]{3,63}/.+`, "s3://bucket/key"}, {`^labeling-job/[a-z0-9-]+$`, "labeling-job/x-1"},
		{`^[0-9]{4}-[0-9]{2}$`, "2026-11"}, {`a|b*c$`, "xxbbc"}, {`(?i)abc`, "xABCx"}, {`^$`, ""}, {`$^`, ""},
		{`x*`, ""}, {`^(ab)+$`, "ababa"}, {`[^a-z]`, "abc"}, {`.`, "\n"}, {`(?s).`, "\n"}, {`\bword\b`, "a word"},
		{`^(?m)a$`, "b\na"}, {`é`, "é"}, {`k`, "K"}, {`(?i)k`, "K"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, s string) {
		re, err := regexp.Compile(pattern)
		if err != nil {
			return
		}
		d := newDFA(newASCIIProg(re))
		for i := 0; i < 2; i++ { // the second time uses the states built the first
			if got, want := d.matchBytes([]byte(s)), re.MatchString(s); got != want {
				t.Fatalf("pattern %q on %q: dfa says %v, regexp %v", pattern, s, got, want)
			}
		}
	})
}
