// Package export writes the files of one commit into a directory, for
// training jobs and CI: LFS files come straight from the bucket, hashed as
// they stream and written once (never into the LFS store, never read
// back), the other files from git's object database. It reads the tree
// with git, so it works in a clone without a checkout and in a bare clone.
// Every file is written to a temp file inside the output directory,
// verified and renamed into place; a file already there with the right
// content is left alone, so a second run resumes the first.
package export

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/datalfs/datalfs/gitrepo"
)

// Defaults for the zero values of Options.
const (
	DefaultJobs       = 16
	DefaultRangeAbove = 1 << 30
	DefaultChunkSize  = 8 << 20
	DefaultPerObject  = 8
	DefaultBuffers    = 16
)

// Options say what to export and where.
type Options struct {
	// Repo is a directory inside the repository (or the bare repository);
	// empty means the current directory.
	Repo string
	// Rev names the commit to export; empty means HEAD.
	Rev string
	// Out is the output directory, created if missing.
	Out string
	// Paths limit the export to these files or directories (relative to
	// the top of the tree, as git ls-tree takes them); none means all.
	Paths []string
	// Include and Exclude are git-lfs fetch filter patterns
	// (lfs.fetchinclude syntax); a file is exported when it matches an
	// include pattern (or there is none) and no exclude pattern.
	Include, Exclude []string
	// Shard keeps only one part of the files; the zero value keeps all.
	Shard Shard
	// Jobs is the number of files fetched at once.
	Jobs int
	// RangeAbove is the size above which an object is fetched as parallel
	// ranged GETs; up to it, an object is one GET streamed to disk, which
	// on a fast link is quicker (see docs/transfers.md).
	RangeAbove int64
	// ChunkSize is the size of one ranged GET. The store must fetch a range
	// as one stream, in order (s3store: Concurrency 1).
	ChunkSize int64
	// PerObject is the number of ranged GETs in flight for one object.
	PerObject int
	// Buffers bounds the chunk buffers in memory across all objects.
	Buffers int
	// Progress, when set, receives a one-line display refreshed in place
	// (for a terminal).
	Progress io.Writer
}

// Opener returns the store the LFS objects of commit come from. Run calls it once, when
// the first LFS object is to be downloaded, so a commit without LFS files
// needs no bucket.
type Opener func(ctx context.Context, commit string) (Store, error)

// Result is what an export did.
type Result struct {
	// Commit is the exported commit's id.
	Commit string
	// Files is the number of files selected.
	Files int
	// Written is the number of files written; Skipped those already there
	// with the right content.
	Written, Skipped int
	// Bytes is the number of bytes written.
	Bytes int64
	// Problems are the files that could not be exported, each error naming
	// its path. Any problem makes the export incomplete.
	Problems []error
}

// ErrUsage marks an error in what the caller asked for (a revision that
// does not exist, a bad shard, no LFS URL), as opposed to a failure while
// exporting.
var ErrUsage = errors.New("usage error")

type usageError struct{ msg string }

func (e *usageError) Error() string        { return e.msg }
func (e *usageError) Is(target error) bool { return target == ErrUsage }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// Run exports the files of o.Rev into o.Out. The error is fatal (nothing
// or not everything could be tried); problems with single files are in the
// result.
func Run(ctx context.Context, open Opener, o Options) (*Result, error) {
	o = withDefaults(o)
	repo, commit, err := openCommit(ctx, o.Repo, o.Rev)
	if err != nil {
		return nil, err
	}
	all, err := listTree(ctx, repo, commit, o.Paths)
	if err != nil {
		return nil, err
	}
	sel := newSelector(o.Include, o.Exclude, o.Shard)
	var files []entry
	for _, e := range all {
		if sel.selects(e.path) {
			files = append(files, e)
		}
	}
	out, err := openOutDir(o.Out)
	if err != nil {
		return nil, err
	}
	x := &run{opts: o, repo: repo, out: out, open: open, res: &Result{Commit: commit, Files: len(files)}}
	x.meter = newMeter(o.Progress, len(files))
	err = x.files(ctx, files)
	x.meter.stop()
	if x.fatal != nil {
		err = x.fatal
	}
	if cerr := out.close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = ctx.Err()
	}
	sort.Slice(x.res.Problems, func(i, j int) bool { return x.res.Problems[i].Error() < x.res.Problems[j].Error() })
	return x.res, err
}

func withDefaults(o Options) Options {
	if o.Rev == "" {
		o.Rev = "HEAD"
	}
	if o.Jobs <= 0 {
		o.Jobs = DefaultJobs
	}
	if o.RangeAbove <= 0 {
		o.RangeAbove = DefaultRangeAbove
	}
	if o.ChunkSize <= 0 {
		o.ChunkSize = DefaultChunkSize
	}
	if o.PerObject <= 0 {
		o.PerObject = DefaultPerObject
	}
	if o.Buffers <= 0 {
		o.Buffers = DefaultBuffers
	}
	return o
}

// run is one export in progress.
type run struct {
	opts  Options
	repo  *gitrepo.Repo
	out   *outDir
	meter *meter

	open     Opener
	openOnce sync.Once
	fetcher  *fetcher
	openErr  error
	cancel   context.CancelFunc
	fatal    error // set once, before cancel
	mu       sync.Mutex
	res      *Result
}

// lfsFile is a file of the commit whose content is an LFS object.
type lfsFile struct {
	entry
	oid  string
	size int64
}

// files exports files: one goroutine asks git for blobs, one reads them,
// writing git's files itself and handing LFS files to Jobs workers.
func (x *run) files(ctx context.Context, files []entry) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	x.cancel = cancel
	blobs, err := x.repo.Blobs(ctx)
	if err != nil {
		return err
	}
	order := make(chan entry, 4096) // far more replies than git cat-file buffers, so it never holds one back
	lfsFiles := make(chan lfsFile, x.opts.Jobs)
	var wg sync.WaitGroup
	for range x.opts.Jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range lfsFiles {
				x.lfs(ctx, f)
			}
		}()
	}
	var askErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		askErr = x.ask(ctx, blobs, files, order)
	}()
	readErr := x.read(ctx, blobs, order, lfsFiles)
	if readErr != nil {
		cancel()
		for range order { // let the asking side finish
		}
	}
	close(lfsFiles)
	wg.Wait()
	closeErr := blobs.Close()
	switch {
	case readErr != nil:
		return readErr
	case askErr != nil && ctx.Err() == nil:
		return askErr
	case closeErr != nil && ctx.Err() == nil:
		return fmt.Errorf("git cat-file: %w", closeErr)
	}
	return nil
}

// stop ends the export for a reason that no file can get past (the store
// cannot be opened).
func (x *run) stop(err error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.fatal == nil {
		x.fatal = err
		x.cancel()
	}
}

// problem records a file that could not be exported.
func (x *run) problem(path string, err error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.res.Problems = append(x.res.Problems, fmt.Errorf("%s: %w", path, err))
	x.meter.fileDone()
}

func (x *run) written(n int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.res.Written++
	x.res.Bytes += n
	x.meter.fileDone()
}

func (x *run) skipped() {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.res.Skipped++
	x.meter.fileDone()
}
