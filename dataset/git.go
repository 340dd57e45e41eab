package dataset

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/datalfs/datalfs/gitrepo"
)

// Repo is the Git repository the manifests live in, and how to fetch the
// Git LFS objects of manifests kept with LFS.
type Repo struct {
	*gitrepo.Repo
	// FetchLFS downloads a Git LFS object that is not in the local store
	// (a manifest kept with LFS). Nil: such a manifest is an error.
	FetchLFS func(ctx context.Context, oid string, size int64, w io.WriterAt) error
}

// Manifest is one manifest file at a revision.
type Manifest struct {
	Path   string // relative to the top of the working tree, with '/'
	Rev    string // commit id; "" for the working tree
	Config Config
}

// Manifests lists the manifests at commit rev ("" for the working tree):
// files is the list given on the command line (relative to Top), or when
// empty every tracked file with a manifest-ref or manifest-schema
// attribute. Attributes are read as of rev, without touching the working
// tree or the index (a temporary index holds rev's tree).
func (r *Repo) Manifests(ctx context.Context, rev string, files []string) ([]Manifest, error) {
	src := gitrepo.Source{Rev: rev}
	tracked, err := r.Files(ctx, src, files...)
	if err != nil {
		return nil, err
	}
	if len(files) > 0 {
		have := map[string]bool{}
		for _, t := range tracked {
			have[t] = true
		}
		for _, f := range files {
			if rev == "" {
				if _, err := os.Stat(r.Path(f)); err == nil {
					continue // the working tree may hold a manifest not yet added
				}
			}
			if !have[f] {
				at := "in the working tree"
				if rev != "" {
					at = "at " + rev[:min(12, len(rev))]
				}
				return nil, fmt.Errorf("%s is not a tracked file %s", f, at)
			}
		}
		tracked = files
	}
	attrs, err := r.Attributes(ctx, src, tracked)
	if err != nil {
		return nil, err
	}
	var list []Manifest
	for _, p := range tracked {
		cfg, mapped, err := configFromAttrs(attrs[p])
		if err != nil {
			return nil, fmt.Errorf("%s: bad .gitattributes: %w", p, err)
		}
		if len(files) == 0 && !mapped {
			continue
		}
		list = append(list, Manifest{Path: p, Rev: rev, Config: cfg})
	}
	return list, nil
}

// configFromAttrs reads the attributes the dataset commands use. mapped
// says whether a reference or a schema marks the file as a manifest.
func configFromAttrs(a gitrepo.Attrs) (cfg Config, mapped bool, err error) {
	val := func(name string) string {
		v, verr := a.Value(name)
		if err == nil {
			err = verr
		}
		return v
	}
	cfg = Config{Format: val(gitrepo.AttrFormat), Records: val(gitrepo.AttrRecords), ID: val(gitrepo.AttrID), Label: val(gitrepo.AttrLabel)}
	ref, schema := val(gitrepo.AttrRef), val(gitrepo.AttrSchema)
	if ref != "" {
		cfg.Refs = strings.Split(ref, ",")
	}
	return cfg, ref != "" || schema != "", err
}

// Open streams the content of m: from rev's tree, or the working tree. A
// Git LFS pointer is replaced by its object from the local LFS store,
// downloaded first (through FetchLFS) when it is not there.
func (r *Repo) Open(ctx context.Context, m Manifest) (io.ReadCloser, error) {
	var src io.ReadCloser
	var err error
	if m.Rev == "" && filepath.IsAbs(m.Path) {
		src, err = os.Open(m.Path)
	} else {
		src, err = r.Repo.Open(ctx, gitrepo.Source{Rev: m.Rev}, m.Path)
	}
	if err != nil {
		return nil, err
	}
	rc, p, err := gitrepo.ReadPointer(src)
	if err != nil || p == nil {
		return rc, err
	}
	return r.openLFS(ctx, m.Path, p.Oid, p.Size)
}

// openLFS opens a manifest's Git LFS object from the local store,
// downloading it there first (through FetchLFS) when it is missing.
func (r *Repo) openLFS(ctx context.Context, name, oid string, size int64) (io.ReadCloser, error) {
	f, err := r.OpenObject(oid, size)
	var missing *gitrepo.MissingLFSError
	if !errors.As(err, &missing) {
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return f, nil
	}
	if r.FetchLFS == nil {
		return nil, fmt.Errorf("%s is a Git LFS pointer (oid %s…) whose content is not in the local LFS store, and there is no LFS URL to fetch it from: run `git lfs pull`", name, oid[:12])
	}
	objPath := missing.Path
	if err := os.MkdirAll(filepath.Dir(objPath), 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(objPath), ".datalfs-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if err := r.FetchLFS(ctx, oid, size, tmp); err != nil {
		return nil, fmt.Errorf("%s: fetch its Git LFS object: %w", name, err)
	}
	h := sha256.New()
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	n, err := io.Copy(h, tmp)
	if err != nil {
		return nil, err
	}
	if n != size || hex.EncodeToString(h.Sum(nil)) != oid {
		return nil, fmt.Errorf("%s: the Git LFS object downloaded for oid %s… does not match it; run `datalfs verify`", name, oid[:12])
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp.Name(), objPath); err != nil {
		return nil, err
	}
	return os.Open(objPath)
}

// Each calls fn with every record of every manifest, in order.
func (r *Repo) Each(ctx context.Context, ms []Manifest, fn func(m Manifest, rec *Record) error) error {
	for _, m := range ms {
		rc, err := r.Open(ctx, m)
		if err != nil {
			return err
		}
		err = ReadRecords(rc, m.Path, m.Config, func(rec *Record) error { return fn(m, rec) })
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
