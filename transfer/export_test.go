package transfer

import "os"

// SetLock makes a take the locks on its download temp files with lock.
func SetLock(a *Agent, lock func(*os.File) error) { a.downloads.lock = lock }

// LockFile is the lock an agent takes by default.
var LockFile = lockFile

// SetLinkFile replaces how a hand-over links the finished file under its
// new name, and returns a function that puts os.Link back.
func SetLinkFile(link func(oldname, newname string) error) (restore func()) {
	linkFile = link
	return func() { linkFile = os.Link }
}
