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

	"github.com/datalfs/datalfs/agentsetup"
	"github.com/datalfs/datalfs/gitrepo"
)

// agentName is the custom transfer agent's name in git config.
const agentName = agentsetup.Agent

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

// install binds datalfs for the LFS URLs (see agentsetup.Install) and says
// what it wrote.
func install(ctx context.Context, global bool, rawURL string, out io.Writer) error {
	self, err := executable()
	if err != nil {
		return withCode(exitUsage, err)
	}
	res, err := agentsetup.Install(ctx, gitrepo.Here(), agentsetup.Options{Global: global, URL: rawURL, Self: self})
	if res.Configured {
		where := "this repository"
		if global {
			where = "your global git config"
		}
		if len(res.Bound) == 0 {
			fmt.Fprintf(out, "Installed the datalfs agent in %s, but the repository has no LFS URL yet.\n"+
				"Set one (for example in .lfsconfig: `git config -f .lfsconfig lfs.url https://BUCKET.s3.REGION.amazonaws.com/PREFIX`)\n"+
				"and run `datalfs install` again to bind it.\n", where)
		} else {
			fmt.Fprintf(out, "Installed: git-lfs in %s now moves objects for %s through %s.\n", where, strings.Join(res.Bound, " and "), self)
		}
		for _, sk := range res.Skipped {
			fmt.Fprintf(out, "Left alone: %s, %s.\n", sk.URL, sk.Why)
		}
	}
	if res.Hook {
		fmt.Fprintln(out, "Installed the pre-commit hook: commits run `datalfs manifest validate --staged` (skip with git commit --no-verify).")
	}
	return withCode(exitUsage, err)
}

// uninstall removes what install wrote (see agentsetup.Uninstall).
func uninstall(ctx context.Context, global bool, out io.Writer) error {
	if err := agentsetup.Uninstall(ctx, gitrepo.Here(), global); err != nil {
		return withCode(exitUsage, err)
	}
	fmt.Fprintln(out, "Uninstalled datalfs from git config; git-lfs's own settings are untouched.")
	return nil
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
