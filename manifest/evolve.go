package manifest

import (
	"context"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/datalfs/datalfs/gitrepo"
)

// compiled is one schema as compiled for a run, with the files it reads.
type compiled struct {
	sch *Schema
	err error
	// files are the files read (or tried) to compile it, relative to the
	// repository top with slashes: its closure under $ref. Files outside
	// the repository are left out.
	files []string
}

// schemaCache compiles each schema of a run once, reading schema files from
// disk or, when staged, from the index.
type schemaCache struct {
	ctx    context.Context
	repo   *gitrepo.Repo
	dir    string
	staged bool
	byPath map[string]*compiled
}

func newSchemaCache(ctx context.Context, repo *gitrepo.Repo, dir string, staged bool) *schemaCache {
	return &schemaCache{ctx: ctx, repo: repo, dir: dir, staged: staged, byPath: map[string]*compiled{}}
}

// get returns the schema at the absolute path abs, compiling it on first use.
func (c *schemaCache) get(abs string) *compiled {
	if got, ok := c.byPath[abs]; ok {
		return got
	}
	got := &compiled{}
	read := func(p string) ([]byte, error) {
		rel := c.repoPath(p)
		if rel != "" {
			got.files = append(got.files, rel)
		}
		if c.staged && rel != "" {
			if data, err := c.repo.ReadFile(c.ctx, gitrepo.Source{Staged: true}, rel); err == nil {
				return data, nil
			}
		}
		return os.ReadFile(p)
	}
	name := func(p string) string { return displaySchema(c.repo, c.dir, p) }
	got.sch, got.err = compileSchema(abs, name, read)
	c.byPath[abs] = got
	return got
}

// repoPath returns p relative to the repository top with slashes, or "" when
// p is outside it (or there is no repository).
func (c *schemaCache) repoPath(p string) string {
	if c.repo == nil {
		return ""
	}
	rel, err := filepath.Rel(c.repo.Top, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return ""
	}
	return filepath.ToSlash(rel)
}

// affectedTargets finds the manifests a staged change outside them can
// break: every manifest in the index, not itself among targets, whose
// manifest-* attributes differ between HEAD and the index, or whose schema
// (or a file that schema reaches through $ref) is changed in the index. Each
// comes with the reason it is checked. A commit that changes only manifests
// costs one git diff.
func affectedTargets(ctx context.Context, repo *gitrepo.Repo, dir string, req Request, targets []target, schemas *schemaCache) ([]target, error) {
	changed, err := repo.ChangedPaths(ctx)
	if err != nil || len(changed) == 0 {
		return nil, err
	}
	have := make(map[string]bool, len(targets))
	for _, t := range targets {
		if t.rel != "" {
			have[t.rel] = true
		}
	}
	isChanged := make(map[string]bool, len(changed))
	var attrFiles []string
	onlyManifests := true
	for _, p := range changed {
		isChanged[p] = true
		if path.Base(p) == ".gitattributes" {
			attrFiles = append(attrFiles, p)
		}
		if !have[p] {
			onlyManifests = false
		}
	}
	if onlyManifests {
		return nil, nil
	}

	all, err := repo.Files(ctx, gitrepo.Source{})
	if err != nil {
		return nil, err
	}
	var rest []string
	for _, p := range all {
		if !have[p] {
			rest = append(rest, p)
		}
	}
	idx, err := repo.Attributes(ctx, gitrepo.Source{Staged: true}, rest)
	if err != nil {
		return nil, err
	}
	var head map[string]gitrepo.Attrs
	hasHead := false
	if len(attrFiles) > 0 && repo.HasHead(ctx) {
		// The attributes as HEAD's .gitattributes files give them.
		hasHead = true
		if head, err = repo.Attributes(ctx, gitrepo.Source{Rev: "HEAD"}, rest); err != nil {
			return nil, err
		}
	}

	var out []target
	for _, p := range rest {
		if !mappedAttrs(idx[p]) {
			continue // not a manifest as committed; HEAD's mapping no longer applies
		}
		t := newTarget(repo, dir, p)
		if !configure(&t, idx[p], repo, dir, req, true) {
			continue
		}
		switch {
		case hasHead && !sameAttrs(head[p], idx[p]):
			t.reason = "its manifest-* attributes changed in " + strings.Join(attrFiles, ", ")
		case t.err == nil:
			c := schemas.get(t.cfg.Schema)
			var hit []string
			for _, f := range c.files {
				if isChanged[f] && !contains(hit, f) {
					hit = append(hit, f)
				}
			}
			if len(hit) > 0 {
				t.reason = strings.Join(hit, ", ") + " changed"
			}
		}
		if t.reason != "" {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].rel < out[j].rel })
	return out, nil
}

// mappedAttrs reports whether check-attr values map a file to a schema.
func mappedAttrs(attrs gitrepo.Attrs) bool {
	v := attrs[gitrepo.AttrSchema]
	return v != "" && v != "unspecified" && v != "unset"
}

// sameAttrs reports whether two files' manifest-* attributes are the same.
func sameAttrs(a, b gitrepo.Attrs) bool {
	for _, name := range attrNames {
		if a[name] != b[name] {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
