package gitrepo

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestAttributesBySource: the attributes of a path follow the
// .gitattributes of the source read: the commit's, the index's or the
// working tree's, each different here. A valueless attribute is an error
// when read, the same error for every reader.
func TestAttributesBySource(t *testing.T) {
	ctx := context.Background()
	dir, commit := origin(t)
	write(t, filepath.Join(dir, ".gitattributes"), "*.jsonl manifest-schema=schemas/staged.json manifest-ref\n")
	git(t, dir, "add", ".gitattributes")
	write(t, filepath.Join(dir, ".gitattributes"), "*.jsonl manifest-schema=schemas/worktree.json manifest-ref=/a,/b manifest-max-bad=2%\n")
	r := open(t, dir)
	paths := []string{spaced, unicode, dashed}
	for _, tt := range []struct {
		src           Source
		schema, ref   string
		refErr        bool
		label, maxBad string
	}{
		{Source{Rev: commit}, "schemas/s.json", "", false, "/label", ""},
		{Source{Staged: true}, "schemas/staged.json", "", true, "", ""},
		{Source{}, "schemas/worktree.json", "/a,/b", false, "", "2%"},
	} {
		attrs, err := r.Attributes(ctx, tt.src, paths)
		if err != nil {
			t.Fatalf("Attributes(%s): %v", tt.src, err)
		}
		for _, p := range paths {
			a := attrs[p]
			schema, _ := a.Value(AttrSchema)
			label, _ := a.Value(AttrLabel)
			maxBad, _ := a.Value(AttrMaxBad)
			ref, refErr := a.Value(AttrRef)
			if schema != tt.schema || label != tt.label || maxBad != tt.maxBad || ref != tt.ref || (refErr != nil) != tt.refErr {
				t.Errorf("%s, %q: schema %q label %q max-bad %q ref %q (%v); want %q %q %q %q (error %v)",
					tt.src, p, schema, label, maxBad, ref, refErr, tt.schema, tt.label, tt.maxBad, tt.ref, tt.refErr)
			}
			if (a.Err() != nil) != tt.refErr {
				t.Errorf("%s, %q: Err() = %v", tt.src, p, a.Err())
			}
			if tt.refErr && !strings.Contains(refErr.Error(), "manifest-ref needs a value") {
				t.Errorf("valueless manifest-ref: %v", refErr)
			}
		}
	}
	// Nothing asked: no git run, no entry.
	if attrs, err := r.Attributes(ctx, Source{}, nil); err != nil || len(attrs) != 0 {
		t.Errorf("Attributes(none) = %v, %v", attrs, err)
	}
}

func TestAttrsValue(t *testing.T) {
	a := Attrs{AttrSchema: "s.json", AttrFormat: "unspecified", AttrID: "unset", AttrRef: "set", AttrLabel: ""}
	for name, want := range map[string]string{AttrSchema: "s.json", AttrFormat: "", AttrID: "", AttrLabel: "", AttrMaxBad: ""} {
		if got, err := a.Value(name); got != want || err != nil {
			t.Errorf("Value(%s) = %q, %v; want %q", name, got, err, want)
		}
	}
	if _, err := a.Value(AttrRef); err == nil {
		t.Error("Value of a valueless attribute succeeded, want an error")
	}
	if _, err := parseCheckAttr([]byte("a\x00manifest-ref\x00"), map[string]Attrs{}); err == nil {
		t.Error("parseCheckAttr(truncated output) succeeded, want an error")
	}
}
