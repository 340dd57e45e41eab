package main

import "github.com/urfave/cli/v2"

// manifestCommand groups the dataset manifest subcommands.
func manifestCommand() *cli.Command {
	return &cli.Command{Name: "manifest", Usage: "work with dataset manifests"}
}
