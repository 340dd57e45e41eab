// Package agentsetup binds datalfs as git-lfs's standalone transfer agent
// for a repository's LFS URLs, and unbinds it: the git config that
// `datalfs install` writes and `datalfs uninstall` removes
// (lfs.customtransfer.datalfs.*, the URL-scoped
// lfs.<URL>.standalonetransferagent, the datalfs-manifest diff driver) and,
// in a repository, the pre-commit hook.
//
// Only URLs the user configured are bound (lfs.url, lfs.pushurl,
// remote.NAME.lfsurl, remote.NAME.lfspushurl, .lfsconfig), push and fetch
// both. A URL git-lfs derives from a Git remote belongs to that Git host's
// own LFS server and is never bound: binding it would send every push and
// pull there to S3. When such URLs are all a repository has, Install writes
// nothing and fails.
package agentsetup

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/datalfs/datalfs/gitrepo"
	"github.com/datalfs/datalfs/precommit"
	"github.com/datalfs/datalfs/s3store"
)

// Agent is the custom transfer agent's name in git config.
const Agent = "datalfs"

// diffDriver is the git diff driver datalfs defines for manifests.
const diffDriver = "datalfs-manifest"

// Options says what Install binds and where it writes.
type Options struct {
	// Global writes the user's global git config instead of the
	// repository's; it needs URL, and installs no hook.
	Global bool
	// URL is the LFS URL, or a bucket-level prefix of many, to bind; empty
	// means the LFS URLs the repository configures.
	URL string
	// Self is the absolute path of the datalfs executable git-lfs and git
	// should run, as the user invoked it (symlinks kept).
	Self string
}

// Skipped is an LFS URL of the repository that Install did not bind, and
// why.
type Skipped struct {
	URL string
	Why string // a clause that follows the URL, such as "which names ..."
}

// Result is what Install wrote.
type Result struct {
	// Configured is true once the agent's git config is written (also when
	// Install then failed installing the hook).
	Configured bool
	// Bound are the LFS URLs now moved through datalfs, in the order git-lfs
	// looks them up; empty when the repository has no LFS URL yet.
	Bound []string
	// Skipped are the repository's LFS URLs left alone.
	Skipped []Skipped
	// Hook is true when the pre-commit hook was installed.
	Hook bool
}

// Install writes git config that makes git-lfs move objects for the LFS
// URLs opt names (and every URL under them) through opt.Self, defines the
// manifest diff driver, and, in the repository's scope, installs the
// pre-commit hook. repo is the repository around the current directory
// (gitrepo.Here); with opt.Global it may be outside any repository. An
// error before Result.Configured means git config was left untouched,
// except when git config itself failed part way.
func Install(ctx context.Context, repo *gitrepo.Repo, opt Options) (Result, error) {
	var res Result
	if !opt.Global && !repo.InRepo() {
		return res, errors.New("not in a git repository: run `datalfs install` inside one, or use --global")
	}
	switch {
	case opt.URL != "":
		res.Bound = []string{strings.TrimRight(opt.URL, "/")}
	case opt.Global:
		return res, errors.New("--global needs --url: the bucket or LFS URL prefix to bind, such as https://BUCKET.s3.REGION.amazonaws.com/")
	default:
		res.Bound, res.Skipped = configuredURLs(repo)
		if len(res.Bound) == 0 && len(res.Skipped) > 0 {
			return res, errNoBucketURL(res.Skipped[0])
		}
	}
	for _, u := range res.Bound {
		if _, err := s3store.ParseURL(u); err != nil {
			return res, err
		}
	}
	scope := scopeFlag(opt.Global)
	settings := [][2]string{
		{"lfs.customtransfer." + Agent + ".path", opt.Self},
		{"lfs.customtransfer." + Agent + ".args", "transfer"},
		{"lfs.customtransfer." + Agent + ".concurrent", "true"},
		{"lfs.customtransfer." + Agent + ".direction", "both"},
	}
	for _, u := range res.Bound {
		settings = append(settings, [2]string{"lfs." + u + ".standalonetransferagent", Agent})
	}
	settings = append(settings,
		[2]string{"diff." + diffDriver + ".textconv", shellQuote(opt.Self) + " manifest textconv"},
		[2]string{"diff." + diffDriver + ".binary", "false"})
	for _, kv := range settings {
		if _, err := repo.Git(ctx, "config", scope, kv[0], kv[1]); err != nil {
			return res, err
		}
	}
	res.Configured = true
	if !opt.Global {
		if err := precommit.Install(ctx, repo.GitDir, opt.Self); err != nil {
			return res, fmt.Errorf("install the pre-commit hook: %w", err)
		}
		res.Hook = true
	}
	return res, nil
}

// Uninstall removes what Install wrote to the repository's git config (to
// the global config when global is true) and, in the repository's scope,
// the pre-commit hook, restoring a hook it had chained. Standalone agent
// keys that name another agent, and git-lfs's own settings, are kept.
func Uninstall(ctx context.Context, repo *gitrepo.Repo, global bool) error {
	if !global && !repo.InRepo() {
		return errors.New("not in a git repository: run `datalfs uninstall` inside one, or use --global")
	}
	scope := scopeFlag(global)
	keys, _ := repo.Git(ctx, "config", scope, "--name-only", "--get-regexp", `^lfs\..*standalonetransferagent$`, "^"+Agent+"$")
	for _, key := range strings.Split(strings.TrimSpace(string(keys)), "\n") {
		if key == "" {
			continue
		}
		if _, err := repo.Git(ctx, "config", scope, "--unset-all", key); err != nil {
			return err
		}
	}
	if _, err := repo.Git(ctx, "config", scope, "--get-regexp", `^lfs\.customtransfer\.`+Agent+`\.`); err == nil {
		if _, err := repo.Git(ctx, "config", scope, "--remove-section", "lfs.customtransfer."+Agent); err != nil {
			return err
		}
	}
	_, _ = repo.Git(ctx, "config", scope, "--remove-section", "diff."+diffDriver) // absent: nothing to remove
	if !global {
		if err := precommit.Uninstall(ctx, repo.GitDir); err != nil {
			return fmt.Errorf("remove the pre-commit hook: %w", err)
		}
	}
	return nil
}

// configuredURLs returns the LFS URLs of the repository's remotes that the
// user configured (lfs.url, lfs.pushurl, remote.NAME.lfsurl,
// remote.NAME.lfspushurl, .lfsconfig), push and fetch URLs both, and apart
// from them the URLs that belong to a Git host's own LFS server and must
// never be bound: those git-lfs derives from a Git remote's URL, and
// configured ones that name an LFS server's API (.../info/lfs).
func configuredURLs(repo *gitrepo.Repo) (bind []string, skipped []Skipped) {
	seen := map[string]bool{}
	for _, ru := range repo.RemoteURLs() {
		u := strings.TrimRight(ru.URL, "/")
		if seen[u] {
			continue
		}
		seen[u] = true
		switch {
		case !ru.Configured:
			skipped = append(skipped, Skipped{u, "which git-lfs derives from the Git remote " + ru.Remote + " (that host's own LFS server, not a bucket)"})
		case strings.HasSuffix(u, "/info/lfs"):
			skipped = append(skipped, Skipped{u, "which names a Git LFS server's API (.../info/lfs), not a bucket"})
		default:
			bind = append(bind, u)
		}
	}
	return bind, skipped
}

// errNoBucketURL explains why Install binds nothing in a repository whose
// only LFS URLs belong to a Git host's LFS server.
func errNoBucketURL(sk Skipped) error {
	return fmt.Errorf("this repository has no bucket URL to bind: git-lfs uses %s, %s; "+
		"binding it would send every LFS push and pull there to S3 instead. "+
		"Set the bucket URL first, then run `datalfs install` again:\n"+
		"  git config lfs.url https://s3.REGION.amazonaws.com/BUCKET/PREFIX\n"+
		"or, for every clone, commit it: git config -f .lfsconfig lfs.url https://s3.REGION.amazonaws.com/BUCKET/PREFIX", sk.URL, sk.Why)
}

func scopeFlag(global bool) string {
	if global {
		return "--global"
	}
	return "--local"
}

// shellQuote quotes s for the shell git runs a textconv command with.
func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t'\"\\$`!*?[]{}()<>|&;#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
