package manifest

import (
	"context"
	"strings"
	"testing"
)

// TestPatternECMA: patterns match as in ECMA-262, on the fast path and the
// library path alike.
func TestPatternECMA(t *testing.T) {
	sch := compileText(t, `{
	  "type": "object",
	  "properties": {
	    "word": {"type": "string", "pattern": "^\\S+$"},
	    "gap": {"type": "string", "pattern": "^a\\sb$"},
	    "dot": {"type": "string", "pattern": "^a.b$"},
	    "e": {"type": "string", "pattern": "^\\u00e9$"}
	  },
	  "patternProperties": {"^\\s": false}
	}`)
	tests := []struct {
		record string
		ok     bool
	}{
		{`{"word": "abc"}`, true},
		{`{"word": "a b"}`, false},
		{`{"word": "a\u00a0b"}`, false}, // no-break space is white space in ECMA-262
		{`{"word": "a\u2003b"}`, false}, // em space
		{`{"word": "a\ufeffb"}`, false}, // BOM
		{`{"gap": "a\u3000b"}`, true},
		{`{"gap": "a\u000bb"}`, true}, // vertical tab
		{`{"gap": "a_b"}`, false},
		{`{"dot": "a_b"}`, true},
		{`{"dot": "a\rb"}`, false}, // . leaves out line terminators
		{`{"dot": "a\u2028b"}`, false},
		{`{"e": "é"}`, true},
		{`{"e": "e"}`, false},
		{`{"\u00a0x": 1}`, false},
		{`{"x": 1}`, true},
	}
	for _, noFast := range []bool{false, true} {
		for _, tt := range tests {
			rep, err := Validate(context.Background(), strings.NewReader(tt.record+"\n"), "r.jsonl", sch, Config{}, Options{NoFastPath: noFast})
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() != tt.ok {
				t.Errorf("Validate(%s, NoFastPath=%v) ok = %v, want %v (%v)", tt.record, noFast, rep.OK(), tt.ok, rep.Shown)
			}
		}
	}
}

// TestPatternUnsupported: lookaround and backreferences, which Go's regexp
// cannot run, refuse the schema with a message naming the construct.
func TestPatternUnsupported(t *testing.T) {
	for _, tt := range []struct{ schema, want string }{
		{`{"properties": {"a": {"pattern": "^(?!tmp)"}}}`, `at /properties/a/pattern: pattern "^(?!tmp)": lookahead (?!...) is not supported`},
		{`{"properties": {"a": {"pattern": "(?=x)"}}}`, `lookahead (?=...) is not supported`},
		{`{"properties": {"a": {"pattern": "(?<!x)y"}}}`, `lookbehind (?<!...) is not supported`},
		{`{"properties": {"a": {"pattern": "(a)\\1"}}}`, `the backreference \1 is not supported`},
		{`{"patternProperties": {"(?<=a)b": {}}}`, `lookbehind (?<=...) is not supported`},
		{`{"properties": {"a": {"pattern": "[^\\S]"}}}`, `\S inside a negated character class is not supported`},
	} {
		_, err := CompileSchema("s.json", func(string) ([]byte, error) { return []byte(tt.schema), nil })
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("CompileSchema(%s) = %v, want an error containing %q", tt.schema, err, tt.want)
		}
	}
}
