//go:build unix

package export

import (
	"errors"
	"os"
	"syscall"
)

// lockDir takes an exclusive advisory lock on the open directory f without
// waiting, and reports errLocked when another process holds it. A file
// system without flock (some network file systems) goes unlocked. The lock
// ends when f is closed or the process dies.
func lockDir(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return errLocked
	}
	return nil
}
