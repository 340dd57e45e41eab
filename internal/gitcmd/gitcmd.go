// Package gitcmd runs git and turns its failures into errors that carry
// git's own message, the one place every package runs git from.
package gitcmd

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
)

// Cmd describes how to run git: in which directory, with which extra
// environment and standard input. The zero Cmd runs git in the current
// directory with the process's environment and no input.
type Cmd struct {
	Dir   string
	Env   []string // added to the process's environment
	Stdin []byte
}

// Command returns git with args, set up as c says, for callers that wire
// its pipes themselves (a pipeline of git processes). Turn its failure into
// an error with Fail.
func (c Cmd) Command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = c.Dir
	if c.Env != nil {
		cmd.Env = append(os.Environ(), c.Env...)
	}
	if c.Stdin != nil {
		cmd.Stdin = bytes.NewReader(c.Stdin)
	}
	return cmd
}

// Error is a failed git command: Error reads "git SUBCOMMAND: what git
// printed on stderr", and Unwrap gives the process's error (an
// *exec.ExitError when git ran and failed).
type Error struct {
	Sub    string // the subcommand and whatever of the arguments the caller named
	Stderr string
	Err    error
}

func (e *Error) Error() string {
	msg := e.Stderr
	if msg == "" {
		msg = e.Err.Error()
	}
	return fmt.Sprintf("git %s: %s", e.Sub, msg)
}

// Unwrap returns the process's error.
func (e *Error) Unwrap() error { return e.Err }

// Fail returns the *Error for git named sub (its subcommand, or the
// subcommand and arguments) that failed with err after printing stderr.
func Fail(sub string, err error, stderr *bytes.Buffer) error {
	return &Error{Sub: sub, Stderr: strings.TrimSpace(stderr.String()), Err: err}
}

// Output runs git with args and returns its standard output. When git fails
// the error is an *Error: "git SUBCOMMAND: what git printed on stderr".
func (c Cmd) Output(ctx context.Context, args ...string) ([]byte, error) {
	cmd := c.Command(ctx, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		sub := ""
		if len(args) > 0 {
			sub = args[0]
		}
		return out, Fail(sub, err, &stderr)
	}
	return out, nil
}

// Run runs git with args in dir and returns its standard output without
// surrounding white space.
func Run(ctx context.Context, dir string, args ...string) (string, error) {
	out, err := Cmd{Dir: dir}.Output(ctx, args...)
	return strings.TrimSpace(string(out)), err
}

// SplitNUL splits NUL-separated output (git's -z) into its non-empty fields.
func SplitNUL(out []byte) []string {
	var list []string
	for _, f := range bytes.Split(out, []byte{0}) {
		if len(f) > 0 {
			list = append(list, string(f))
		}
	}
	return list
}

// Stream runs git with args and streams its standard output, for contents
// too large to hold (a blob). Close drains what is left, waits for git and
// reports its failure as "git SUBCOMMAND: what git printed on stderr".
func (c Cmd) Stream(ctx context.Context, args ...string) (io.ReadCloser, error) {
	cmd := c.Command(ctx, args...)
	stderr := &bytes.Buffer{}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run git: %w", err)
	}
	return &stream{ReadCloser: out, cmd: cmd, stderr: stderr, sub: args[0]}, nil
}

type stream struct {
	io.ReadCloser
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	sub    string
}

func (s *stream) Close() error {
	_, _ = io.Copy(io.Discard, s.ReadCloser)
	if err := s.cmd.Wait(); err != nil {
		return Fail(s.sub, err, s.stderr)
	}
	return nil
}
