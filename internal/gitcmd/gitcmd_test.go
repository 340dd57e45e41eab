package gitcmd

import (
	"context"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := Run(ctx, dir, "init", "-q"); err != nil {
		t.Fatal(err)
	}
	got, err := Run(ctx, dir, "rev-parse", "--is-inside-work-tree")
	if err != nil || got != "true" {
		t.Errorf("Run(rev-parse) = %q, %v; want \"true\", nil", got, err)
	}
	_, err = Run(ctx, dir, "rev-parse", "--verify", "no-such-ref")
	if err == nil || !strings.HasPrefix(err.Error(), "git rev-parse: ") || !strings.Contains(err.Error(), "fatal:") {
		t.Errorf("Run(bad ref) error = %v, want git's message after \"git rev-parse: \"", err)
	}
	out, err := Cmd{Dir: dir, Stdin: []byte("hello"), Env: []string{"GIT_AUTHOR_NAME=x"}}.Output(ctx, "hash-object", "--stdin")
	if err != nil || strings.TrimSpace(string(out)) != "b6fc4c620b67d95f953a5c1c1230aaab5db5a1b0" {
		t.Errorf("Output(hash-object) = %q, %v", out, err)
	}
}

func TestSplitNUL(t *testing.T) {
	got := SplitNUL([]byte("a\x00b c\x00\x00"))
	if len(got) != 2 || got[0] != "a" || got[1] != "b c" {
		t.Errorf("SplitNUL = %q, want [a \"b c\"]", got)
	}
}

// TestStream: a blob streams whole, and a failure of git shows at Close
// with git's own message.
func TestStream(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := Run(ctx, dir, "init", "-q"); err != nil {
		t.Fatal(err)
	}
	id, err := Cmd{Dir: dir, Stdin: []byte(strings.Repeat("x", 1<<20))}.Output(ctx, "hash-object", "-w", "--stdin")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := Cmd{Dir: dir}.Stream(ctx, "cat-file", "blob", strings.TrimSpace(string(id)))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(rc)
	if err != nil || len(b) != 1<<20 || rc.Close() != nil {
		t.Fatalf("streamed %d bytes, %v; want 1 MiB and a clean close", len(b), err)
	}
	rc, err = Cmd{Dir: dir}.Stream(ctx, "cat-file", "blob", "HEAD:nope")
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(rc)
	if err := rc.Close(); err == nil || !strings.HasPrefix(err.Error(), "git cat-file: ") || !strings.Contains(err.Error(), "fatal") {
		t.Errorf("Close after a failed cat-file = %v, want git's message after \"git cat-file: \"", err)
	}
}

// TestErrorUnwraps: a failed git is an *Error whose process error callers
// can still tell apart (git ran and failed, or could not start).
func TestErrorUnwraps(t *testing.T) {
	_, err := Run(context.Background(), t.TempDir(), "rev-parse", "--git-dir")
	var ge *Error
	var ee *exec.ExitError
	if !errors.As(err, &ge) || !errors.As(err, &ee) || ee.ExitCode() != 128 || ge.Sub != "rev-parse" {
		t.Errorf("Run outside a repository: %v, want an *Error wrapping git's exit status 128", err)
	}
	_, err = Run(context.Background(), "/no/such/dir", "version")
	if !errors.As(err, &ge) || errors.As(err, &ee) {
		t.Errorf("Run in a missing directory: %v, want an *Error that is no exit status", err)
	}
}
