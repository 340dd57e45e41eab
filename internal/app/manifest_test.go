package app

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestManifestValidateExitCodes(t *testing.T) {
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	t.Setenv("HOME", t.TempDir())
	dir := t.TempDir() // not a git repository
	t.Chdir(dir)
	files := map[string]string{
		"s.json":     `{"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}}`,
		"bad.json":   `{"type": "nope"}`,
		"good.jsonl": "{\"id\": 1}\n{\"id\": 2}\n",
		"bad.jsonl":  "{\"id\": 1}\n{\"id\": \"x\"}\n{\"id\": 1}\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name       string
		args       []string
		code       int
		wantStdout string
		wantStderr string
	}{
		{"clean", []string{"--schema", "s.json", "good.jsonl"}, exitOK, "good.jsonl: 2 records, no problems", ""},
		{"problems", []string{"--schema", "s.json", "bad.jsonl"}, exitProblems, "bad.jsonl:2: /id: got string, want integer", ""},
		{"unique id", []string{"--schema", "s.json", "--id", "/id", "bad.jsonl"}, exitProblems, "bad.jsonl:3: /id: duplicate id, first used on line 1", ""},
		{"allowance", []string{"--schema", "s.json", "--max-bad", "50%", "bad.jsonl"}, exitOK, "within the allowed 50% bad records", ""},
		{"no problems printed", []string{"--schema", "s.json", "--max-problems", "0", "bad.jsonl"}, exitProblems, "bad.jsonl: 1 more problem not shown", ""},
		{"bad schema", []string{"--schema", "bad.json", "good.jsonl"}, exitUsage, "", "not a valid schema"},
		{"missing file", []string{"--schema", "s.json", "none.jsonl"}, exitUsage, "", "none.jsonl: no such file"},
		{"no schema outside a repository", []string{"good.jsonl"}, exitUsage, "", "pass --schema FILE"},
		{"bad output format", []string{"--format", "yaml", "good.jsonl"}, exitUsage, "", `--format "yaml": want text or json`},
		{"bad input format", []string{"--input", "xml", "good.jsonl"}, exitUsage, "", "unknown manifest format"},
		{"bad allowance", []string{"--max-bad", "lots", "good.jsonl"}, exitUsage, "", "--max-bad: bad allowance"},
		{"negative cap", []string{"--max-problems", "-1", "good.jsonl"}, exitUsage, "", "must not be negative"},
		{"bad pointer", []string{"--schema", "s.json", "--id", "id", "good.jsonl"}, exitUsage, "", "must start with '/'"},
		{"problems and errors", []string{"--schema", "s.json", "bad.jsonl", "none.jsonl"}, exitUsage, "bad.jsonl: 3 records", "none.jsonl: no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"datalfs", "manifest", "validate"}, tt.args...)
			code := run(args, strings.NewReader(""), &stdout, &stderr)
			if code != tt.code || !strings.Contains(stdout.String(), tt.wantStdout) || !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("datalfs manifest validate %v: exit %d, stdout %q, stderr %q; want exit %d, stdout containing %q, stderr containing %q",
					tt.args, code, stdout.String(), stderr.String(), tt.code, tt.wantStdout, tt.wantStderr)
			}
		})
	}
}

func TestManifestValidateJSON(t *testing.T) {
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	t.Setenv("HOME", t.TempDir())
	dir := t.TempDir()
	t.Chdir(dir)
	os.WriteFile("s.json", []byte(`{"properties": {"id": {"type": "integer"}}}`), 0o644)
	os.WriteFile("m.jsonl", []byte("{\"id\": \"x\"}\n"), 0o644)
	var stdout, stderr bytes.Buffer
	code := run([]string{"datalfs", "manifest", "validate", "--format", "json", "--schema", "s.json", "m.jsonl", "none.jsonl"}, strings.NewReader(""), &stdout, &stderr)
	if code != exitUsage || stderr.Len() != 0 {
		t.Errorf("exit %d, stderr %q; want exit %d and nothing on stderr", code, stderr.String(), exitUsage)
	}
	var got struct {
		OK    bool `json:"ok"`
		Files []struct {
			File     string `json:"file"`
			OK       bool   `json:"ok"`
			Problems int    `json:"problems"`
			Error    string `json:"error"`
			Shown    []struct {
				Line    int    `json:"line"`
				Pointer string `json:"pointer"`
				Value   string `json:"value"`
			} `json:"shown"`
		} `json:"files"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, stdout.String())
	}
	if got.OK || len(got.Files) != 2 || got.Files[0].Problems != 1 || got.Files[0].Shown[0].Pointer != "/id" ||
		got.Files[0].Shown[0].Value != `"x"` || got.Files[1].File != "none.jsonl" || got.Files[1].Error != "no such file" {
		t.Errorf("unexpected JSON report: %+v", got)
	}
}
