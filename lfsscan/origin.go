package lfsscan

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/datalfs/datalfs/internal/gitcmd"
)

// Origin names the commit that added a pointer file to the history.
type Origin struct {
	// Commit is the full id of the oldest commit that adds the pointer blob.
	Commit string
	// Path is where that commit adds it.
	Path string
}

// Origins finds, for each pointer blob id in blobs, the oldest commit
// reachable from revs (rev-list arguments, as in Options.Revs) whose diff
// against its first parent adds or changes a file to that blob. It reads the
// whole history once, so call it for the few pointers that need naming, not
// for every pointer. Blobs that only a merge commit introduces are left out
// of the result.
func Origins(ctx context.Context, dir string, revs []string, blobs map[string]bool) (map[string]Origin, error) {
	if err := checkRevs(revs); err != nil {
		return nil, err
	}
	found := make(map[string]Origin)
	if len(blobs) == 0 {
		return found, nil
	}
	revs, err := dropUnborn(ctx, dir, revs)
	if err != nil || len(revs) == 0 {
		return found, err
	}
	args := append([]string{"-c", "core.quotePath=false", "log", "--format=commit %H", "--raw", "--no-abbrev",
		"--no-renames", "--no-color"}, revs...)
	args = append(args, "--")
	cmd := gitcmd.Cmd{Dir: dir}.Command(ctx, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run git: %w", err)
	}
	parseErr := parseLog(bufio.NewReaderSize(out, 64<<10), blobs, found)
	io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil {
		return nil, gitcmd.Fail(strings.Join(args, " "), err, &stderr)
	}
	return found, parseErr
}

// parseLog reads `git log --format="commit %H" --raw` output, newest commit
// first, and records for each wanted blob the last (so the oldest) commit
// whose raw diff line has it as the new side.
func parseLog(r *bufio.Reader, blobs map[string]bool, found map[string]Origin) error {
	var commit string
	for {
		line, err := r.ReadString('\n')
		line = strings.TrimSuffix(line, "\n")
		switch {
		case strings.HasPrefix(line, "commit "):
			commit = strings.TrimPrefix(line, "commit ")
		case strings.HasPrefix(line, ":"):
			// :OLDMODE NEWMODE OLDBLOB NEWBLOB STATUS\tPATH
			meta, path, ok := strings.Cut(line, "\t")
			fields := strings.Fields(meta)
			if ok && len(fields) >= 5 && blobs[fields[3]] {
				found[fields[3]] = Origin{Commit: commit, Path: unquote(path)}
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// unquote undoes git's C-style quoting of unusual paths.
func unquote(p string) string {
	if strings.HasPrefix(p, `"`) {
		if s, err := strconv.Unquote(p); err == nil {
			return s
		}
	}
	return p
}
