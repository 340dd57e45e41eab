package lineage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/datalfs/datalfs/gitrepo"
)

// Repo is the Git working tree that records and the files they describe
// live in.
type Repo struct {
	*gitrepo.Repo
}

// Open finds the working tree that contains dir.
func Open(ctx context.Context, dir string) (*Repo, error) {
	g, err := gitrepo.OpenWorktree(ctx, dir)
	if err != nil {
		return nil, errors.New("not in a git working tree: run this inside the repository")
	}
	return &Repo{Repo: g}, nil
}

// Digest is the SHA-256 of path in src: a Git LFS pointer's oid (no
// download), else the hash of the bytes. lfsFile says which.
func (r *Repo) Digest(ctx context.Context, src gitrepo.Source, path string) (sum string, lfsFile bool, err error) {
	rc, err := r.Open(ctx, src, path)
	if err != nil {
		return "", false, err
	}
	sum, lfsFile, err = digest(rc)
	if err != nil {
		return "", false, fmt.Errorf("%s: %w", path, err)
	}
	return sum, lfsFile, nil
}

// digest reads src to the end and closes it.
func digest(src io.ReadCloser) (string, bool, error) {
	rc, p, err := gitrepo.ReadPointer(src)
	if err != nil {
		return "", false, err
	}
	if p != nil {
		return p.Oid, true, nil
	}
	h := sha256.New()
	_, err = io.Copy(h, rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", false, err
	}
	return hex.EncodeToString(h.Sum(nil)), false, nil
}

// Load reads every record in src, sorted by name; a malformed record is an
// error.
func (r *Repo) Load(ctx context.Context, src gitrepo.Source) ([]*Step, error) {
	steps, bad, err := r.load(ctx, src)
	if err == nil && len(bad) > 0 {
		err = bad[0]
	}
	return steps, err
}

// load reads every record in src, sorted by name, and returns the malformed
// ones' errors apart.
func (r *Repo) load(ctx context.Context, src gitrepo.Source) (steps []*Step, bad []error, err error) {
	var paths []string
	switch {
	case src.Rev == "" && !src.Staged:
		ents, err := os.ReadDir(r.Path(Dir))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, nil, err
		}
		for _, e := range ents {
			if !e.IsDir() && strings.HasSuffix(e.Name(), ".json") {
				paths = append(paths, Dir+"/"+e.Name())
			}
		}
	default:
		if paths, err = r.Files(ctx, src, Dir+"/"); err != nil {
			return nil, nil, err
		}
	}
	sort.Strings(paths)
	for _, p := range paths {
		if !strings.HasSuffix(p, ".json") || strings.Contains(strings.TrimPrefix(p, Dir+"/"), "/") {
			continue
		}
		data, err := r.ReadFile(ctx, src, p)
		if err != nil {
			return nil, nil, err
		}
		if bytes.HasPrefix(data, []byte("version https://git-lfs")) {
			bad = append(bad, fmt.Errorf("%s is a Git LFS pointer: keep records out of Git LFS (add `%s/*.json !filter !diff !merge text` to .gitattributes)", p, Dir))
			continue
		}
		s, err := Parse(p, data)
		if err != nil {
			bad = append(bad, err)
			continue
		}
		steps = append(steps, s)
	}
	return steps, bad, nil
}

func short(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}
