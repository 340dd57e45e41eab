package gitrepo

import (
	"github.com/git-lfs/git-lfs/v3/lfsapi"
)

// RemoteURL is the LFS URL git-lfs uses for one remote and operation.
type RemoteURL struct {
	// Remote is the remote's name; empty in a repository without remotes.
	Remote string
	// Operation is "upload" or "download".
	Operation string
	// URL is the LFS URL, after git's url.<base>.insteadOf rewriting.
	URL string
	// Configured is true when the URL comes from a key the user set
	// (lfs.url, lfs.pushurl, remote.NAME.lfsurl, remote.NAME.lfspushurl, in
	// git config or .lfsconfig), false when git-lfs derived it from the Git
	// remote's URL (https://github.com/O/R.git/info/lfs): that one belongs to
	// the Git host's own LFS server.
	Configured bool
}

// RemoteURLs returns the LFS URL of every remote for upload and download,
// in git-lfs's order of precedence. Remotes without any LFS URL are left
// out.
func (r *Repo) RemoteURLs() []RemoteURL {
	remotes := r.config().Remotes()
	if len(remotes) == 0 {
		remotes = []string{""}
	}
	finder := lfsapi.NewEndpointFinder(r.config())
	var urls []RemoteURL
	for _, remote := range remotes {
		for _, op := range []string{"download", "upload"} {
			ep := finder.Endpoint(op, remote)
			if ep.Url == "" || ep.Url == "<unknown>" {
				continue
			}
			urls = append(urls, RemoteURL{Remote: remote, Operation: op, URL: ep.Url, Configured: r.configured(op, remote)})
		}
	}
	return urls
}

// LFSURLConfigured reports whether the LFS URL git-lfs uses for operation
// and remote (a remote name; empty means the default) is one the user set,
// rather than one derived from the Git remote's URL.
func (r *Repo) LFSURLConfigured(operation, remote string) bool {
	return r.configured(operation, remote)
}

// configured mirrors git-lfs's endpoint lookup (lfsapi's getEndpoint and
// RemoteEndpoint) and reports whether the URL it settles on for operation
// and remote comes from a key the user set rather than from the Git
// remote's URL or FETCH_HEAD.
func (r *Repo) configured(operation, remote string) bool {
	has := func(key string) bool { _, ok := r.config().Git.Get(key); return ok }
	if operation == "upload" && has("lfs.pushurl") {
		return true
	}
	if has("lfs.url") {
		return true
	}
	fromRemote := func(name string) (configured, found bool) {
		switch {
		case operation == "upload" && has("remote."+name+".lfspushurl"), has("remote." + name + ".lfsurl"):
			return true, true
		case has("remote." + name + ".url"), operation == "upload" && has("remote."+name+".pushurl"):
			return false, true
		}
		return false, false
	}
	if remote != "" && remote != "origin" {
		if c, found := fromRemote(remote); found {
			return c
		}
	}
	c, _ := fromRemote("origin")
	return c
}
