package dataset

import (
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// CreateError is a failure to create an output file (its directory or its
// temporary file) rather than to produce or replace its content.
type CreateError struct{ Err error }

func (e *CreateError) Error() string { return e.Err.Error() }

// Unwrap returns the file system's error.
func (e *CreateError) Unwrap() error { return e.Err }

// writeFile replaces path with what write writes, through a temporary file
// in the same directory (.NAME.tmp-*) and a rename, so that a reader sees
// the old content or the new one, never a part. The file gets perm. The
// temporary file is removed on every error: of write, of the file system
// (a full disk) or of the rename (path is a directory). Errors creating the
// temporary file are *CreateError.
func writeFile(path string, perm fs.FileMode, write func(io.Writer) error) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return &CreateError{err}
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp.Name())
		}
	}()
	err = write(tmp)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	_ = os.Chmod(tmp.Name(), perm) // CreateTemp's 0600 where the file system has no modes
	return os.Rename(tmp.Name(), path)
}

// BuildFile is Build writing the manifest to the file path (its directory
// made when missing) through writeFile: on any error path is left as it
// was and no temporary file remains. Errors creating the file are
// *CreateError.
func BuildFile(ctx context.Context, bkt Bucket, opt BuildOptions, path string) (BuildStats, error) {
	var st BuildStats
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return st, &CreateError{err}
	}
	err := writeFile(path, 0o644, func(w io.Writer) error {
		var err error
		st, err = Build(ctx, bkt, opt, w)
		return err
	})
	return st, err
}
