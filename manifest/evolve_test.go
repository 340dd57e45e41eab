package manifest

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/datalfs/datalfs/gitrepo"
)

// evolveRepo commits two label manifests checked against schemas/label.json,
// which takes its label type from schemas/defs.json, and a table under a
// schema of its own.
func evolveRepo(t *testing.T) string {
	sealGit(t)
	dir := t.TempDir()
	gitIn(t, dir, "init", "-q", "-b", "main")
	write(t, filepath.Join(dir, ".gitattributes"), "data/*.jsonl manifest-schema=schemas/label.json\ntables/*.csv manifest-schema=schemas/table.json\n")
	write(t, filepath.Join(dir, "schemas/label.json"), `{"type": "object", "required": ["label"], "properties": {"label": {"$ref": "defs.json#/$defs/label"}}}`)
	write(t, filepath.Join(dir, "schemas/defs.json"), `{"$defs": {"label": {"type": "integer", "minimum": 0, "maximum": 9}}}`)
	write(t, filepath.Join(dir, "schemas/table.json"), `{"type": "object", "properties": {"n": {"type": "integer"}}}`)
	write(t, filepath.Join(dir, "data/a.jsonl"), "{\"label\": 1}\n{\"label\": 7}\n")
	write(t, filepath.Join(dir, "data/b.jsonl"), "{\"label\": 2}\n")
	write(t, filepath.Join(dir, "tables/t.csv"), "n\n1\n")
	gitIn(t, dir, "add", ".")
	gitIn(t, dir, "commit", "-q", "-m", "init")
	return dir
}

// TestCheckStagedSchemaChange: with --staged, a staged change to a schema,
// to a schema it reaches through $ref, or to the .gitattributes mapping
// rechecks the committed manifests it can break, as they are in the index,
// saying why; a change only in the working tree does not count.
func TestCheckStagedSchemaChange(t *testing.T) {
	tests := []struct {
		name   string
		files  map[string]string // written and staged
		wtree  map[string]string // written, not staged
		remove []string          // removed with git rm
		want   string
	}{
		{
			name:  "schema narrowed",
			files: map[string]string{"schemas/label.json": `{"type": "object", "required": ["label"], "properties": {"label": {"$ref": "defs.json#/$defs/label", "maximum": 5}}}`},
			want: "data/a.jsonl: not staged, checked because schemas/label.json changed\n" +
				"data/a.jsonl:2: /label: maximum: got 7, want 5 (value 7)\n" +
				"data/a.jsonl: 2 records, 1 problem in 1 record [schemas/label.json]\n" +
				"data/b.jsonl: not staged, checked because schemas/label.json changed\n" +
				"data/b.jsonl: 1 record, no problems [schemas/label.json]\n",
		},
		{
			name:  "referenced schema narrowed",
			files: map[string]string{"schemas/defs.json": `{"$defs": {"label": {"type": "integer", "minimum": 2}}}`},
			want: "data/a.jsonl: not staged, checked because schemas/defs.json changed\n" +
				"data/a.jsonl:1: /label: minimum: got 1, want 2 (value 1)\n" +
				"data/a.jsonl: 2 records, 1 problem in 1 record [schemas/label.json]\n" +
				"data/b.jsonl: not staged, checked because schemas/defs.json changed\n" +
				"data/b.jsonl: 1 record, no problems [schemas/label.json]\n",
		},
		{
			name:  "compatible change",
			files: map[string]string{"schemas/defs.json": `{"$defs": {"label": {"type": "integer", "minimum": 0, "maximum": 99}}}`},
			want: "data/a.jsonl: not staged, checked because schemas/defs.json changed\n" +
				"data/a.jsonl: 2 records, no problems [schemas/label.json]\n" +
				"data/b.jsonl: not staged, checked because schemas/defs.json changed\n" +
				"data/b.jsonl: 1 record, no problems [schemas/label.json]\n",
		},
		{
			name: "mapping changed",
			files: map[string]string{
				".gitattributes":      "data/*.jsonl manifest-schema=schemas/label.json\ndata/a.jsonl manifest-schema=schemas/strict.json\ntables/*.csv manifest-schema=schemas/table.json\n",
				"schemas/strict.json": `{"type": "object", "required": ["label", "source"]}`,
			},
			want: "data/a.jsonl: not staged, checked because its manifest-* attributes changed in .gitattributes\n" +
				"data/a.jsonl:1: (record): missing property 'source'\n" +
				"data/a.jsonl:2: (record): missing property 'source'\n" +
				"data/a.jsonl: 2 records, 2 problems in 2 records [schemas/strict.json]\n",
		},
		{
			name: "staged manifest and schema",
			files: map[string]string{
				"schemas/defs.json": `{"$defs": {"label": {"type": "integer", "minimum": 2}}}`,
				"data/a.jsonl":      "{\"label\": 3}\n",
			},
			want: "data/a.jsonl: 1 record, no problems [schemas/label.json]\n" +
				"data/b.jsonl: not staged, checked because schemas/defs.json changed\n" +
				"data/b.jsonl: 1 record, no problems [schemas/label.json]\n",
		},
		{
			name:   "referenced schema deleted",
			remove: []string{"schemas/defs.json"},
			want: "data/a.jsonl: not staged, checked because schemas/defs.json changed\n" +
				"error: data/a.jsonl: schema schemas/label.json: cannot load schemas/defs.json: no such file\n" +
				"data/b.jsonl: not staged, checked because schemas/defs.json changed\n" +
				"error: data/b.jsonl: schema schemas/label.json: cannot load schemas/defs.json: no such file\n",
		},
		{
			name:  "working tree only",
			wtree: map[string]string{"schemas/defs.json": `{"$defs": {"label": {"type": "string"}}}`, ".gitattributes": ""},
			want:  "",
		},
		{
			name:  "unrelated file",
			files: map[string]string{"README": "hello\n"},
			want:  "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := evolveRepo(t)
			for name, content := range tt.files {
				write(t, filepath.Join(dir, name), content)
				gitIn(t, dir, "add", name)
			}
			for _, name := range tt.remove {
				gitIn(t, dir, "rm", "-q", name)
			}
			for name, content := range tt.wtree {
				write(t, filepath.Join(dir, name), content)
			}
			got, err := summary(t, Request{Dir: dir, Staged: true})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestCheckFilesInParallel: the manifests a schema change makes Check
// recheck are validated at the same time, and reported in order. Each
// check waits until all have started, so a Check that ran them one after
// the other would never return.
func TestCheckFilesInParallel(t *testing.T) {
	dir := evolveRepo(t)
	write(t, filepath.Join(dir, "schemas/defs.json"), `{"$defs": {"label": {"type": "integer"}}}`)
	gitIn(t, dir, "add", "schemas/defs.json")

	const n = 2 // data/a.jsonl and data/b.jsonl
	defer func(p int, f func(context.Context, *gitrepo.Repo, target, *Schema, Request) (*Report, error)) {
		fileParallelism, checkFile = p, f
	}(fileParallelism, checkFile)
	fileParallelism = n
	var started sync.WaitGroup
	started.Add(n)
	checkFile = func(ctx context.Context, repo *gitrepo.Repo, tg target, sch *Schema, req Request) (*Report, error) {
		started.Done()
		started.Wait()
		return checkOne(ctx, repo, tg, sch, req)
	}
	got, err := summary(t, Request{Dir: dir, Staged: true})
	if err != nil {
		t.Fatal(err)
	}
	want := "data/a.jsonl: not staged, checked because schemas/defs.json changed\n" +
		"data/a.jsonl: 2 records, no problems [schemas/label.json]\n" +
		"data/b.jsonl: not staged, checked because schemas/defs.json changed\n" +
		"data/b.jsonl: 1 record, no problems [schemas/label.json]\n"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestCheckStagedNamedFiles: as the pre-commit framework runs it, with the
// staged files named (a schema among them, skipped as unmapped), the
// manifests the schema change affects are checked too.
func TestCheckStagedNamedFiles(t *testing.T) {
	dir := evolveRepo(t)
	write(t, filepath.Join(dir, "schemas/label.json"), `{"type": "object", "required": ["label", "source"]}`)
	gitIn(t, dir, "add", "schemas/label.json")
	got, err := summary(t, Request{Dir: dir, Staged: true, SkipUnmapped: true, Files: []string{"schemas/label.json"}})
	if err != nil {
		t.Fatal(err)
	}
	want := "data/a.jsonl: not staged, checked because schemas/label.json changed\n" +
		"data/a.jsonl:1: (record): missing property 'source'\n" +
		"data/a.jsonl:2: (record): missing property 'source'\n" +
		"data/a.jsonl: 2 records, 2 problems in 2 records [schemas/label.json]\n" +
		"data/b.jsonl: not staged, checked because schemas/label.json changed\n" +
		"data/b.jsonl:1: (record): missing property 'source'\n" +
		"data/b.jsonl: 1 record, 1 problem in 1 record [schemas/label.json]\n"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
