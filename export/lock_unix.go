//go:build unix

package export

import (
	"os"
	"syscall"
)

// lockDir takes an exclusive advisory lock on the open directory f without
// waiting. The lock ends when f is closed or the process dies.
func lockDir(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}
