package app

import (
	"errors"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/datalfs/datalfs/doctor"
	"github.com/datalfs/datalfs/gitrepo"
)

func doctorCommand() *cli.Command {
	return &cli.Command{
		Name:      "doctor",
		Usage:     "check the setup: git, git-lfs, the agent's configuration, credentials and the bucket, each with a fix",
		ArgsUsage: " ",
		Description: "Prints one PASS, WARN, FAIL or SKIP line per check, with what to do below each problem.\n" +
			"FAIL means push or pull will not work; WARN means a risk (no bucket versioning, no lifecycle\n" +
			"rule for incomplete multipart uploads) or something that could not be checked. Exits 1 when any\n" +
			"check fails. Only --write-test writes to the bucket: a probe object under PREFIX/datalfs-doctor/,\n" +
			"deleted again, plus one written with the AWS SDK's default checksum headers to learn whether\n" +
			"the endpoint accepts them. Nothing secret is printed.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "write-test", Usage: "also write, read and delete probe objects under PREFIX/datalfs-doctor/"},
			&cli.StringFlag{Name: "remote", Value: "origin", Usage: "the git remote whose LFS URL to check"},
			&cli.DurationFlag{Name: "timeout", Value: 10 * time.Second, Usage: "time limit of each check"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return withCode(exitUsage, errors.New("doctor takes no arguments"))
			}
			if c.Duration("timeout") <= 0 {
				return withCode(exitUsage, errors.New("--timeout: want a positive duration such as 10s"))
			}
			cfg := doctor.Config{
				Repo:      gitrepo.Here(),
				Remote:    c.String("remote"),
				Agent:     agentName,
				WriteTest: c.Bool("write-test"),
				LookupEnv: os.LookupEnv,
				Timeout:   c.Duration("timeout"),
			}
			reports := doctor.Run(c.Context, doctor.Checks(cfg), cfg.Timeout)
			doctor.Print(c.App.Writer, reports)
			if doctor.Failed(reports) {
				return silentExit(exitProblems)
			}
			return nil
		},
	}
}
