package app

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/datalfs/datalfs/manifest"
)

// manifestCommand groups the dataset manifest subcommands.
func manifestCommand() *cli.Command {
	return &cli.Command{
		Name:        "manifest",
		Usage:       "work with dataset manifests",
		Subcommands: append([]*cli.Command{manifestValidateCommand()}, datasetSubcommands()...),
	}
}

func manifestValidateCommand() *cli.Command {
	return &cli.Command{
		Name:      "validate",
		Usage:     "check manifests (JSON Lines, CSV, JSON) against their JSON Schema",
		ArgsUsage: "[FILE...]",
		Description: `Checks every record of each manifest against the JSON Schema that
.gitattributes maps it to (manifest-schema=PATH), plus the cross-record
checks configured there (manifest-id, manifest-ref, manifest-max-bad).
With no FILE, checks every tracked file that has a schema; with --staged,
checks what is being committed (the index) instead of the working tree,
and also every committed manifest that a staged change to its schema, to a
schema that one refers to ($ref), or to .gitattributes can break.
Git LFS pointers are read from the local LFS store.

Exit status: 0 clean, 1 problems found, 2 usage or configuration error.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "schema", Usage: "check against this JSON Schema `FILE` instead of the mapped one"},
			&cli.StringFlag{Name: "format", Value: "text", Usage: "output `FORMAT`: text or json"},
			&cli.BoolFlag{Name: "staged", Usage: "check the staged content (what git commit would record)"},
			&cli.IntFlag{Name: "max-problems", Value: manifest.DefaultMaxProblems, Usage: "print at most `N` problems per file (0: none), and count the rest"},
			&cli.StringFlag{Name: "input", Usage: "read the files as `FORMAT`: jsonl, csv or json (default: by extension and content)"},
			&cli.StringFlag{Name: "records", Usage: "JSON `POINTER` of the records array in a JSON document, e.g. /annotations"},
			&cli.StringFlag{Name: "id", Usage: "JSON `POINTER` of a field that must be unique across records"},
			&cli.StringSliceFlag{Name: "ref", Usage: "JSON `POINTER` of a field that must hold s3://bucket/key or an LFS oid (repeatable)"},
			&cli.StringFlag{Name: "max-bad", Usage: "tolerate this many bad records: a count like 10 or a share like 1%"},
			&cli.BoolFlag{Name: "skip-unmapped", Usage: "skip named files that have no schema instead of failing (for hook frameworks)"},
			&cli.IntFlag{Name: "jobs", Usage: "number of validation workers (default: one per CPU)"},
		},
		Action: runManifestValidate,
	}
}

func runManifestValidate(c *cli.Context) error {
	outFormat := c.String("format")
	if outFormat != "text" && outFormat != "json" {
		return withCode(exitUsage, fmt.Errorf("--format %q: want text or json", outFormat))
	}
	input, err := manifest.ParseFormat(c.String("input"))
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("--input: %w", err))
	}
	maxBad, err := manifest.ParseAllowance(c.String("max-bad"))
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("--max-bad: %w", err))
	}
	maxProblems := c.Int("max-problems")
	if maxProblems < 0 {
		return withCode(exitUsage, errors.New("--max-problems must not be negative"))
	}
	if maxProblems == 0 {
		maxProblems = -1 // print none
	}
	req := manifest.Request{
		Files:        c.Args().Slice(),
		Staged:       c.Bool("staged"),
		SkipUnmapped: c.Bool("skip-unmapped"),
		Override: manifest.Config{
			Schema:  c.String("schema"),
			Format:  input,
			Records: c.String("records"),
			ID:      c.String("id"),
			Refs:    c.StringSlice("ref"),
			MaxBad:  maxBad,
		},
		Options: manifest.Options{MaxProblems: maxProblems, Jobs: c.Int("jobs")},
	}
	reason := ""
	req.Note = func(file, why string) {
		reason = why
		if outFormat == "text" {
			_ = manifest.WriteNote(c.App.Writer, file, why)
		}
	}

	stdout, stderr := c.App.Writer, c.App.ErrWriter
	code := exitOK
	checked := 0
	var results []manifest.FileResult
	err = manifest.Check(c.Context, req, func(rep *manifest.Report, err error) {
		checked++
		why := reason
		reason = ""
		if err != nil {
			code = exitUsage
		} else if !rep.OK() && code == exitOK {
			code = exitProblems
		}
		if outFormat == "json" {
			fr := manifest.Result(rep, err)
			fr.Reason = why
			results = append(results, fr)
			return
		}
		if err != nil {
			fmt.Fprintf(stderr, "datalfs: %v\n", err)
			return
		}
		_ = rep.WriteText(stdout)
	})
	if err != nil {
		return withCode(exitUsage, err)
	}
	if checked == 0 && len(req.Files) == 0 && !req.Staged && outFormat == "text" {
		fmt.Fprintf(stderr, "datalfs: no tracked file is mapped to a schema; add a line like `data/*.jsonl manifest-schema=schemas/labels.json` to .gitattributes\n")
	}
	if outFormat == "json" {
		if results == nil {
			results = []manifest.FileResult{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			OK    bool                  `json:"ok"`
			Files []manifest.FileResult `json:"files"`
		}{code == exitOK, results}); err != nil {
			return withCode(exitUsage, err)
		}
	}
	if code != exitOK {
		return silentExit(code)
	}
	return nil
}
