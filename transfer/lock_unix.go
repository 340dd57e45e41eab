//go:build unix

package transfer

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive advisory lock on f, waiting for it if wait is
// true. The lock ends when f is closed or the process dies.
func lockFile(f *os.File, wait bool) error {
	how := syscall.LOCK_EX
	if !wait {
		how |= syscall.LOCK_NB
	}
	return syscall.Flock(int(f.Fd()), how)
}
