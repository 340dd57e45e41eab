package main

import "github.com/urfave/cli/v2"

// gcCommand is not written yet.
func gcCommand() *cli.Command {
	return &cli.Command{Name: "gc", Hidden: true}
}
