package gitrepo

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
)

// Git file modes of tree entries.
const (
	ModeFile    = 0o100644
	ModeExec    = 0o100755
	ModeSymlink = 0o120000
)

// Entry is one file of a commit's tree.
type Entry struct {
	Mode uint32
	Blob string // git object id
	Size int64  // blob size
	Path string // slash-separated, relative to the top of the tree
}

// Tree returns the files of commit under paths (relative to the top of the
// tree, as git ls-tree takes them; none means all), submodules left out.
// It needs no working tree.
func (r *Repo) Tree(ctx context.Context, commit string, paths []string) ([]Entry, error) {
	args := append([]string{"ls-tree", "-r", "-z", "-l", "--full-tree", commit, "--"}, paths...)
	out, err := r.git(ctx, args...)
	if err != nil {
		return nil, fmt.Errorf("list the files of %s: %w", commit, err)
	}
	var list []Entry
	for _, rec := range strings.Split(string(out), "\x00") {
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
		list = append(list, Entry{Mode: uint32(mode), Blob: f[2], Size: size, Path: path})
	}
	return list, nil
}

// BlobReader streams blobs out of one `git cat-file --batch`, in the order
// they were asked for. Ask and the reading side (Next, Done) may run on
// different goroutines.
type BlobReader struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Reader
	stderr bytes.Buffer
}

// Blobs starts a BlobReader; Close ends it.
func (r *Repo) Blobs(ctx context.Context) (*BlobReader, error) {
	cmd := gitcmd.Cmd{Dir: r.dir()}.Command(ctx, "cat-file", "--batch", "--buffer")
	b := &BlobReader{cmd: cmd}
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

// Input is where requests go, one blob id per line; the replies come, in
// order, from Next. Close it when no more requests will come.
func (b *BlobReader) Input() io.WriteCloser { return b.in }

// Next reads the header of the next blob, which must be blob of size bytes,
// and returns a reader for exactly its content. The caller must read it to
// the end and call Done before the next call.
func (b *BlobReader) Next(blob string, size int64) (io.Reader, error) {
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

// Done consumes the newline that ends a blob's content.
func (b *BlobReader) Done() error {
	c, err := b.out.ReadByte()
	if err != nil || c != '\n' {
		return fmt.Errorf("git cat-file: missing newline after a blob")
	}
	return nil
}

// Close ends git cat-file.
func (b *BlobReader) Close() error {
	b.in.Close()
	_, _ = io.Copy(io.Discard, b.out)
	if err := b.cmd.Wait(); err != nil {
		return gitcmd.Fail("cat-file", err, &b.stderr)
	}
	return nil
}

// CommitLFSURL returns the LFS URL for the objects of commit, the way
// git-lfs picks it but reading .lfsconfig from that commit rather than from
// a working tree (there may be none): lfs.url from git config, then from the
// commit's .lfsconfig, then remote.origin.lfsurl from each. A URL derived
// from the git remote (a forge's LFS server) is never used.
func (r *Repo) CommitLFSURL(ctx context.Context, commit string) (string, error) {
	for _, key := range []string{"lfs.url", "remote.origin.lfsurl"} {
		if v := r.ConfigValue(ctx, key); v != "" {
			return v, nil
		}
		if out, err := r.git(ctx, "config", "--blob", commit+":.lfsconfig", "--get", key); err == nil {
			if v := strings.TrimSpace(string(out)); v != "" {
				return v, nil
			}
		}
	}
	return "", fmt.Errorf("no LFS URL for commit %.12s: its .lfsconfig sets no lfs.url; set one with `git config lfs.url https://BUCKET.s3.REGION.amazonaws.com/PREFIX`", commit)
}
