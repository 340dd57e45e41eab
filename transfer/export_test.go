package transfer

import "os"

// SetLock makes a take the locks on its download temp files with lock.
func SetLock(a *Agent, lock func(*os.File) error) { a.downloads.lock = lock }

// LockFile is the lock an agent takes by default.
var LockFile = lockFile
