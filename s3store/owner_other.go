//go:build !unix

package s3store

import (
	"errors"
	"os"
)

// lockRecord is not available here: nothing is recorded or resumed.
func lockRecord(*os.File) error {
	return errors.New("record locks are not supported on this system")
}
