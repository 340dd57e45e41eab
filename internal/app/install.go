package app

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/datalfs/datalfs/gitrepo"
	"github.com/datalfs/datalfs/internal/gitcmd"
	"github.com/datalfs/datalfs/s3store"
)

// agentName is the custom transfer agent's name in git config.
const agentName = "datalfs"

func installCommand() *cli.Command {
	return &cli.Command{
		Name:      "install",
		Usage:     "make git push/pull/clone use datalfs for an S3 LFS URL",
		ArgsUsage: " ",
		Description: "Writes lfs.customtransfer.datalfs.* and the URL-scoped lfs.<URL>.standalonetransferagent, so\n" +
			"git-lfs moves objects for that URL (and every URL under it) through datalfs, and keeps its\n" +
			"normal behaviour for other remotes. Without --url it binds the LFS URLs the repository\n" +
			"configures (lfs.url, lfs.pushurl, remote.NAME.lfsurl, remote.NAME.lfspushurl, .lfsconfig), push\n" +
			"and fetch both, never the one git-lfs derives from a Git remote (a Git host's own LFS server):\n" +
			"with only that, it exits 2 and writes nothing.\n" +
			"With --global, a plain `git clone` of any repository whose committed .lfsconfig points\n" +
			"under --url downloads through datalfs with no further setup.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "global", Usage: "write to your global git config instead of the repository's"},
			&cli.StringFlag{Name: "url", Usage: "the LFS URL, or a bucket-level prefix of many, to bind"},
		},
		Action: func(c *cli.Context) error {
			return install(c.Context, c.Bool("global"), c.String("url"), c.App.Writer)
		},
	}
}

func uninstallCommand() *cli.Command {
	return &cli.Command{
		Name:      "uninstall",
		Usage:     "remove what `datalfs install` wrote to git config",
		ArgsUsage: " ",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "global", Usage: "remove from your global git config"},
		},
		Action: func(c *cli.Context) error {
			return uninstall(c.Context, c.Bool("global"), c.App.Writer)
		},
	}
}

func install(ctx context.Context, global bool, rawURL string, out io.Writer) error {
	repo := gitrepo.Here()
	if !global && !repo.InRepo() {
		return withCode(exitUsage, fmt.Errorf("not in a git repository: run `datalfs install` inside one, or use --global"))
	}
	self, err := executable()
	if err != nil {
		return withCode(exitUsage, err)
	}
	var (
		urls    []string
		skipped []skippedURL
	)
	switch {
	case rawURL != "":
		urls = []string{strings.TrimRight(rawURL, "/")}
	case global:
		return withCode(exitUsage, fmt.Errorf("--global needs --url: the bucket or LFS URL prefix to bind, such as https://BUCKET.s3.REGION.amazonaws.com/"))
	default:
		urls, skipped = configuredURLs(repo)
		if len(urls) == 0 && len(skipped) > 0 {
			return withCode(exitUsage, errNoBucketURL(skipped[0]))
		}
	}
	for _, u := range urls {
		if _, err := s3store.ParseURL(u); err != nil {
			return withCode(exitUsage, err)
		}
	}
	scope := scopeFlag(global)
	settings := [][2]string{
		{"lfs.customtransfer." + agentName + ".path", self},
		{"lfs.customtransfer." + agentName + ".args", "transfer"},
		{"lfs.customtransfer." + agentName + ".concurrent", "true"},
		{"lfs.customtransfer." + agentName + ".direction", "both"},
	}
	for _, u := range urls {
		settings = append(settings, [2]string{"lfs." + u + ".standalonetransferagent", agentName})
	}
	for _, kv := range settings {
		if _, err := git(ctx, "config", scope, kv[0], kv[1]); err != nil {
			return withCode(exitUsage, err)
		}
	}
	if err := installDiffDriver(ctx, scope, self); err != nil {
		return withCode(exitUsage, err)
	}
	where := "this repository"
	if global {
		where = "your global git config"
	}
	if len(urls) == 0 {
		fmt.Fprintf(out, "Installed the datalfs agent in %s, but the repository has no LFS URL yet.\n"+
			"Set one (for example in .lfsconfig: `git config -f .lfsconfig lfs.url https://BUCKET.s3.REGION.amazonaws.com/PREFIX`)\n"+
			"and run `datalfs install` again to bind it.\n", where)
	} else {
		fmt.Fprintf(out, "Installed: git-lfs in %s now moves objects for %s through %s.\n", where, strings.Join(urls, " and "), self)
	}
	for _, sk := range skipped {
		fmt.Fprintf(out, "Left alone: %s, %s.\n", sk.url, sk.why)
	}
	if !global {
		if err := installHooks(ctx, repo, self, out); err != nil {
			return withCode(exitUsage, err)
		}
	}
	return nil
}

// skippedURL is an LFS URL of the repository that install must not bind,
// and why.
type skippedURL struct{ url, why string }

// configuredURLs returns the LFS URLs of the repository's remotes that the
// user configured (lfs.url, lfs.pushurl, remote.NAME.lfsurl,
// remote.NAME.lfspushurl, .lfsconfig), push and fetch URLs both, and apart
// from them the URLs that belong to a Git host's own LFS server and must
// never be bound: those git-lfs derives from a Git remote's URL, and
// configured ones that name an LFS server's API (.../info/lfs).
func configuredURLs(repo *gitrepo.Repo) (bind []string, skipped []skippedURL) {
	seen := map[string]bool{}
	for _, ru := range repo.RemoteURLs() {
		u := strings.TrimRight(ru.URL, "/")
		if seen[u] {
			continue
		}
		seen[u] = true
		switch {
		case !ru.Configured:
			skipped = append(skipped, skippedURL{u, "which git-lfs derives from the Git remote " + ru.Remote + " (that host's own LFS server, not a bucket)"})
		case strings.HasSuffix(u, "/info/lfs"):
			skipped = append(skipped, skippedURL{u, "which names a Git LFS server's API (.../info/lfs), not a bucket"})
		default:
			bind = append(bind, u)
		}
	}
	return bind, skipped
}

// errNoBucketURL explains why install binds nothing in a repository whose
// only LFS URLs belong to a Git host's LFS server.
func errNoBucketURL(sk skippedURL) error {
	return fmt.Errorf("this repository has no bucket URL to bind: git-lfs uses %s, %s; "+
		"binding it would send every LFS push and pull there to S3 instead. "+
		"Set the bucket URL first, then run `datalfs install` again:\n"+
		"  git config lfs.url https://s3.REGION.amazonaws.com/BUCKET/PREFIX\n"+
		"or, for every clone, commit it: git config -f .lfsconfig lfs.url https://s3.REGION.amazonaws.com/BUCKET/PREFIX", sk.url, sk.why)
}

func uninstall(ctx context.Context, global bool, out io.Writer) error {
	repo := gitrepo.Here()
	if !global && !repo.InRepo() {
		return withCode(exitUsage, fmt.Errorf("not in a git repository: run `datalfs uninstall` inside one, or use --global"))
	}
	scope := scopeFlag(global)
	keys, _ := git(ctx, "config", scope, "--name-only", "--get-regexp", `^lfs\..*standalonetransferagent$`, "^"+agentName+"$")
	for _, key := range strings.Split(strings.TrimSpace(keys), "\n") {
		if key == "" {
			continue
		}
		if _, err := git(ctx, "config", scope, "--unset-all", key); err != nil {
			return withCode(exitUsage, err)
		}
	}
	if _, err := git(ctx, "config", scope, "--get-regexp", `^lfs\.customtransfer\.`+agentName+`\.`); err == nil {
		if _, err := git(ctx, "config", scope, "--remove-section", "lfs.customtransfer."+agentName); err != nil {
			return withCode(exitUsage, err)
		}
	}
	if err := uninstallDiffDriver(ctx, scope); err != nil {
		return withCode(exitUsage, err)
	}
	if !global {
		if err := uninstallHooks(ctx, repo, out); err != nil {
			return withCode(exitUsage, err)
		}
	}
	fmt.Fprintln(out, "Uninstalled datalfs from git config; git-lfs's own settings are untouched.")
	return nil
}

func scopeFlag(global bool) string {
	if global {
		return "--global"
	}
	return "--local"
}

// executable returns the absolute path of the running datalfs binary as the
// user invoked it, symlinks kept: a package manager's link
// (/opt/homebrew/bin/datalfs, an asdf shim, ~/.nix-profile/bin/datalfs)
// survives upgrades, while the versioned file it points to is removed by the
// next one. It falls back to the resolved binary when the name it was
// invoked by does not lead to this same file.
func executable() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find the datalfs binary: %w", err)
	}
	if invoked := invokedPath(os.Args[0]); invoked != "" && sameFile(invoked, self) {
		return invoked, nil
	}
	return filepath.Abs(self)
}

// invokedPath returns the absolute path that arg0 names: relative to the
// working directory when it has a slash, found on PATH when it has none.
func invokedPath(arg0 string) string {
	p := arg0
	if !strings.ContainsRune(arg0, filepath.Separator) {
		found, err := exec.LookPath(arg0)
		if err != nil {
			return ""
		}
		p = found
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return ""
	}
	return abs
}

// sameFile reports whether a and b, symlinks followed, are the same file.
func sameFile(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	return err == nil && os.SameFile(fa, fb)
}

// git runs git in the current directory and returns its trimmed output.
func git(ctx context.Context, args ...string) (string, error) {
	return gitcmd.Run(ctx, "", args...)
}
