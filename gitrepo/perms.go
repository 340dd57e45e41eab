package gitrepo

import "io/fs"

// ObjectMode returns the mode git-lfs gives files it writes into the
// repository (its object store included): 0666 less the mask that
// core.sharedRepository sets (group: 0660, all: 0664, an octal mode: that
// mode), or less the process's umask when it is unset.
func (r *Repo) ObjectMode() fs.FileMode { return r.config().RepositoryPermissions(false) }
