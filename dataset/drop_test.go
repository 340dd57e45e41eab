package dataset

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/datalfs/datalfs/gitrepo"
)

// TestDropAll: the records go from every manifest that holds them, other
// lines stay byte for byte, and a manifest that cannot be rewritten stops
// the run with the earlier changes reported.
func TestDropAll(t *testing.T) {
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	t.Setenv("HOME", t.TempDir())
	dir := t.TempDir()
	if out, err := exec.Command("git", "init", "-q", dir).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v\n%s", err, out)
	}
	files := map[string]string{
		"a.jsonl": `{"id":"1","ref":"s3://data/1"}` + "\n" + `{"id": "2", "ref":"s3://data/2"}` + "\n" + `{"id":"3","ref":"s3://data/3"}` + "\n",
		"b.csv":   "id,ref\n4,s3://data/4\n2x,s3://data/2x\n",
		"c.jsonl": `{"id":"9","ref":"s3://data/9"}` + "\n",
		"d.json":  `{"records":[{"id":"5","ref":"s3://data/5"}]}`,
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	g, err := gitrepo.OpenWorktree(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	repo := &Repo{Repo: g}
	cfg := Config{ID: "/id", Refs: []string{"/ref"}}
	ms := []Manifest{{Path: "a.jsonl", Config: cfg}, {Path: "b.csv", Config: cfg}, {Path: "c.jsonl", Config: cfg}}
	got, err := repo.DropAll(context.Background(), ms, []string{"2", "4", "7"})
	if err != nil {
		t.Fatal(err)
	}
	want := []Dropped{{"a.jsonl", 1}, {"b.csv", 1}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DropAll = %+v, want %+v", got, want)
	}
	for name, want := range map[string]string{
		"a.jsonl": `{"id":"1","ref":"s3://data/1"}` + "\n" + `{"id":"3","ref":"s3://data/3"}` + "\n",
		"b.csv":   "id,ref\n2x,s3://data/2x\n",
		"c.jsonl": files["c.jsonl"],
	} {
		if b, _ := os.ReadFile(filepath.Join(dir, name)); string(b) != want {
			t.Errorf("%s after DropAll = %q, want %q", name, b, want)
		}
	}

	// A JSON document is refused; the manifest changed before it is reported.
	ms = []Manifest{{Path: "a.jsonl", Config: cfg}, {Path: "d.json", Config: Config{Format: "json", Records: "/records", ID: "/id", Refs: []string{"/ref"}}}}
	got, err = repo.DropAll(context.Background(), ms, []string{"1", "5"})
	if err == nil || !strings.Contains(err.Error(), "remove the records by hand") {
		t.Fatalf("DropAll over a JSON document: error %v, want the by-hand refusal", err)
	}
	if want := []Dropped{{"a.jsonl", 1}}; !reflect.DeepEqual(got, want) {
		t.Errorf("DropAll before the refusal = %+v, want %+v", got, want)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "d.json")); string(b) != files["d.json"] {
		t.Errorf("d.json changed: %q", b)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*.datalfs-tmp"))
	tmps, _ := filepath.Glob(filepath.Join(dir, ".*.tmp-*"))
	if left = append(left, tmps...); len(left) > 0 {
		t.Errorf("temp files left: %q", left)
	}
}

// assertOnly fails unless dir holds exactly the files names.
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if !reflect.DeepEqual(got, names) {
		t.Errorf("%s holds %q, want only %q (no temporary file left)", dir, got, names)
	}
}
