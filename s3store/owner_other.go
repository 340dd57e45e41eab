//go:build !unix

package s3store

import "os"

// lockRecord is not available here: nothing is recorded or resumed.
func lockRecord(*os.File) error { return errLocked }
