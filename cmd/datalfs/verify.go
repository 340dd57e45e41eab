package main

import "github.com/urfave/cli/v2"

// verifyCommand is not written yet.
func verifyCommand() *cli.Command {
	return &cli.Command{Name: "verify", Hidden: true}
}
