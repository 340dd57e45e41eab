//go:build !unix

package transfer

import (
	"errors"
	"os"
)

// errNoLocks reports that file locks are not available here: downloads then
// write files of their own and cannot resume.
var errNoLocks = errors.New("file locks are not supported on this system")

// lockFile is not available here.
func lockFile(*os.File) error { return errNoLocks }

// lockBusy reports whether err says another process holds the lock.
func lockBusy(error) bool { return false }
