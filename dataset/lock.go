package dataset

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"os"
	"sort"
)

// Lock pins a dataset version in one small file that a model registry can
// keep next to a model: the commit, each manifest with its content digest
// and record count, and the dataset digest.
type Lock struct {
	Version   int            `json:"version"`
	Commit    string         `json:"commit"`
	Manifests []LockManifest `json:"manifests"`
	Records   int            `json:"records"`
	// Digest is "sha256:HEX" over the canonical records of every manifest,
	// sorted by id: see Digest.
	Digest string `json:"digest"`
	// Lineage is "sha256:HEX" over the lineage records upstream of the
	// manifests at Commit (see lineage.Repo.ClosureDigest), naming
	// LineageSteps; empty when no record describes them.
	Lineage      string   `json:"lineage,omitempty"`
	LineageSteps []string `json:"lineageSteps,omitempty"`
}

// LockManifest is one manifest of a Lock.
type LockManifest struct {
	Path    string `json:"path"`
	SHA256  string `json:"sha256"` // of the manifest's content (after Git LFS)
	Records int    `json:"records"`
}

type idHash struct {
	id string
	h  [32]byte
}

// Digest reads ms and returns their lock (without Commit). The dataset
// digest is the SHA-256 of one line per record, sorted by id and then by
// record hash: the id as a JSON string, a space, and the hex SHA-256 of the
// record's canonical JSON (keys sorted, numbers as written, no spaces), then
// a newline. It does not depend on record order, formatting, file names or
// the split of records between manifests, and changes with any field of any
// record. Memory: about 40 bytes plus the id per record.
func (r *Repo) Digest(ctx context.Context, ms []Manifest) (Lock, error) {
	l := Lock{Version: 1}
	var all []idHash
	for _, m := range ms {
		rc, err := r.Open(ctx, m)
		if err != nil {
			return l, fmt.Errorf("%s: %w", m.Path, err)
		}
		content := sha256.New()
		lm := LockManifest{Path: m.Path}
		err = ReadRecords(io.TeeReader(rc, content), m.Path, m.Config, func(rec *Record) error {
			lm.Records++
			all = append(all, idHash{rec.ID, sha256.Sum256(rec.Canonical())})
			return nil
		})
		if err == nil {
			_, err = io.Copy(content, rc) // whatever the reader left (trailing bytes)
		}
		rc.Close()
		if err != nil {
			return l, err
		}
		lm.SHA256 = hex.EncodeToString(content.Sum(nil))
		l.Manifests = append(l.Manifests, lm)
		l.Records += lm.Records
	}
	l.Digest = "sha256:" + digestOf(all)
	return l, nil
}

func digestOf(all []idHash) string {
	sort.Slice(all, func(i, j int) bool {
		if all[i].id != all[j].id {
			return all[i].id < all[j].id
		}
		return bytes.Compare(all[i].h[:], all[j].h[:]) < 0
	})
	h := sha256.New()
	for _, x := range all {
		writeLine(h, x)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func writeLine(h hash.Hash, x idHash) {
	id, _ := json.Marshal(x.id)
	h.Write(id)
	h.Write([]byte{' '})
	var hx [64]byte
	hex.Encode(hx[:], x.h[:])
	h.Write(hx[:])
	h.Write([]byte{'\n'})
}

// ReadLock reads a lock file.
func ReadLock(path string) (Lock, error) {
	var l Lock
	data, err := os.ReadFile(path)
	if err != nil {
		return l, err
	}
	if err := json.Unmarshal(data, &l); err != nil {
		return l, fmt.Errorf("%s is not a dataset lock: %v", path, err)
	}
	if l.Version != 1 || l.Commit == "" || l.Digest == "" || len(l.Manifests) == 0 {
		return l, fmt.Errorf("%s is not a dataset lock (version 1 with commit, manifests and digest); write one with `datalfs manifest lock`", path)
	}
	return l, nil
}

// Marshal renders the lock as indented JSON with a final newline.
func (l Lock) Marshal() []byte {
	b, _ := json.MarshalIndent(l, "", "  ")
	return append(b, '\n')
}

// WriteLock writes l to path whole or not at all: through a temporary file
// beside it and a rename, so a failed write leaves the old file (or none)
// and no temporary file.
func WriteLock(path string, l Lock) error {
	if err := writeFile(path, 0o644, func(w io.Writer) error {
		_, err := w.Write(l.Marshal())
		return err
	}); err != nil {
		return fmt.Errorf("write lock file %s: %w", path, err)
	}
	return nil
}

// sha256Sum hashes b (for tests).
func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }
