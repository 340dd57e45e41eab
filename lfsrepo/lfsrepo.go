// Package lfsrepo answers what git-lfs itself would answer about a
// repository: its LFS URL for a remote, its LFS temp dir, its git config.
// It uses git-lfs's own code, so the answers agree with the client that
// starts the agent, .lfsconfig and lfs.storage included.
package lfsrepo

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/git-lfs/git-lfs/v3/config"
	"github.com/git-lfs/git-lfs/v3/lfsapi"
)

// Repo is the repository (if any) around the current directory, as git-lfs
// sees it. Outside a repository only global and system config apply.
type Repo struct {
	cfg *config.Configuration
}

// Open reads the repository around the current directory. It runs git but
// makes no network call.
func Open() *Repo {
	return &Repo{cfg: config.New()}
}

// InRepo reports whether the current directory is inside a repository.
func (r *Repo) InRepo() bool { return r.cfg.InRepo() }

// GitDir returns the repository's git dir (empty outside a repository).
func (r *Repo) GitDir() string { return r.cfg.LocalGitDir() }

// WorkDir returns the top of the working tree (empty outside one).
func (r *Repo) WorkDir() string { return r.cfg.LocalWorkingDir() }

// TempDir returns git-lfs's temp dir (under lfs.storage when set). Downloads
// must be written there: git-lfs renames them into its object store.
func (r *Repo) TempDir() string { return r.cfg.TempDir() }

// ObjectDir returns git-lfs's object store directory.
func (r *Repo) ObjectDir() string { return r.cfg.LFSObjectDir() }

// Config returns a git config value as git-lfs reads it: local, global and
// system config, plus the few keys git-lfs accepts from .lfsconfig.
func (r *Repo) Config(key string) (string, bool) { return r.cfg.Git.Get(key) }

// LFSURL returns the LFS URL git-lfs uses for operation ("upload" or
// "download") with remote, which may be a remote name or a URL; an empty
// remote means the default remote.
func (r *Repo) LFSURL(operation, remote string) (string, error) {
	finder := lfsapi.NewEndpointFinder(r.cfg)
	ep := finder.Endpoint(operation, remote)
	if ep.Url == "" && isURL(remote) {
		ep = finder.NewEndpointFromCloneURL(operation, remote)
	}
	if ep.Url == "" || ep.Url == "<unknown>" {
		return "", fmt.Errorf("no LFS URL for remote %q: set one with `git config lfs.url https://BUCKET.s3.REGION.amazonaws.com/PREFIX` "+
			"or commit it in .lfsconfig (see .lfsconfig.example)", remoteOr(remote))
	}
	return ep.Url, nil
}

func isURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme != "" && strings.Contains(s, "://")
}

func remoteOr(remote string) string {
	if remote == "" {
		return "origin"
	}
	return remote
}

// StandaloneAgent returns the standalone transfer agent git-lfs uses for
// rawURL, matching URL-scoped keys (lfs.<url>.standalonetransferagent) the
// way git-lfs does.
func (r *Repo) StandaloneAgent(rawURL string) string {
	v, _ := config.NewURLConfig(r.cfg.Git).Get("lfs", rawURL, "standalonetransferagent")
	return v
}
