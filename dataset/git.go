package dataset

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/git-lfs/git-lfs/v3/lfs"

	"github.com/datalfs/datalfs/internal/gitcmd"
	"github.com/datalfs/datalfs/manifest"
)

// Attribute names read for dataset commands; all but manifest-label are
// those of `datalfs manifest validate`.
const (
	AttrSchema  = manifest.AttrSchema
	AttrFormat  = manifest.AttrFormat
	AttrRecords = manifest.AttrRecords
	AttrID      = manifest.AttrID
	AttrRef     = manifest.AttrRef
	AttrLabel   = "manifest-label"
)

var attrNames = []string{AttrSchema, AttrFormat, AttrRecords, AttrID, AttrRef, AttrLabel}

// Repo is the Git repository the manifests live in.
type Repo struct {
	*manifest.Repo
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

// OpenRepo finds the repository containing dir.
func OpenRepo(ctx context.Context, dir string) (*Repo, error) {
	r, err := manifest.FindRepo(ctx, dir)
	if err != nil {
		return nil, err
	}
	return &Repo{Repo: r}, nil
}

func (r *Repo) git(ctx context.Context, env []string, stdin []byte, args ...string) ([]byte, error) {
	return gitcmd.Cmd{Dir: r.Top, Env: env, Stdin: stdin}.Output(ctx, args...)
}

// Commit resolves rev to a commit id.
func (r *Repo) Commit(ctx context.Context, rev string) (string, error) {
	if strings.HasPrefix(rev, "-") {
		return "", fmt.Errorf("%q is not a revision", rev)
	}
	out, err := r.git(ctx, nil, nil, "rev-parse", "--verify", "--quiet", rev+"^{commit}")
	if err != nil {
		return "", fmt.Errorf("%q names no commit here: give a branch, tag or commit id", rev)
	}
	return strings.TrimSpace(string(out)), nil
}

// Rel turns command-line paths (relative to the working directory) into
// paths relative to the top of the working tree.
func (r *Repo) Rel(files []string) ([]string, error) {
	top, err := filepath.EvalSymlinks(r.Top)
	if err != nil {
		top = r.Top
	}
	var rel []string
	for _, f := range files {
		abs, err := filepath.Abs(f)
		if err != nil {
			return nil, err
		}
		if d, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
			abs = filepath.Join(d, filepath.Base(abs))
		}
		p, err := filepath.Rel(top, abs)
		if err != nil || !filepath.IsLocal(p) {
			return nil, fmt.Errorf("%s is outside the repository at %s", f, r.Top)
		}
		rel = append(rel, filepath.ToSlash(p))
	}
	return rel, nil
}

// Manifests lists the manifests at commit rev ("" for the working tree):
// files is the list given on the command line (relative to Top), or when
// empty every tracked file with a manifest-ref or manifest-schema
// attribute. Attributes are read as of rev, without touching the working
// tree or the index (a temporary index holds rev's tree).
func (r *Repo) Manifests(ctx context.Context, rev string, files []string) ([]Manifest, error) {
	var env []string
	cached := false
	if rev != "" {
		tmp, err := os.CreateTemp("", "datalfs-index-*")
		if err != nil {
			return nil, err
		}
		tmp.Close()
		defer os.Remove(tmp.Name())
		os.Remove(tmp.Name()) // git wants to create it
		env = []string{"GIT_INDEX_FILE=" + tmp.Name()}
		if _, err := r.git(ctx, env, nil, "read-tree", rev); err != nil {
			return nil, err
		}
		cached = true
	}
	out, err := r.git(ctx, env, nil, append([]string{"ls-files", "-z", "--full-name", "--"}, files...)...)
	if err != nil {
		return nil, err
	}
	tracked := gitcmd.SplitNUL(out)
	if len(files) > 0 {
		have := map[string]bool{}
		for _, t := range tracked {
			have[t] = true
		}
		for _, f := range files {
			if rev == "" {
				if _, err := os.Stat(filepath.Join(r.Top, filepath.FromSlash(f))); err == nil {
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
	args := []string{"check-attr", "-z", "--stdin"}
	if cached {
		args = append(args, "--cached")
	}
	var in bytes.Buffer
	for _, p := range tracked {
		in.WriteString(p)
		in.WriteByte(0)
	}
	out, err = r.git(ctx, env, in.Bytes(), append(args, attrNames...)...)
	if err != nil {
		return nil, err
	}
	attrs := map[string]map[string]string{}
	f := bytes.Split(out, []byte{0})
	for i := 0; i+2 < len(f); i += 3 {
		v := string(f[i+2])
		if v == "unspecified" || v == "unset" || v == "set" {
			continue
		}
		if attrs[string(f[i])] == nil {
			attrs[string(f[i])] = map[string]string{}
		}
		attrs[string(f[i])][string(f[i+1])] = v
	}
	var list []Manifest
	for _, p := range tracked {
		a := attrs[p]
		if len(files) == 0 && a[AttrRef] == "" && a[AttrSchema] == "" {
			continue
		}
		cfg := Config{Format: a[AttrFormat], Records: a[AttrRecords], ID: a[AttrID], Label: a[AttrLabel]}
		if a[AttrRef] != "" {
			cfg.Refs = strings.Split(a[AttrRef], ",")
		}
		list = append(list, Manifest{Path: p, Rev: rev, Config: cfg})
	}
	return list, nil
}

// Open streams the content of m: from rev's tree, or the working tree. A
// Git LFS pointer is replaced by its object from the local LFS store,
// downloaded first (through FetchLFS) when it is not there.
func (r *Repo) Open(ctx context.Context, m Manifest) (io.ReadCloser, error) {
	var src io.ReadCloser
	if m.Rev == "" {
		p := m.Path
		if !filepath.IsAbs(p) {
			p = filepath.Join(r.Top, filepath.FromSlash(p))
		}
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		src = f
	} else {
		out, err := r.git(ctx, nil, nil, "cat-file", "blob", m.Rev+":"+m.Path)
		if err != nil {
			return nil, err
		}
		src = io.NopCloser(bytes.NewReader(out))
	}
	br := bufio.NewReaderSize(src, 4096)
	head, _ := br.Peek(1024)
	if len(head) < 1024 && bytes.HasPrefix(head, []byte("version ")) {
		if p, err := lfs.DecodePointer(bytes.NewReader(head)); err == nil && p.Size > 0 {
			src.Close()
			return r.openLFS(ctx, m.Path, p.Oid, p.Size)
		}
	}
	return struct {
		io.Reader
		io.Closer
	}{br, src}, nil
}

func (r *Repo) openLFS(ctx context.Context, name, oid string, size int64) (io.ReadCloser, error) {
	objPath := r.LFSObjectPath(ctx, oid)
	f, err := os.Open(objPath)
	if err == nil {
		if st, err := f.Stat(); err == nil && st.Size() == size {
			return f, nil
		}
		f.Close()
		return nil, fmt.Errorf("%s: the Git LFS object %s in the local store has the wrong size; remove it and run `git lfs pull`", name, objPath)
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if r.FetchLFS == nil {
		return nil, fmt.Errorf("%s is a Git LFS pointer (oid %s…) whose content is not in the local LFS store, and there is no LFS URL to fetch it from: run `git lfs pull`", name, oid[:12])
	}
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
