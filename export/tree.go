package export

import (
	"context"
	"errors"

	"github.com/git-lfs/git-lfs/v3/lfs"

	"github.com/datalfs/datalfs/gitrepo"
)

// Git file modes that export writes; other entries (submodules) are skipped.
const (
	modeFile    = gitrepo.ModeFile
	modeExec    = gitrepo.ModeExec
	modeSymlink = gitrepo.ModeSymlink
)

// entry is one file of the exported commit.
type entry struct {
	mode uint32
	blob string // git object id
	size int64  // blob size (for an LFS file, the pointer's)
	path string // slash-separated, relative to the top of the tree
}

// openCommit opens the repository around dir (a working tree, a clone
// without a checkout or a bare clone) and resolves rev in it.
func openCommit(ctx context.Context, dir, rev string) (*gitrepo.Repo, string, error) {
	repo, err := gitrepo.Open(ctx, dir)
	if errors.Is(err, gitrepo.ErrNotRepo) {
		return nil, "", usagef("not in a git repository: %v", err)
	}
	if err != nil {
		return nil, "", err
	}
	commit, err := repo.Resolve(ctx, rev)
	if err != nil {
		return nil, "", usagef("%v", err)
	}
	return repo, commit, nil
}

// listTree returns the files of commit under paths (prefixes relative to
// the top of the tree; none means all), submodules left out.
func listTree(ctx context.Context, repo *gitrepo.Repo, commit string, paths []string) ([]entry, error) {
	tree, err := repo.Tree(ctx, commit, paths)
	if err != nil {
		return nil, err
	}
	list := make([]entry, 0, len(tree))
	for _, e := range tree {
		list = append(list, entry{mode: e.Mode, blob: e.Blob, size: e.Size, path: e.Path})
	}
	return list, nil
}

// mayBePointer reports whether e could be an LFS pointer: a regular file
// smaller than git-lfs's cutoff.
func (e entry) mayBePointer() bool {
	return e.mode != modeSymlink && e.size < lfs.BlobSizeCutoff
}

// LFSURL returns the LFS URL for the objects of commit in the repository
// around dir (see gitrepo.Repo.CommitLFSURL); none is a usage error.
func LFSURL(ctx context.Context, dir, commit string) (string, error) {
	repo, err := gitrepo.Open(ctx, dir)
	if err != nil {
		return "", usagef("%v", err)
	}
	u, err := repo.CommitLFSURL(ctx, commit)
	if err != nil {
		return "", usagef("%v", err)
	}
	return u, nil
}
