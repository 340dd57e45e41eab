//go:build !unix

package transfer

import (
	"errors"
	"os"
)

// lockFile is not available here: a locked file is never taken for stale.
func lockFile(f *os.File, wait bool) error {
	if wait {
		return nil
	}
	return errors.New("file locks are not supported on this system")
}
