package jsonpointer

import (
	"encoding/json"
	"testing"
)

func TestLookup(t *testing.T) {
	doc := map[string]any{"a/b": map[string]any{"c~d": []any{"x", json.Number("2")}}, "": "empty"}
	for _, tt := range []struct {
		ptr   string
		want  any
		found bool
	}{
		{"", doc, true},
		{"/", "empty", true},
		{"/a~1b/c~0d/1", json.Number("2"), true},
		{Format("a/b", "c~d", "0"), "x", true},
		{"/a~1b/c~0d/2", nil, false},  // beyond the end
		{"/a~1b/c~0d/01", nil, false}, // a leading zero is not an index
		{"/a~1b/c~0d/-1", nil, false},
		{"/a~1b/c~0d/+1", nil, false},
		{"/a~1b/c~0d/0/z", nil, false}, // into a string
		{"/missing", nil, false},
	} {
		toks, err := Split(tt.ptr)
		if err != nil {
			t.Fatalf("Split(%q): %v", tt.ptr, err)
		}
		got, found := Lookup(doc, toks)
		if found != tt.found || (found && tt.ptr != "" && got != tt.want) {
			t.Errorf("Lookup(%q) = %v, %v; want %v, %v", tt.ptr, got, found, tt.want, tt.found)
		}
	}
}

func TestArrayIndex(t *testing.T) {
	for tok, want := range map[string]int{"0": 0, "7": 7, "123456789": 123456789} {
		if got, ok := ArrayIndex(tok); !ok || got != want {
			t.Errorf("ArrayIndex(%q) = %d, %v; want %d", tok, got, ok, want)
		}
	}
	for _, tok := range []string{"", "00", "01", "-1", "+1", "1e3", "1234567890", "٣"} {
		if got, ok := ArrayIndex(tok); ok {
			t.Errorf("ArrayIndex(%q) = %d, want not an index", tok, got)
		}
	}
}
