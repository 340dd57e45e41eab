package dataset

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"sort"
)

type diffRec struct {
	h     [32]byte
	label string
	line  int
	text  string
}

// DiffResult is what changed between two versions of the manifests.
type DiffResult struct {
	Added, Removed, Changed []DiffEntry
	// Labels counts records per label before and after; absent when no
	// manifest has a manifest-label attribute.
	Labels        map[string][2]int
	Before, After int
}

// DiffEntry is one record added, removed or changed.
type DiffEntry struct {
	Manifest string
	ID       string
	Old, New string // canonical records ("" when absent)
	OldLabel string
	NewLabel string
}

// Diff compares the records of a and b (the same paths at two revisions),
// matching records by id within each manifest path.
func (r *Repo) Diff(ctx context.Context, a, b []Manifest) (DiffResult, error) {
	res := DiffResult{}
	load := func(ms []Manifest, count *int) (map[string]map[string]diffRec, error) {
		out := map[string]map[string]diffRec{}
		err := r.Each(ctx, ms, func(m Manifest, rec *Record) error {
			if out[m.Path] == nil {
				out[m.Path] = map[string]diffRec{}
			}
			c := rec.Canonical()
			out[m.Path][rec.ID] = diffRec{h: sha256.Sum256(c), label: rec.Label, line: rec.Line, text: string(c)}
			*count++
			if m.Config.Label != "" {
				if res.Labels == nil {
					res.Labels = map[string][2]int{}
				}
			}
			return nil
		})
		return out, err
	}
	before, err := load(a, &res.Before)
	if err != nil {
		return res, err
	}
	after, err := load(b, &res.After)
	if err != nil {
		return res, err
	}
	paths := map[string]bool{}
	for p := range before {
		paths[p] = true
	}
	for p := range after {
		paths[p] = true
	}
	for p := range paths {
		old, cur := before[p], after[p]
		for id, o := range old {
			if res.Labels != nil {
				c := res.Labels[o.label]
				c[0]++
				res.Labels[o.label] = c
			}
			n, ok := cur[id]
			switch {
			case !ok:
				res.Removed = append(res.Removed, DiffEntry{Manifest: p, ID: id, Old: o.text, OldLabel: o.label})
			case n.h != o.h:
				res.Changed = append(res.Changed, DiffEntry{Manifest: p, ID: id, Old: o.text, New: n.text, OldLabel: o.label, NewLabel: n.label})
			}
		}
		for id, n := range cur {
			if res.Labels != nil {
				c := res.Labels[n.label]
				c[1]++
				res.Labels[n.label] = c
			}
			if _, ok := old[id]; !ok {
				res.Added = append(res.Added, DiffEntry{Manifest: p, ID: id, New: n.text, NewLabel: n.label})
			}
		}
	}
	for _, l := range [][]DiffEntry{res.Added, res.Removed, res.Changed} {
		sort.Slice(l, func(i, j int) bool {
			if l[i].Manifest != l[j].Manifest {
				return l[i].Manifest < l[j].Manifest
			}
			return l[i].ID < l[j].ID
		})
	}
	return res, nil
}

// Write prints the diff: one line per record (`+ `, `- `, `~ ` then
// MANIFEST ID and the record), a summary, and the label balance.
func (d DiffResult) Write(w io.Writer) {
	for _, e := range d.Added {
		fmt.Fprintf(w, "+ %s %s %s\n", e.Manifest, e.ID, e.New)
	}
	for _, e := range d.Removed {
		fmt.Fprintf(w, "- %s %s %s\n", e.Manifest, e.ID, e.Old)
	}
	for _, e := range d.Changed {
		fmt.Fprintf(w, "~ %s %s %s -> %s\n", e.Manifest, e.ID, e.Old, e.New)
	}
	fmt.Fprintf(w, "%d records -> %d: %d added, %d removed, %d changed\n", d.Before, d.After, len(d.Added), len(d.Removed), len(d.Changed))
	if d.Labels == nil {
		return
	}
	labels := make([]string, 0, len(d.Labels))
	for l := range d.Labels {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	fmt.Fprintf(w, "label balance (before -> after):\n")
	for _, l := range labels {
		c := d.Labels[l]
		name := l
		if name == "" {
			name = "(none)"
		}
		fmt.Fprintf(w, "  %-20s %7d %6.1f%% -> %7d %6.1f%% (%+d)\n", name, c[0], pct(c[0], d.Before), c[1], pct(c[1], d.After), c[1]-c[0])
	}
}

func pct(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}

// Textconv prints the records of a manifest, one canonical JSON object per
// line, sorted by id: what `git diff` compares when the manifest has
// diff=datalfs-manifest. Without an id pointer, a top-level "id" field is
// the id, else the first reference.
func Textconv(src io.Reader, name string, cfg Config, w io.Writer) error {
	type line struct{ id, text string }
	var lines []line
	err := ReadRecords(src, name, cfg, func(rec *Record) error {
		id := rec.ID
		if cfg.ID == "" {
			if s, ok := scalar(rec.Fields["id"]); ok {
				id = s
			}
		}
		lines = append(lines, line{id, string(rec.Canonical())})
		return nil
	})
	if err != nil {
		return err
	}
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].id < lines[j].id })
	for _, l := range lines {
		if _, err := fmt.Fprintln(w, l.text); err != nil {
			return err
		}
	}
	return nil
}
