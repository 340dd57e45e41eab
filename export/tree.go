package export

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"

	"github.com/datalfs/datalfs/internal/gitcmd"
	"github.com/git-lfs/git-lfs/v3/lfs"
)

// Git file modes that export writes; other entries (submodules) are skipped.
const (
	modeFile    = 0o100644
	modeExec    = 0o100755
	modeSymlink = 0o120000
)

// entry is one file of the exported commit.
type entry struct {
	mode uint32
	blob string // git object id
	size int64  // blob size (for an LFS file, the pointer's)
	path string // slash-separated, relative to the top of the tree
}

// resolve returns the commit id rev names.
func resolve(ctx context.Context, dir, rev string) (string, error) {
	if strings.HasPrefix(rev, "-") || rev == "" {
		return "", usagef("%q is not a revision: name a branch, tag or commit", rev)
	}
	out, err := gitcmd.Run(ctx, dir, "rev-parse", "--verify", "--quiet", "--end-of-options", rev+"^{commit}")
	if err != nil || out == "" {
		if _, gerr := gitcmd.Run(ctx, dir, "rev-parse", "--git-dir"); gerr != nil {
			return "", usagef("not in a git repository: %v", gerr)
		}
		return "", usagef("%q names no commit in this repository", rev)
	}
	return out, nil
}

// listTree returns the files of commit under paths (prefixes relative to
// the top of the tree; none means all), submodules left out.
func listTree(ctx context.Context, dir, commit string, paths []string) ([]entry, error) {
	args := append([]string{"ls-tree", "-r", "-z", "-l", "--full-tree", commit, "--"}, paths...)
	out, err := gitcmd.Run(ctx, dir, args...)
	if err != nil {
		return nil, fmt.Errorf("list the files of %s: %w", commit, err)
	}
	var list []entry
	for _, rec := range strings.Split(out, "\x00") {
		if rec == "" {
			continue
		}
		meta, path, ok := strings.Cut(rec, "\t")
		f := strings.Fields(meta)
		if !ok || len(f) != 4 {
			return nil, fmt.Errorf("unexpected git ls-tree line %q", rec)
		}
		if f[1] != "blob" {
			continue // a submodule: its files are not in this repository
		}
		mode, err := strconv.ParseUint(f[0], 8, 32)
		if err != nil {
			return nil, fmt.Errorf("unexpected mode in git ls-tree line %q", rec)
		}
		size, err := strconv.ParseInt(f[3], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("unexpected size in git ls-tree line %q", rec)
		}
		list = append(list, entry{mode: uint32(mode), blob: f[2], size: size, path: path})
	}
	return list, nil
}

// mayBePointer reports whether e could be an LFS pointer: a regular file
// smaller than git-lfs's cutoff.
func (e entry) mayBePointer() bool {
	return e.mode != modeSymlink && e.size < lfs.BlobSizeCutoff
}

// blobReader streams blobs out of one `git cat-file --batch`, in the order
// they were asked for. Ask and the reading side run on different goroutines.
type blobReader struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Reader
	stderr bytes.Buffer
}

func newBlobReader(ctx context.Context, dir string) (*blobReader, error) {
	cmd := exec.CommandContext(ctx, "git", "cat-file", "--batch", "--buffer")
	cmd.Dir = dir
	b := &blobReader{cmd: cmd}
	cmd.Stderr = &b.stderr
	var err error
	if b.in, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	b.out = bufio.NewReaderSize(out, 64<<10)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run git cat-file: %w", err)
	}
	return b, nil
}

// next reads the header of the next blob, which must be blob of size bytes,
// and returns a reader for exactly its content. The caller must read it to
// the end (or call skip) before the next call.
func (b *blobReader) next(blob string, size int64) (io.Reader, error) {
	header, err := b.out.ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("read git cat-file reply for %s: %w (%s)", blob, err, strings.TrimSpace(b.stderr.String()))
	}
	f := strings.Fields(header)
	if len(f) != 3 || f[0] != blob || f[1] != "blob" || f[2] != strconv.FormatInt(size, 10) {
		return nil, fmt.Errorf("unexpected git cat-file reply %q for blob %s", strings.TrimSpace(header), blob)
	}
	return io.LimitReader(b.out, size), nil
}

// done consumes the newline that ends a blob's content.
func (b *blobReader) done() error {
	c, err := b.out.ReadByte()
	if err != nil || c != '\n' {
		return fmt.Errorf("git cat-file: missing newline after a blob")
	}
	return nil
}

// close ends git cat-file.
func (b *blobReader) close() error {
	b.in.Close()
	io.Copy(io.Discard, b.out)
	return b.cmd.Wait()
}
