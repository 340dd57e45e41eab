package dataset

import "testing"

// The dataset commands read a record's id, references and label with the
// same JSON pointer rules as validation: an array index is decimal digits
// without a leading zero or sign (RFC 6901). Before, "01" and "+1" found
// element 1 here while validation found nothing, so the two could read
// different values for the same attribute.
func TestLookupArrayIndexAsValidation(t *testing.T) {
	v := map[string]any{"a": []any{"zero", "one"}}
	for p, want := range map[string]any{"/a/1": "one", "/a/0": "zero"} {
		if got, ok := lookup(v, p); !ok || got != want {
			t.Errorf("lookup(%q) = %v, %v; want %v", p, got, ok, want)
		}
	}
	for _, p := range []string{"/a/01", "/a/+1", "/a/-0", "/a/ 1", "/a/2", "/a/-", "/a/1e0"} {
		if got, ok := lookup(v, p); ok {
			t.Errorf("lookup(%q) found %v; validation finds nothing there", p, got)
		}
	}
}
