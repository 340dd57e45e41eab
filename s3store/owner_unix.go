//go:build unix

package s3store

import (
	"os"
	"syscall"
)

// lockRecord takes an exclusive flock on f without waiting. It fails when
// another live process holds it. The lock ends when f is closed or the
// process dies.
func lockRecord(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}
