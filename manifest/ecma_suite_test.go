package manifest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/datalfs/datalfs/manifest/internal/fastpath"
	"github.com/datalfs/datalfs/manifest/internal/jsonparse"
)

// TestECMARegexSuite runs the suite's optional ECMA-262 regular expression
// tests (draft 2020-12) through the library path and the fast path: every
// instance must get the suite's verdict, and the fast path may only call
// valid what the suite does.
func TestECMARegexSuite(t *testing.T) {
	root := suiteDir(t)
	dir := filepath.Join(root, "tests", "draft2020-12", "optional")
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("JSON-Schema-Test-Suite not found at %q; CI must provide it", root)
		}
		t.Skipf("JSON-Schema-Test-Suite not found at %q (set JSON_SCHEMA_TEST_SUITE)", root)
	}
	passed := 0
	for _, name := range []string{"ecmascript-regex.json", "non-bmp-regex.json"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonparse.Parse(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, g := range doc.([]any) {
			g := g.(map[string]any)
			text, _ := json.Marshal(g["schema"])
			sch, err := CompileSchema("s.json", func(string) ([]byte, error) { return text, nil })
			if err != nil {
				t.Errorf("%s / %s: compile: %v", name, g["description"], err)
				continue
			}
			var fv *fastpath.Checker
			if sch.fast != nil {
				fv = sch.fast.NewChecker(nil)
			}
			for _, tc := range g["tests"].([]any) {
				tc := tc.(map[string]any)
				want := tc["valid"].(bool)
				if got := len(sch.validate(1, tc["data"])) == 0; got != want {
					t.Errorf("%s / %s / %s: valid = %v, want %v", name, g["description"], tc["description"], got, want)
					continue
				}
				if fv != nil {
					inst, _ := json.Marshal(tc["data"])
					if fv.CertainlyValid(inst) && !want {
						t.Errorf("%s / %s / %s: the fast path says valid", name, g["description"], tc["description"])
						continue
					}
				}
				passed++
			}
		}
	}
	t.Logf("%d instances agree with the suite", passed)
}
