// Package lfsscan finds the Git LFS objects that a repository's history
// refers to, by reading pointer files out of git's object database. It needs
// no LFS object locally, so it works in a fresh clone made with
// GIT_LFS_SKIP_SMUDGE=1, and it never runs git-lfs.
package lfsscan

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"

	"github.com/git-lfs/git-lfs/v3/lfs"

	"github.com/datalfs/datalfs/internal/gitcmd"
)

// maxPointerSize is git-lfs's own cutoff: a blob this large or larger is
// never read as a pointer (lfs.BlobSizeCutoff).
const maxPointerSize = lfs.BlobSizeCutoff

// Pointer is one LFS object that the scanned history refers to.
type Pointer struct {
	// Oid is the LFS object id, the hex SHA-256 of the content.
	Oid string
	// Size is the content's size in bytes as the pointer states it.
	Size int64
	// Blob is the git object id of the pointer file.
	Blob string
	// Path is a path, relative to the top of the tree, at which the pointer
	// appears; the first one git's walk met (newest commits first).
	Path string
}

// Mode chooses how much history a scan reads.
type Mode int

const (
	// History scans every commit reachable from the revisions.
	History Mode = iota
	// Tips scans only the trees of the named commits, not their ancestors.
	Tips
)

// Revisions for the common selections, as rev-list arguments.
var (
	// Current is the checked-out commit.
	Current = []string{"HEAD"}
	// Published is every branch, tag and remote-tracking branch: what
	// others can fetch or have fetched.
	Published = []string{"--branches", "--tags", "--remotes"}
	// Everything is every ref git knows (stash and notes included) and HEAD,
	// even when detached: the widest notion of "still referenced".
	Everything = []string{"--all", "HEAD"}
	// Unpublished is what Everything reaches beyond Published and HEAD: the
	// stash, notes and other refs outside refs/heads, refs/tags and
	// refs/remotes.
	Unpublished = []string{"--all", "--not", "--branches", "--tags", "--remotes", "HEAD"}
)

// Options say which repository and which part of its history to scan.
type Options struct {
	// Dir is a directory inside the repository; empty means the current
	// directory.
	Dir string
	// Revs are git rev-list arguments: ref names, commit ids, ranges such as
	// main..topic, or the selections above. Arguments starting with "-" other
	// than those of the selections are refused.
	Revs []string
	// Mode is History or Tips.
	Mode Mode
	// Progress, when set, is called from the scanning goroutine with the
	// count of git objects examined so far, about every 4096 objects.
	Progress func(objects int)
}

// Scan returns every LFS object referenced by the selected history, one
// entry per oid, in the order git's walk met them. A repository without
// commits yields no pointers and no error.
func Scan(ctx context.Context, o Options) ([]Pointer, error) {
	if err := checkRevs(o.Revs); err != nil {
		return nil, err
	}
	if len(o.Revs) == 0 {
		return nil, errors.New("lfsscan: no revisions to scan")
	}
	revs, err := dropUnborn(ctx, o.Dir, o.Revs)
	if err != nil {
		return nil, err
	}
	if len(revs) == 0 {
		return nil, nil
	}
	args := []string{"rev-list", "--objects"}
	if o.Mode == Tips {
		args = append(args, "--no-walk")
	}
	args = append(args, revs...)
	args = append(args, "--")
	return scan(ctx, o.Dir, args, o.Progress)
}

// selections are the only option-like arguments Revs may carry.
var selections = map[string]bool{"--branches": true, "--tags": true, "--remotes": true, "--all": true, "--not": true}

func checkRevs(revs []string) error {
	for _, r := range revs {
		if strings.HasPrefix(r, "-") && !selections[r] {
			return fmt.Errorf("%q is not a revision: name a branch, tag, commit or range such as main..topic", r)
		}
		if r == "" {
			return errors.New("an empty revision: name a branch, tag, commit or range")
		}
	}
	return nil
}

// dropUnborn removes HEAD from revs when it names no commit yet (a new
// repository), so that scanning it is not an error.
func dropUnborn(ctx context.Context, dir string, revs []string) ([]string, error) {
	var out []string
	for _, r := range revs {
		if r == "HEAD" {
			if _, err := (gitcmd.Cmd{Dir: dir}).Output(ctx, "rev-parse", "--verify", "--quiet", "HEAD^{commit}"); err != nil {
				if _, err := (gitcmd.Cmd{Dir: dir}).Output(ctx, "rev-parse", "--git-dir"); err != nil {
					return nil, err
				}
				continue // unborn branch: nothing committed yet
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// scan runs rev-list | cat-file --batch-check, and sends the small blobs to
// cat-file --batch, whose output a second goroutine decodes as pointers.
func scan(ctx context.Context, dir string, revListArgs []string, progress func(int)) ([]Pointer, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("create pipe: %w", err)
	}
	revList := gitcmd.Cmd{Dir: dir}.Command(ctx, revListArgs...)
	revList.Stdout = pw
	var revListErr bytes.Buffer
	revList.Stderr = &revListErr

	check := gitcmd.Cmd{Dir: dir}.Command(ctx, "cat-file", "--buffer", "--batch-check=%(objectname) %(objecttype) %(objectsize) %(rest)")
	check.Stdin = pr
	checkOut, err := check.StdoutPipe()
	if err != nil {
		pr.Close()
		pw.Close()
		return nil, err
	}
	var checkErr bytes.Buffer
	check.Stderr = &checkErr

	batch := gitcmd.Cmd{Dir: dir}.Command(ctx, "cat-file", "--buffer", "--batch")
	batchIn, err := batch.StdinPipe()
	if err != nil {
		pr.Close()
		pw.Close()
		return nil, err
	}
	batchOut, err := batch.StdoutPipe()
	if err != nil {
		pr.Close()
		pw.Close()
		return nil, err
	}
	var batchErr bytes.Buffer
	batch.Stderr = &batchErr

	startErr := revList.Start()
	if startErr == nil {
		startErr = check.Start()
	}
	if startErr == nil {
		startErr = batch.Start()
	}
	// The children hold their own ends of the pipe now.
	pr.Close()
	pw.Close()
	if startErr != nil {
		cancel()
		waitAll(revList, check, batch)
		return nil, fmt.Errorf("run git: %w", startErr)
	}

	cands := make(chan candidate, 256)
	var (
		wg        sync.WaitGroup
		readErr   error
		pointers  []Pointer
		decodeErr error
	)
	// Reader of cat-file --batch: its output arrives in request order.
	order := make(chan candidate, 4096)
	wg.Add(1)
	go func() {
		defer wg.Done()
		pointers, decodeErr = readBatch(bufio.NewReaderSize(batchOut, 64<<10), order)
		if decodeErr != nil {
			cancel()
			for range order { // let the writer finish
			}
		}
		io.Copy(io.Discard, batchOut)
	}()
	// Writer to cat-file --batch.
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(order)
		w := bufio.NewWriter(batchIn)
		for c := range cands {
			order <- c
			if _, err := w.WriteString(c.blob + "\n"); err != nil {
				break
			}
		}
		w.Flush()
		batchIn.Close()
		for range cands { // drain after a write error
		}
	}()

	readErr = readCheck(bufio.NewReaderSize(checkOut, 64<<10), progress, func(blob, path string) {
		cands <- candidate{blob, path}
	})
	close(cands)
	if readErr != nil {
		cancel()
	}
	wg.Wait()

	errRevList := revList.Wait()
	errCheck := check.Wait()
	errBatch := batch.Wait()
	if ctxErr := ctx.Err(); ctxErr != nil && readErr == nil && decodeErr == nil {
		return nil, ctxErr
	}
	switch {
	case readErr != nil:
		return nil, fmt.Errorf("read git cat-file --batch-check: %w", readErr)
	case decodeErr != nil:
		return nil, fmt.Errorf("read git cat-file --batch: %w", decodeErr)
	case errRevList != nil:
		return nil, gitcmd.Fail(strings.Join(revListArgs, " "), errRevList, &revListErr)
	case errCheck != nil:
		return nil, gitcmd.Fail("cat-file --batch-check", errCheck, &checkErr)
	case errBatch != nil:
		return nil, gitcmd.Fail("cat-file --batch", errBatch, &batchErr)
	}
	return pointers, nil
}

// candidate is a blob small enough to be a pointer, and where it was seen.
type candidate struct{ blob, path string }

// readCheck parses "OID TYPE SIZE PATH" lines and calls keep for every blob
// small enough to be a pointer.
func readCheck(r *bufio.Reader, progress func(int), keep func(blob, path string)) error {
	n := 0
	for {
		line, err := r.ReadString('\n')
		if len(line) > 0 {
			n++
			if progress != nil && n%4096 == 0 {
				progress(n)
			}
			line = strings.TrimSuffix(line, "\n")
			oid, rest, _ := strings.Cut(line, " ")
			typ, rest, _ := strings.Cut(rest, " ")
			sizeStr, path, _ := strings.Cut(rest, " ")
			if typ == "missing" || sizeStr == "missing" {
				return fmt.Errorf("git object %s is missing from the repository: run `git fsck`", oid)
			}
			if typ == "blob" {
				size, perr := strconv.ParseInt(sizeStr, 10, 64)
				if perr != nil {
					return fmt.Errorf("unexpected line %q", line)
				}
				if size > 0 && size < maxPointerSize {
					keep(oid, path)
				}
			}
		}
		if errors.Is(err, io.EOF) {
			if progress != nil {
				progress(n)
			}
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// readBatch reads cat-file --batch replies, one per candidate in order, and
// returns the distinct pointers among them.
func readBatch(r *bufio.Reader, order <-chan candidate) ([]Pointer, error) {
	var out []Pointer
	seen := make(map[string]bool)
	for c := range order {
		header, err := r.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("reply for %s: %w", c.blob, err)
		}
		fields := strings.Fields(header)
		if len(fields) != 3 || fields[0] != c.blob {
			return nil, fmt.Errorf("unexpected reply %q for %s", strings.TrimSpace(header), c.blob)
		}
		size, err := strconv.Atoi(fields[2])
		if err != nil || size < 0 || size >= maxPointerSize {
			return nil, fmt.Errorf("unexpected reply %q for %s", strings.TrimSpace(header), c.blob)
		}
		buf := make([]byte, size+1) // content and its trailing newline
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, fmt.Errorf("content of %s: %w", c.blob, err)
		}
		p, ok := Decode(buf[:size])
		if !ok || seen[p.Oid] {
			continue
		}
		seen[p.Oid] = true
		p.Blob, p.Path = c.blob, c.path
		out = append(out, p)
	}
	return out, nil
}

// Decode reads b as an LFS pointer file the way git-lfs does. It reports
// false for anything else, and for pointers to empty content, which git-lfs
// never stores.
func Decode(b []byte) (Pointer, bool) {
	p, err := lfs.DecodePointer(bytes.NewReader(b))
	if err != nil || p == nil || p.Oid == "" || p.Size <= 0 {
		return Pointer{}, false
	}
	return Pointer{Oid: p.Oid, Size: p.Size}, true
}

func waitAll(cmds ...*exec.Cmd) {
	for _, c := range cmds {
		if c.Process != nil {
			c.Wait()
		}
	}
}
