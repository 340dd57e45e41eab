package dataset

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/datalfs/datalfs/gitrepo"
)

// TombstonePath is where the repository records forgotten assets, relative
// to the top of the working tree.
const TombstonePath = ".datalfs/tombstones.jsonl"

// Tombstone records that an asset was deleted from the bucket for good. It
// holds no personal data: the record id, the object, the date and a reason
// such as "erasure request 2026-118".
type Tombstone struct {
	ID     string `json:"id"`
	Key    string `json:"key"` // s3://BUCKET/KEY, no version
	Date   string `json:"date"`
	Reason string `json:"reason"`
}

// Tombstones reads the tombstone file from the working tree, or from HEAD
// when the working tree has none, keyed by object (s3://BUCKET/KEY). They
// are never read from an old revision: deletions made later must be known
// when an older commit is rebuilt.
func (r *Repo) Tombstones(ctx context.Context) (map[string]Tombstone, error) {
	data, err := r.ReadFile(ctx, gitrepo.Source{}, TombstonePath)
	if errors.Is(err, os.ErrNotExist) {
		data, err = r.ReadFile(ctx, gitrepo.Source{Rev: "HEAD"}, TombstonePath)
		if err != nil {
			return map[string]Tombstone{}, nil
		}
	} else if err != nil {
		return nil, err
	}
	m := map[string]Tombstone{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var t Tombstone
		if err := json.Unmarshal(sc.Bytes(), &t); err != nil || t.Key == "" {
			return nil, fmt.Errorf("%s:%d: not a tombstone (want {\"id\",\"key\",\"date\",\"reason\"}); fix the line by hand", TombstonePath, line)
		}
		if _, ok := m[t.Key]; !ok {
			m[t.Key] = t
		}
	}
	return m, sc.Err()
}

// AppendTombstones adds ts to the tombstone file and stages it.
func (r *Repo) AppendTombstones(ctx context.Context, ts []Tombstone) error {
	p := r.Path(TombstonePath)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	for _, t := range ts {
		b.Write(canonical(t))
		b.WriteByte('\n')
	}
	if _, err := f.Write(b.Bytes()); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return r.Stage(ctx, TombstonePath)
}
