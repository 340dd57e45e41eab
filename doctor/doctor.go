// Package doctor runs the checks behind `datalfs doctor`: each says what it
// found and, when something is wrong, what to do. Independent checks run in
// parallel, each under a deadline, so a dead endpoint is reported in seconds.
package doctor

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// Status is the outcome of one check.
type Status int

const (
	// Pass means the check found nothing wrong.
	Pass Status = iota
	// Warn means something is risky or could not be checked, but push and
	// pull work.
	Warn
	// Fail means push or pull will not work until it is fixed.
	Fail
	// Skip means the check did not run: it was not asked for, or a check it
	// needs failed.
	Skip
)

// String returns PASS, WARN, FAIL or SKIP.
func (s Status) String() string {
	switch s {
	case Pass:
		return "PASS"
	case Warn:
		return "WARN"
	case Fail:
		return "FAIL"
	case Skip:
		return "SKIP"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Result is what one check found.
type Result struct {
	// Status is the verdict.
	Status Status
	// Message says what was found, in one line, without secrets.
	Message string
	// Fix says what to do; empty when there is nothing to do.
	Fix string
}

// Check is one diagnosis.
type Check struct {
	// Name is a short label, unique among the checks of one run.
	Name string
	// Needs names checks that must finish without Fail or Skip first; when
	// one of them does not, this check is skipped.
	Needs []string
	// Run makes the check. It must honour ctx, which carries the check's
	// deadline.
	Run func(ctx context.Context) Result
}

// Report is the result of one named check.
type Report struct {
	// Name is the check's name.
	Name string
	Result
}

// grace is how long past its deadline a check may take to return before the
// runner reports it as hung.
const grace = 2 * time.Second

// Run runs checks, each as soon as the checks it needs have finished, each
// with its own deadline of timeout, and returns their reports in the order
// of checks. A Needs entry naming no check is a programming error and panics.
func Run(ctx context.Context, checks []Check, timeout time.Duration) []Report {
	index := make(map[string]int, len(checks))
	for i, c := range checks {
		index[c.Name] = i
	}
	done := make([]chan struct{}, len(checks))
	for i := range done {
		done[i] = make(chan struct{})
	}
	reports := make([]Report, len(checks))
	for i, c := range checks {
		for _, n := range c.Needs {
			if _, ok := index[n]; !ok {
				panic(fmt.Sprintf("doctor: check %q needs unknown check %q", c.Name, n))
			}
		}
		go func() {
			defer close(done[i])
			reports[i].Name = c.Name
			for _, n := range c.Needs {
				j := index[n]
				<-done[j]
				if st := reports[j].Status; st == Fail || st == Skip {
					reports[i].Result = Result{Status: Skip, Message: "not checked: needs " + n}
					return
				}
			}
			reports[i].Result = runOne(ctx, c, timeout)
		}()
	}
	for i := range done {
		<-done[i]
	}
	return reports
}

// runOne runs c under its deadline. A check that overstays it is reported
// as failed and left to finish on its own.
func runOne(ctx context.Context, c Check, timeout time.Duration) Result {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res := make(chan Result, 1)
	go func() { res <- c.Run(ctx) }()
	select {
	case r := <-res:
		return r
	case <-ctx.Done():
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case r := <-res:
		return r
	case <-t.C:
		return Result{Status: Fail, Message: fmt.Sprintf("no answer within %v", timeout),
			Fix: "check the network and that the S3 endpoint in the LFS URL is up"}
	}
}

// Print writes one line per report, "STATUS  NAME  MESSAGE", with the fix
// on an indented line below, and a closing summary line.
func Print(w io.Writer, reports []Report) {
	width := 0
	for _, r := range reports {
		width = max(width, len(r.Name))
	}
	for _, r := range reports {
		fmt.Fprintf(w, "%s  %-*s  %s\n", r.Status, width, r.Name, r.Message)
		if r.Fix != "" {
			pad := strings.Repeat(" ", len("PASS  ")+width+2)
			fmt.Fprintf(w, "%sfix: %s\n", pad, strings.ReplaceAll(r.Fix, "\n", "\n"+pad+"     "))
		}
	}
	counts := map[Status]int{}
	for _, r := range reports {
		counts[r.Status]++
	}
	warnings := fmt.Sprintf("%d warnings", counts[Warn])
	if counts[Warn] == 1 {
		warnings = "1 warning"
	}
	switch {
	case counts[Fail] > 0:
		fmt.Fprintf(w, "%d failed, %s: push or pull will not work until the failures are fixed.\n", counts[Fail], warnings)
	case counts[Warn] > 0:
		fmt.Fprintf(w, "No failures; %s.\n", warnings)
	default:
		fmt.Fprintln(w, "No failures, no warnings.")
	}
}

// Failed reports whether any check failed.
func Failed(reports []Report) bool {
	for _, r := range reports {
		if r.Status == Fail {
			return true
		}
	}
	return false
}
