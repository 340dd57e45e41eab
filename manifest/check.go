package manifest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/datalfs/datalfs/gitrepo"
)

// Request says which manifests to check and how.
type Request struct {
	// Dir is the working directory; FILE arguments are relative to it.
	Dir string
	// Files are the manifests to check. Empty means every tracked file
	// mapped to a schema (or, with Staged, every staged one).
	Files []string
	// Staged checks the content in the index (what is being committed)
	// instead of the working tree, reading attributes and schemas from the
	// index as well.
	Staged bool
	// SkipUnmapped skips named files that no manifest-schema attribute maps,
	// instead of failing (for hook frameworks that pass every *.json file).
	SkipUnmapped bool
	// Override replaces the configuration read from attributes: each
	// non-empty field wins over the attribute.
	Override Config
	// Options tune the validation of each file.
	Options Options
	// Note, when set, is called just before the report of a manifest that
	// Staged checks although it is not staged, with the reason: a staged
	// change to its schema, to a schema that schema refers to, or to the
	// .gitattributes lines that map it.
	Note func(file, reason string)
}

// ConfigError is a problem with configuration or input that stops a file
// from being checked at all (a bad schema, an unreadable file). Commands
// report it with exit status 2.
type ConfigError struct {
	File string
	Err  error
}

// Error says which file could not be checked and why.
func (e *ConfigError) Error() string {
	if e.File == "" {
		return e.Err.Error()
	}
	return e.File + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *ConfigError) Unwrap() error { return e.Err }

// target is one manifest to check.
type target struct {
	display string // name shown to the user
	abs     string // absolute path in the working tree
	rel     string // path relative to the repository top, "" outside one
	cfg     Config
	err     error
	// reason says why a manifest that is not staged is checked with
	// --staged ("schemas/label.json changed"); "" for the others.
	reason string
}

// Check validates the manifests the request names, calling report for each
// file in turn (with a nil Report when err is set; err is then a
// *ConfigError). It returns an error only when nothing could be checked at
// all, such as a missing repository when one is needed.
func Check(ctx context.Context, req Request, report func(*Report, error)) error {
	dir := req.Dir
	if dir == "" {
		var err error
		if dir, err = os.Getwd(); err != nil {
			return err
		}
	}
	repo, err := gitrepo.Open(ctx, dir)
	switch {
	case errors.Is(err, gitrepo.ErrNotRepo):
		repo = nil
	case err != nil:
		return err
	case repo.Top == "":
		repo = nil // a bare repository or a git dir: no working tree to check
	}
	if repo == nil {
		switch {
		case req.Staged:
			return &ConfigError{Err: fmt.Errorf("--staged needs a Git repository: %w", errNoWorktree)}
		case len(req.Files) == 0:
			return &ConfigError{Err: fmt.Errorf("name the manifests to check, or run inside a Git repository whose .gitattributes map manifests to schemas: %w", errNoWorktree)}
		case req.Override.Schema == "":
			return &ConfigError{Err: errors.New("outside a Git repository there is no .gitattributes to map files to schemas; pass --schema FILE")}
		}
	}

	targets, err := findTargets(ctx, repo, dir, req)
	if err != nil {
		return err
	}
	schemas := newSchemaCache(ctx, repo, dir, req.Staged)
	if req.Staged {
		extra, err := affectedTargets(ctx, repo, dir, req, targets, schemas)
		if err != nil {
			return err
		}
		targets = append(targets, extra...)
	}
	return checkAll(ctx, repo, targets, schemas, req, report)
}

// checkFile validates one manifest; tests intercept it.
var checkFile = checkOne

// fileParallelism is how many manifests are validated at once; each one
// also spreads its records over Options.Jobs workers.
var fileParallelism = runtime.GOMAXPROCS(0)

// checkAll validates targets, several at a time, and reports each in the
// order of targets.
func checkAll(ctx context.Context, repo *gitrepo.Repo, targets []target, schemas *schemaCache, req Request, report func(*Report, error)) error {
	type outcome struct {
		rep *Report
		err error
	}
	// Schemas are compiled first, in order, so that each is compiled once.
	schs := make([]*Schema, len(targets))
	for i, t := range targets {
		if t.err == nil {
			c := schemas.get(t.cfg.Schema)
			schs[i], targets[i].err = c.sch, c.err
		}
	}
	var wg sync.WaitGroup
	defer wg.Wait() // after cancel: no check outlives Check
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make([]chan outcome, len(targets))
	for i := range results {
		results[i] = make(chan outcome, 1)
	}
	sem := make(chan struct{}, max(1, fileParallelism))
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i, t := range targets {
			if t.err != nil {
				results[i] <- outcome{err: t.err}
				continue
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				results[i] <- outcome{err: ctx.Err()}
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				rep, err := checkFile(ctx, repo, t, schs[i], req)
				results[i] <- outcome{rep, err}
			}()
		}
	}()
	for i, t := range targets {
		o := <-results[i]
		if o.err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
		if t.reason != "" && req.Note != nil {
			req.Note(t.display, t.reason)
		}
		if o.err != nil {
			report(nil, &ConfigError{File: t.display, Err: o.err})
			continue
		}
		report(o.rep, nil)
	}
	return nil
}

func displaySchema(repo *gitrepo.Repo, dir, schema string) string {
	if rel, err := filepath.Rel(dir, schema); err == nil && !strings.HasPrefix(rel, "..") {
		return filepath.ToSlash(rel)
	}
	if repo != nil {
		if rel, err := filepath.Rel(repo.Top, schema); err == nil && !strings.HasPrefix(rel, "..") {
			return filepath.ToSlash(rel)
		}
	}
	return schema
}

func checkOne(ctx context.Context, repo *gitrepo.Repo, t target, sch *Schema, req Request) (*Report, error) {
	var src io.ReadCloser
	var err error
	if req.Staged {
		src, err = repo.Open(ctx, gitrepo.Source{Staged: true}, t.rel)
	} else {
		src, err = os.Open(t.abs)
	}
	if err != nil {
		switch {
		case errors.Is(err, os.ErrNotExist) && req.Staged:
			return nil, fmt.Errorf("is not in the index (git add it, or leave out --staged)")
		case errors.Is(err, os.ErrNotExist):
			return nil, fmt.Errorf("no such file")
		}
		return nil, err
	}
	src, err = resolveLFS(repo, src)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	return Validate(ctx, src, t.display, sch, t.cfg, req.Options)
}

// findTargets lists the manifests to check with their configuration.
func findTargets(ctx context.Context, repo *gitrepo.Repo, dir string, req Request) ([]target, error) {
	var targets []target
	discovered := len(req.Files) == 0
	if discovered {
		var paths []string
		var err error
		if req.Staged {
			paths, err = repo.StagedFiles(ctx)
		} else {
			paths, err = repo.Files(ctx, gitrepo.Source{})
		}
		if err != nil {
			return nil, err
		}
		for _, p := range paths {
			targets = append(targets, newTarget(repo, dir, p))
		}
	} else {
		for _, f := range req.Files {
			abs := f
			if !filepath.IsAbs(abs) {
				abs = filepath.Join(dir, f)
			}
			t := target{display: f, abs: filepath.Clean(abs)}
			if repo != nil {
				if rel, err := filepath.Rel(repo.Top, t.abs); err == nil && !strings.HasPrefix(rel, "..") {
					t.rel = filepath.ToSlash(rel)
				}
			}
			if req.Staged && t.rel == "" {
				t.err = errors.New("is outside the repository, so it has no staged content")
			}
			targets = append(targets, t)
		}
	}

	var attrs map[string]gitrepo.Attrs
	if repo != nil {
		var rels []string
		for _, t := range targets {
			if t.rel != "" {
				rels = append(rels, t.rel)
			}
		}
		var err error
		if attrs, err = repo.Attributes(ctx, gitrepo.Source{Staged: req.Staged}, rels); err != nil {
			return nil, err
		}
	}

	out := targets[:0]
	for _, t := range targets {
		if t.err != nil {
			out = append(out, t)
			continue
		}
		if configure(&t, attrs[t.rel], repo, dir, req, discovered) {
			out = append(out, t)
		}
	}
	if discovered {
		sort.SliceStable(out, func(i, j int) bool { return out[i].rel < out[j].rel })
	}
	return out, nil
}

// newTarget names the file rel (relative to the repository top) as seen
// from dir.
func newTarget(repo *gitrepo.Repo, dir, rel string) target {
	abs := filepath.Join(repo.Top, filepath.FromSlash(rel))
	disp := rel
	if r, err := filepath.Rel(dir, abs); err == nil {
		disp = filepath.ToSlash(r)
	}
	return target{display: disp, abs: abs, rel: rel}
}

// configure sets t's configuration from its attributes and the request's
// overrides. It reports false when t is to be left out: a discovered file
// that no attribute maps, or an unmapped one the request skips.
func configure(t *target, attrs gitrepo.Attrs, repo *gitrepo.Repo, dir string, req Request, discovered bool) bool {
	cfg, err := configFromAttrs(attrs)
	mapped := cfg.Schema != ""
	if mapped && repo != nil {
		cfg.Schema = filepath.Join(repo.Top, filepath.FromSlash(cfg.Schema))
	}
	cfg = merge(cfg, req.Override, dir)
	switch {
	case err != nil:
		t.err = fmt.Errorf("bad .gitattributes: %w", err)
	case discovered && !mapped:
		return false // not a manifest
	case cfg.Schema == "" && req.SkipUnmapped:
		return false
	case cfg.Schema == "":
		t.err = fmt.Errorf("no schema: map it in .gitattributes with `%s manifest-schema=schemas/NAME.json` or pass --schema", gitattrPattern(*t))
	}
	t.cfg = cfg
	if t.err == nil {
		if err := cfg.check(); err != nil {
			t.err = err
		}
	}
	return true
}

func gitattrPattern(t target) string {
	if t.rel != "" {
		return t.rel
	}
	return filepath.Base(t.abs)
}

// merge applies command-line overrides; the override's schema path is
// relative to dir.
func merge(c, o Config, dir string) Config {
	if o.Schema != "" {
		c.Schema = o.Schema
		if !filepath.IsAbs(c.Schema) {
			c.Schema = filepath.Join(dir, c.Schema)
		}
	}
	if o.Format != FormatAuto {
		c.Format = o.Format
	}
	if o.Records != "" {
		c.Records = o.Records
	}
	if o.ID != "" {
		c.ID = o.ID
	}
	if len(o.Refs) > 0 {
		c.Refs = o.Refs
	}
	if o.MaxBad.Set {
		c.MaxBad = o.MaxBad
	}
	return c
}

// errNoWorktree is why a request that needs a repository fails outside one.
var errNoWorktree = errors.New("not inside a Git working tree")

// resolveLFS returns src unchanged unless its content is a Git LFS pointer,
// in which case it opens the object from the local store instead, checked
// against the pointer's oid.
func resolveLFS(repo *gitrepo.Repo, src io.ReadCloser) (io.ReadCloser, error) {
	if repo == nil {
		return src, nil
	}
	rc, p, err := gitrepo.ReadPointer(src)
	if err != nil || p == nil {
		return rc, err
	}
	return repo.OpenObject(p.Oid, p.Size)
}
