package dataset

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/datalfs/datalfs/manifest"
)

// DropRecords rewrites the working-tree manifest m without the records
// whose id is in ids, and returns how many it removed. JSON Lines lines are
// kept byte for byte; CSV rows are rewritten by encoding/csv. A JSON
// document must be edited by hand.
func (r *Repo) DropRecords(ctx context.Context, m Manifest, ids map[string]bool) (int, error) {
	p := filepath.Join(r.Top, filepath.FromSlash(m.Path))
	data, err := os.ReadFile(p)
	if err != nil {
		return 0, err
	}
	format, err := manifest.ParseFormat(m.Config.Format)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", m.Path, err)
	}
	format = manifest.DetectFormat(m.Path, bufio.NewReader(bytes.NewReader(data)), format, m.Config.Records)
	var out bytes.Buffer
	dropped := 0
	switch format {
	case manifest.FormatJSONL:
		for line, rest := 1, data; len(rest) > 0; line++ {
			l := rest
			if i := bytes.IndexByte(rest, '\n'); i >= 0 {
				l, rest = rest[:i+1], rest[i+1:]
			} else {
				rest = nil
			}
			if t := bytes.TrimSpace(l); len(t) > 0 {
				if f, err := decodeObject(t); err == nil {
					if rec, err := newRecord(line, f, m.Config); err == nil && ids[rec.ID] {
						dropped++
						continue
					}
				}
			}
			out.Write(l)
		}
	case manifest.FormatCSV:
		cr := csv.NewReader(bytes.NewReader(data))
		cr.FieldsPerRecord = -1
		rows, err := cr.ReadAll()
		if err != nil {
			return 0, fmt.Errorf("%s: %w", m.Path, err)
		}
		cw := csv.NewWriter(&out)
		for i, row := range rows {
			if i > 0 {
				f := map[string]any{}
				for j, h := range rows[0] {
					if j < len(row) && row[j] != "" {
						f[h] = row[j]
					}
				}
				if rec, err := newRecord(i+1, f, m.Config); err == nil && ids[rec.ID] {
					dropped++
					continue
				}
			}
			_ = cw.Write(row)
		}
		cw.Flush()
	default:
		return 0, fmt.Errorf("%s is a JSON document: remove the records by hand (--drop rewrites only JSON Lines and CSV)", m.Path)
	}
	if dropped == 0 {
		return 0, nil
	}
	perm := fs.FileMode(0o644)
	if st, err := os.Stat(p); err == nil {
		perm = st.Mode().Perm()
	}
	if err := writeFile(p, perm, func(w io.Writer) error { _, err := w.Write(out.Bytes()); return err }); err != nil {
		return 0, err
	}
	return dropped, nil
}

// Dropped says how many records DropAll removed from one manifest.
type Dropped struct {
	Path    string // the manifest, relative to the top of the working tree
	Records int
}

// DropAll removes the records whose id is in ids from each working-tree
// manifest of ms, in order, and reports the manifests it changed. It stops
// at the first manifest it cannot rewrite (a JSON document, an unreadable
// file); the report still lists those changed before it.
func (r *Repo) DropAll(ctx context.Context, ms []Manifest, ids []string) ([]Dropped, error) {
	set := make(map[string]bool, len(ids))
	for _, id := range ids {
		set[id] = true
	}
	var done []Dropped
	for _, m := range ms {
		n, err := r.DropRecords(ctx, m, set)
		if err != nil {
			return done, err
		}
		if n > 0 {
			done = append(done, Dropped{Path: m.Path, Records: n})
		}
	}
	return done, nil
}
