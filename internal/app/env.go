package app

import (
	"fmt"
	"io"
	"os"
	"path"

	"github.com/urfave/cli/v2"

	"github.com/datalfs/datalfs/gitrepo"
	"github.com/datalfs/datalfs/s3store"
)

func envCommand() *cli.Command {
	return &cli.Command{
		Name:      "env",
		Usage:     "show where objects go: LFS URL, bucket, region, endpoint, credential source (never a secret)",
		ArgsUsage: " ",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "remote", Value: "origin", Usage: "the git remote to resolve"},
		},
		Action: func(c *cli.Context) error {
			return printEnv(c, c.String("remote"), c.App.Writer)
		},
	}
}

func printEnv(c *cli.Context, remote string, w io.Writer) error {
	ctx := c.Context
	repo := gitrepo.Here()
	line := func(k, v string) { fmt.Fprintf(w, "%-15s %s\n", k+":", v) }
	line("version", c.App.Version)
	if repo.InRepo() {
		line("git dir", repo.GitDir)
		line("lfs temp dir", repo.TempDir())
	} else {
		line("git dir", "(not in a git repository)")
	}
	agentPath, _ := repo.Config("lfs.customtransfer." + agentName + ".path")
	line("agent path", orNone(agentPath, "not installed: run `datalfs install`"))

	rawURL, err := repo.LFSURL("upload", remote)
	if err != nil {
		line("lfs url", err.Error())
		return silentExit(exitProblems)
	}
	line("lfs url", rawURL)
	if !repo.LFSURLConfigured("upload", remote) {
		line("bound", "no: git-lfs derives this URL from the Git remote (that host's own LFS server, not a bucket); "+
			"set the bucket URL with `git config lfs.url https://s3.REGION.amazonaws.com/BUCKET/PREFIX`, then run `datalfs install`")
		return silentExit(exitProblems)
	}
	bound := "no: run `datalfs install` to make git-lfs use datalfs for this URL"
	switch agent := repo.StandaloneAgent(rawURL); agent {
	case agentName:
		bound = "yes"
	case "":
	default:
		bound = fmt.Sprintf("no: git-lfs uses the agent %q for this URL", agent)
	}
	line("bound", bound)
	loc, err := s3store.ParseURL(rawURL)
	if err != nil {
		line("bucket", err.Error())
		return silentExit(exitProblems)
	}
	line("bucket", loc.Bucket)
	line("prefix", orNone(loc.Prefix, "(none)"))
	line("object keys", "s3://"+loc.Bucket+"/"+path.Join(loc.Prefix, "lfs/objects/OID[0:2]/OID[2:4]/OID"))
	endpoint := "AWS (resolved by the SDK)"
	if v := loc.Variant(); v != "" {
		endpoint = "AWS, " + v + " (resolved by the SDK)"
	}
	line("endpoint", orNone(loc.Endpoint, endpoint))
	opts, err := s3store.LoadOptions(os.LookupEnv, repo.Config)
	if err != nil {
		line("options", err.Error())
		return silentExit(exitProblems)
	}
	store, err := s3store.New(ctx, loc, opts)
	if err != nil {
		line("region", err.Error())
		return silentExit(exitProblems)
	}
	line("region", store.Region())
	src, err := store.CredentialSource(ctx)
	if err != nil {
		line("credentials", err.Error())
	} else {
		line("credentials", "found, from "+src)
	}
	for _, s := range s3store.Settings {
		v, from := os.Getenv(s.EnvVar), s.EnvVar
		if v == "" {
			v, _ = repo.Config(s.GitKey)
			from = s.GitKey
		}
		if v != "" {
			line("option", fmt.Sprintf("%s = %s (%s)", s.GitKey, v, from))
		}
	}
	if err != nil {
		return silentExit(exitProblems)
	}
	return nil
}

func orNone(v, none string) string {
	if v == "" {
		return none
	}
	return v
}
