package export

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// tempDirName is the directory inside the output directory that holds files
// being written. It is emptied when an export starts (what a killed run
// left) and removed when it ends.
const tempDirName = ".datalfs-export"

// errLocked reports that another export holds the output directory.
var errLocked = errors.New("locked by another export")

// outDir is the output directory: it creates parent directories without
// following symlinks out of it and moves finished temp files into place.
type outDir struct {
	root string
	tmp  string
	lock *os.File

	mu   sync.Mutex
	dirs map[string]error // relative directory -> outcome of making it
}

// openOutDir creates root if needed, locks it against a second export and
// prepares its temp dir.
func openOutDir(root string) (*outDir, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("create output directory: %w", err)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	tmp := filepath.Join(abs, tempDirName)
	if err := os.Mkdir(tmp, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("create temp directory in %s: %w", abs, err)
	}
	lock, err := os.Open(tmp)
	if err != nil {
		return nil, fmt.Errorf("open temp directory: %w", err)
	}
	if err := lockDir(lock); err != nil {
		lock.Close()
		return nil, fmt.Errorf("another datalfs export is writing into %s (%w): wait for it to finish", abs, err)
	}
	// Whatever is left in the temp dir was left by a run that was killed.
	left, _ := os.ReadDir(tmp)
	for _, e := range left {
		os.RemoveAll(filepath.Join(tmp, e.Name()))
	}
	return &outDir{root: abs, tmp: tmp, lock: lock, dirs: map[string]error{"": nil, ".": nil}}, nil
}

// close removes the temp dir and releases the lock.
func (o *outDir) close() error {
	err := os.RemoveAll(o.tmp)
	o.lock.Close()
	if err != nil {
		return fmt.Errorf("remove temp directory: %w", err)
	}
	return nil
}

// path returns where rel (slash-separated) is written.
func (o *outDir) path(rel string) string { return filepath.Join(o.root, filepath.FromSlash(rel)) }

// checkPath refuses a tree path that would land outside root or in the temp dir.
func checkPath(rel string) error {
	if rel == "" || strings.HasPrefix(rel, "/") {
		return fmt.Errorf("refusing the path %q", rel)
	}
	for _, seg := range strings.Split(rel, "/") {
		if seg == "" || seg == "." || seg == ".." || seg == ".git" {
			return fmt.Errorf("refusing the path %q: git does not check out such a path", rel)
		}
	}
	if rel == tempDirName || strings.HasPrefix(rel, tempDirName+"/") {
		return fmt.Errorf("the path %q collides with datalfs export's temp directory", rel)
	}
	return nil
}

// mkdirs makes the parent directories of rel, each a real directory: a
// symlink or a file in the way (left by an export of another commit) is an
// error, never followed.
func (o *outDir) mkdirs(rel string) error {
	dir := filepath.ToSlash(filepath.Dir(filepath.FromSlash(rel)))
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.mkdirLocked(dir)
}

func (o *outDir) mkdirLocked(dir string) error {
	if err, ok := o.dirs[dir]; ok {
		return err
	}
	parent := filepath.ToSlash(filepath.Dir(filepath.FromSlash(dir)))
	err := o.mkdirLocked(parent)
	if err == nil {
		p := o.path(dir)
		fi, lerr := os.Lstat(p)
		switch {
		case errors.Is(lerr, fs.ErrNotExist):
			if err = os.Mkdir(p, 0o755); errors.Is(err, fs.ErrExist) {
				err = nil
			}
		case lerr != nil:
			err = lerr
		case !fi.IsDir():
			err = fmt.Errorf("%s is %w of a directory of the commit (it is not a directory); remove it", p, errInTheWay)
		}
	}
	o.dirs[dir] = err
	return err
}

// create returns a new temp file for rel.
func (o *outDir) create() (*os.File, error) {
	f, err := os.CreateTemp(o.tmp, "f-*")
	if err != nil {
		return nil, fmt.Errorf("create temp file: %w", err)
	}
	return f, nil
}

// place gives the temp file its mode and renames it to rel.
func (o *outDir) place(tmp string, rel string, mode uint32) error {
	if mode != modeSymlink {
		if err := os.Chmod(tmp, perm(mode)); err != nil {
			return err
		}
	}
	if err := o.mkdirs(rel); err != nil {
		return err
	}
	dst := o.path(rel)
	if fi, err := os.Lstat(dst); err == nil && fi.IsDir() {
		return fmt.Errorf("%s is a directory, %w of a file of the commit; remove it", dst, errInTheWay)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("move into place: %w", err)
	}
	return nil
}

// perm is the permission bits a file of git mode gets.
func perm(mode uint32) fs.FileMode {
	if mode == modeExec {
		return 0o755
	}
	return 0o644
}

// fixMode gives an existing file with the right content the right
// executable bit, and reports whether it had to.
func fixMode(path string, fi fs.FileInfo, mode uint32) error {
	if fi.Mode().Perm()&0o111 != 0 == (mode == modeExec) {
		return nil
	}
	return os.Chmod(path, perm(mode))
}
