package app

import (
	"bytes"
	"strings"
	"testing"
)

func TestRunExitCodes(t *testing.T) {
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	t.Setenv("HOME", t.TempDir())
	t.Chdir(t.TempDir()) // not a git repository
	tests := []struct {
		name       string
		args       []string
		stdin      string
		code       int
		wantStderr string
	}{
		{"protocol garbage", []string{"transfer"}, "hello\n", exitProblems, "protocol error: line 1 is not a JSON object"},
		{"transfer before init", []string{"transfer"}, `{"event":"download","oid":"` + strings.Repeat("a", 64) + `","size":1}` + "\n", exitProblems, "before init"},
		{"clean end of input", []string{"transfer"}, "", exitOK, ""},
		{"install outside a repository", []string{"install"}, "", exitUsage, "not in a git repository"},
		{"global install without a URL", []string{"install", "--global"}, "", exitUsage, "--global needs --url"},
		{"global install with a bad URL", []string{"install", "--global", "--url", "s3://bucket/x"}, "", exitUsage, "want an http(s) URL"},
		{"unknown flag", []string{"install", "--nope"}, "", exitUsage, "flag provided but not defined"},
		{"build from a malformed bucket", []string{"manifest", "build", "s3://My_Bucket/train"}, "", exitUsage, `may hold only a-z`},
		{"build from a non-S3 URI", []string{"manifest", "build", "https://bkt/train"}, "", exitUsage, "not an S3 URI"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"datalfs"}, tt.args...), strings.NewReader(tt.stdin), &stdout, &stderr)
			if code != tt.code || !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("datalfs %v: exit %d, stderr %q; want exit %d, stderr containing %q",
					tt.args, code, stderr.String(), tt.code, tt.wantStderr)
			}
			if tt.args[0] == "transfer" && stdout.Len() != 0 {
				t.Errorf("transfer wrote %q to stdout on bad input; stdout is for protocol replies only", stdout.String())
			}
		})
	}
}
