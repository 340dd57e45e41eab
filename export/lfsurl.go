package export

import (
	"context"

	"github.com/datalfs/datalfs/internal/gitcmd"
)

// LFSURL returns the LFS URL for the objects of commit, the way git-lfs
// picks it but reading .lfsconfig from that commit rather than from a
// working tree (there may be none): lfs.url from git config, then from the
// commit's .lfsconfig, then remote.origin.lfsurl from each. A URL derived
// from the git remote (a forge's LFS server) is never used.
func LFSURL(ctx context.Context, repo, commit string) (string, error) {
	for _, key := range []string{"lfs.url", "remote.origin.lfsurl"} {
		if v, _ := gitcmd.Run(ctx, repo, "config", "--get", key); v != "" {
			return v, nil
		}
		if v, _ := gitcmd.Run(ctx, repo, "config", "--blob", commit+":.lfsconfig", "--get", key); v != "" {
			return v, nil
		}
	}
	return "", usagef("no LFS URL for commit %.12s: its .lfsconfig sets no lfs.url; set one with `git config lfs.url https://BUCKET.s3.REGION.amazonaws.com/PREFIX`", commit)
}
