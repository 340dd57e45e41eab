// Package app is the datalfs command line: every command, its flags and its
// exit codes. cmd/datalfs calls Main; the end-to-end suite runs Main
// in-process (testscript), so its coverage is that of the real commands.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"
)

// Exit codes shared by every command.
const (
	exitOK       = 0
	exitProblems = 1 // the command ran and found problems
	exitUsage    = 2 // bad usage or configuration
)

// exitError carries an exit code through urfave/cli without letting it call os.Exit.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// withCode wraps err so that run exits with code. A nil err stays nil.
func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

// silentExit makes run exit with code without printing anything more; the
// command has already told the user what happened.
func silentExit(code int) error { return &exitError{code: code} }

// Main runs datalfs with the process's arguments and standard streams and
// returns the exit code.
func Main() int { return run(os.Args, os.Stdin, os.Stdout, os.Stderr) }

// run builds the app and runs it; it returns the process exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	app := &cli.App{
		Name:           "datalfs",
		Version:        version,
		Usage:          "keep Git LFS objects and dataset manifests versioned in your own S3 bucket",
		Reader:         stdin,
		Writer:         stdout,
		ErrWriter:      stderr,
		ExitErrHandler: func(*cli.Context, error) {},
		Commands: []*cli.Command{
			transferCommand(),
			installCommand(),
			uninstallCommand(),
			envCommand(),
			manifestCommand(),
			verifyCommand(),
			doctorCommand(),
			gcCommand(),
			uploadsCommand(),
			forgetCommand(),
			runCommand(),
			whyCommand(),
			lineageCommand(),
			exportCommand(),
		},
	}
	err := app.RunContext(ctx, args)
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintf(stderr, "datalfs: %v\n", ee.err)
		}
		return ee.code
	}
	fmt.Fprintf(stderr, "datalfs: %v\n", err)
	return exitUsage
}

// version is set at build time with -ldflags "-X github.com/datalfs/datalfs/internal/app.version=...".
var version = "dev"
