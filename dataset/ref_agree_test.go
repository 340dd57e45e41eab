package dataset

import (
	"context"
	"strings"
	"testing"

	"github.com/datalfs/datalfs/manifest"
)

// TestValidateAndDatasetAgreeOnRefs: `manifest validate` and the dataset
// commands (verify, fetch, forget) read a reference field by the same rules,
// so a manifest that validates cleanly never fails in `manifest verify` for a
// malformed reference, and the other way round. These are the references on
// which they once disagreed (s3ref holds the one parser now).
func TestValidateAndDatasetAgreeOnRefs(t *testing.T) {
	sch, err := manifest.CompileSchema("s.json", func(string) ([]byte, error) { return []byte(`{"type":"object"}`), nil })
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{
		"s3://bkt/k",
		"s3://bkt/k?versionId=a%2Fb%3D%3D",
		"s3://bkt/k?versionId=a=b", // refused by validate alone, before
		"s3://bkt/k?versionId=%zz", // refused by the dataset commands alone, before
		"s3://b/k",                 // bucket name too short: refused by validate alone, before
		"s3://Bkt/k",               // upper case: refused by validate alone, before
		"s3://bkt/k?versionId=a+b", // '+' read as a space by the dataset commands, before
		"s3://bkt/a\nb",
	} {
		line := `{"source-ref":` + strings.ReplaceAll(jsonString(ref), "\n", `\n`) + "}\n"
		rep, err := manifest.Validate(context.Background(), strings.NewReader(line), "m.jsonl", sch,
			manifest.Config{Refs: []string{"/source-ref"}}, manifest.Options{})
		if err != nil {
			t.Fatalf("%q: validate: %v", ref, err)
		}
		readErr := ReadRecords(strings.NewReader(line), "m.jsonl", Config{Refs: []string{"/source-ref"}}, func(*Record) error { return nil })
		if rep.OK() != (readErr == nil) {
			t.Errorf("%q: validate ok=%v, dataset read error %v: they disagree", ref, rep.OK(), readErr)
		}
	}
}

func jsonString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
