package main

import "github.com/urfave/cli/v2"

// doctorCommand is not written yet.
func doctorCommand() *cli.Command {
	return &cli.Command{Name: "doctor", Hidden: true}
}
