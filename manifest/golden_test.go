package manifest

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// goldenCase validates one file of testdata/manifests; its expected output
// is testdata/golden/NAME.txt.
type goldenCase struct {
	name   string
	file   string
	schema string
	cfg    Config
	opt    Options
}

var goldenCases = []goldenCase{
	{name: "good-manifest", file: "good.manifest", schema: "sagemaker.json", cfg: Config{ID: "/source-ref", Refs: []string{"/source-ref"}}},
	{name: "bad-jsonl", file: "bad.jsonl", schema: "sagemaker.json", cfg: Config{ID: "/source-ref", Refs: []string{"/source-ref"}}, opt: Options{MaxProblems: 100}},
	{name: "bad-jsonl-capped", file: "bad.jsonl", schema: "sagemaker.json", opt: Options{MaxProblems: 3}},
	{name: "bad-jsonl-none-shown", file: "bad.jsonl", schema: "sagemaker.json", opt: Options{MaxProblems: -1}},
	{name: "bad-jsonl-within-allowance", file: "bad.jsonl", schema: "sagemaker.json", cfg: Config{MaxBad: Allowance{Percent: 90, Set: true}}, opt: Options{MaxProblems: 1}},
	{name: "bad-jsonl-over-allowance", file: "bad.jsonl", schema: "sagemaker.json", cfg: Config{MaxBad: Allowance{Count: 3, Set: true}}, opt: Options{MaxProblems: 1}},
	{name: "good-csv", file: "good.csv", schema: "table.json"},
	{name: "bad-csv", file: "bad.csv", schema: "table.json", cfg: Config{ID: "/id", Refs: []string{"/path"}}},
	{name: "dupheader-csv", file: "dupheader.csv", schema: "table.json"},
	{name: "empty-csv", file: "empty.csv", schema: "table.json"},
	{name: "good-json", file: "good.json", schema: "draft7.json", cfg: Config{Refs: []string{"/file_name"}}},
	{name: "bad-json", file: "bad.json", schema: "draft7.json", cfg: Config{Refs: []string{"/file_name"}}},
	{name: "coco-annotations", file: "coco.json", schema: "coco.json", cfg: Config{Records: "/annotations", ID: "/id"}},
	{name: "coco-records-missing", file: "coco.json", schema: "coco.json", cfg: Config{Records: "/annotation"}},
	{name: "coco-records-not-array", file: "coco.json", schema: "coco.json", cfg: Config{Records: "/info"}},
	{name: "coco-records-index", file: "coco.json", schema: "coco.json", cfg: Config{Records: "/annotations/1/bbox"}},
	{name: "truncated-json", file: "truncated.json", schema: "coco.json", cfg: Config{Records: "/annotations"}},
	{name: "object-json", file: "object.json", schema: "draft7.json"},
	{name: "scalar-json", file: "scalar.json", schema: "draft7.json"},
	{name: "lines-json", file: "lines.json", schema: "draft7.json"},
	{name: "bom-crlf-jsonl", file: "bom-crlf.jsonl", schema: "draft7.json"},
	{name: "csv-forced-jsonl", file: "good.csv", schema: "table.json", cfg: Config{Format: FormatJSONL}, opt: Options{MaxProblems: 2}},
}

// render runs one case and formats the text and JSON outputs.
func (c goldenCase) render(t *testing.T, jobs int, noFast bool) string {
	t.Helper()
	sch, err := CompileSchema(filepath.Join("testdata", "schemas", c.schema), os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join("testdata", "manifests", c.file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	opt := c.opt
	opt.Jobs = jobs
	opt.NoFastPath = noFast
	rep, err := Validate(context.Background(), f, c.file, sch, c.cfg, opt)
	if err != nil {
		return "-- error --\n" + err.Error() + "\n"
	}
	rep.Schema = c.schema
	var sb strings.Builder
	sb.WriteString("-- text --\n")
	if err := rep.WriteText(&sb); err != nil {
		t.Fatal(err)
	}
	sb.WriteString("-- json --\n")
	js, err := json.MarshalIndent(Result(rep, nil), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	sb.Write(js)
	sb.WriteString("\n")
	return sb.String()
}

func TestGolden(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			got := c.render(t, 1, false)
			path := filepath.Join("testdata", "golden", c.name+".txt")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("output for %s (-want +got):\n%s", c.file, diff)
			}
		})
	}
}

// TestParallelOrder checks that many workers and tiny batches give exactly
// the output of one worker, and that the fast path changes nothing.
func TestParallelOrder(t *testing.T) {
	saved := batchRecords
	defer func() { batchRecords = saved }()
	for _, c := range goldenCases {
		batchRecords = saved
		want := c.render(t, 1, false)
		for _, size := range []int{1, 2, 3} {
			batchRecords = size
			if got := c.render(t, 4, false); got != want {
				t.Errorf("%s with batches of %d and 4 workers (-want +got):\n%s", c.name, size, cmp.Diff(want, got))
			}
		}
		batchRecords = saved
		if got := c.render(t, 2, true); got != want {
			t.Errorf("%s without the fast path (-want +got):\n%s", c.name, cmp.Diff(want, got))
		}
	}
}

func TestSchemaErrors(t *testing.T) {
	tests := []struct {
		schema string
		want   string
	}{
		{"invalid.json", "schema testdata/schemas/invalid.json: not a valid schema"},
		{"malformed.json", "testdata/schemas/malformed.json:4:3: malformed JSON: unexpected '\"' in object, want ',' or '}'"},
		{"remote.json", "remote references are not supported (https://example.com/remote.json)"},
		{"missingref.json", "cannot load"},
		{"nosuch.json", "cannot load"},
	}
	for _, tt := range tests {
		_, err := CompileSchema(filepath.Join("testdata", "schemas", tt.schema), os.ReadFile)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("CompileSchema(%s) = %v, want an error containing %q", tt.schema, err, tt.want)
		}
	}
}

func TestValidateBadConfig(t *testing.T) {
	sch, err := CompileSchema("testdata/schemas/table.json", os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []Config{{ID: "id"}, {Refs: []string{""}}, {Records: "x"}, {Refs: []string{"/a~2"}}} {
		if _, err := Validate(context.Background(), bytes.NewReader(nil), "x.jsonl", sch, cfg, Options{}); err == nil {
			t.Errorf("Validate with %+v succeeded, want a configuration error", cfg)
		}
	}
}
