package jsonparse

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func TestParseJSONMatchesEncodingJSON(t *testing.T) {
	inputs := []string{
		`{}`, `[]`, `0`, `-0`, `1.5e10`, `-1E-2`, `"a\u00e9\ud83d\ude00\n"`, `"\ud800"`, `"\ud800\u0041"`,
		`{"a": [1, {"b": null}], "c": true, "d": false, "a": 2}`, ` {"x" : "y"} `, `"é"`,
		`{"a":1,}`, `[1,]`, `01`, `1.`, `.5`, `-`, `+1`, `1e`, `tru`, `nul`, `"abc`, `"\x"`, `"\u12"`,
		"\"a\tb\"", `{"a" 1}`, `{1: 2}`, `[1 2]`, `{} {}`, ``, `   `, `"\/"`, `1e+5`, `[[[[]]]]`,
	}
	for _, in := range inputs {
		got, gotErr := Parse([]byte(in))
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
			t.Errorf("Parse(%q) error = %v, encoding/json says %v", in, gotErr, wantErr)
			continue
		}
		if gotErr == nil {
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Parse(%q) (-want +got):\n%s", in, diff)
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
		_, err := Parse([]byte(tt.in))
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Parse(%q) = %v, want a syntax error", tt.in, err)
			continue
		}
		line, col := LineCol([]byte(tt.in), se.Offset)
		if line != tt.line || col != tt.col {
			t.Errorf("Parse(%q) error at %d:%d (%v), want %d:%d", tt.in, line, col, err, tt.line, tt.col)
		}
	}
}

var errTrailing = errors.New("trailing data")

func asSyntax(err error, se **SyntaxError) bool { return errors.As(err, se) }

// FuzzParseJSON checks the hand-written parser against encoding/json: both
// accept the same valid-UTF-8 inputs and produce the same values.
func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{`{"a": [1, 2.5e3, "x\u00e9"], "b": null}`, `"\ud83d\ude00"`, `[true, false]`, `-0.0`, `{"a":1,}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := Parse(data)
		if !utf8.Valid(data) {
			return // encoding/json replaces bad UTF-8; we report it
		}
		if err != nil && strings.HasPrefix(err.Error(), "number out of range") {
			return // encoding/json takes it; the validator could not compare it
		}
		var want any
		d := json.NewDecoder(bytes.NewReader(data))
		d.UseNumber()
		wantErr := d.Decode(&want)
		if wantErr == nil {
			if _, err := d.Token(); err != io.EOF {
				wantErr = errTrailing
			}
		}
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("Parse(%q) error %v, encoding/json error %v", data, err, wantErr)
		}
		if err == nil && !cmp.Equal(want, got) {
			t.Fatalf("Parse(%q) = %#v, encoding/json gives %#v", data, got, want)
		}
		if err != nil {
			var se *SyntaxError
			if !asSyntax(err, &se) || se.Offset < 0 || se.Offset > len(data) {
				t.Fatalf("Parse(%q) error %v has no offset within the input", data, err)
			}
		}
	})
}
