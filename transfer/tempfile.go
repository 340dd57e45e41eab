package transfer

import (
	"fmt"
	"os"
	"path/filepath"
)

// tempSuffix marks the agent's download temp files in git-lfs's temp dir.
const tempSuffix = ".datalfs"

// createTemp creates the download temp file for oid in dir, mode 0600, and
// holds a lock on it while it is being written. Temp files of oid left by an
// agent that died (killed mid-download) are unlocked, and are removed first.
func createTemp(dir, oid string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create LFS temp dir: %w", err)
	}
	removeStale(dir, oid)
	f, err := os.CreateTemp(dir, oid+"-*"+tempSuffix)
	if err != nil {
		return nil, fmt.Errorf("create temp file for %s: %w", oid, err)
	}
	if err := lockFile(f, true); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("lock temp file for %s: %w", oid, err)
	}
	return f, nil
}

// removeStale deletes temp files of oid that no live agent holds.
func removeStale(dir, oid string) {
	matches, _ := filepath.Glob(filepath.Join(dir, oid+"-*"+tempSuffix))
	for _, m := range matches {
		f, err := os.Open(m)
		if err != nil {
			continue
		}
		if lockFile(f, false) == nil {
			os.Remove(m)
		}
		f.Close()
	}
}
