package app

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/datalfs/datalfs/gitrepo"
	"github.com/datalfs/datalfs/lineage"
	"github.com/datalfs/datalfs/manifest"
)

// runCommand is `datalfs run`: run a step and record its lineage.
func runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "run a command that turns inputs into outputs, and record it as a lineage step",
		ArgsUsage: "--step NAME --input PATH... --output PATH... [--param FILE[:KEY]]... [--env-file FILE]... -- COMMAND [ARGS...]",
		Description: "Runs COMMAND here. Only when it exits 0, and its outputs that are mapped manifests pass\n" +
			"`manifest validate`, writes " + lineage.Dir + "/NAME.json (an in-toto Statement with a SLSA Provenance\n" +
			"predicate: outputs and their SHA-256, command, code commit, inputs with their SHA-256 and commit,\n" +
			"parameter values, environment file digests, times) and stages it with the outputs.\n" +
			"Refuses when tracked files other than the outputs differ from HEAD, or a declared file is not\n" +
			"committed, unless --allow-dirty. A Git LFS file's digest is its oid; an s3:// input must be\n" +
			"pinned with ?versionId=. --env-file takes a file, or an image digest NAME@sha256:HEX.\n" +
			"Exit status: COMMAND's own when it fails; 1 an output is missing or invalid; 2 refused.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "step", Required: true, Usage: "the step's `NAME` (its record is " + lineage.Dir + "/NAME.json)"},
			&cli.StringSliceFlag{Name: "input", Usage: "a `PATH` (or s3://BUCKET/KEY?versionId=V) the command reads (repeatable)"},
			&cli.StringSliceFlag{Name: "output", Usage: "a `PATH` the command writes (repeatable)"},
			&cli.StringSliceFlag{Name: "param", Usage: "record the value at `FILE[:KEY]` of a YAML or JSON file (KEY: dotted path; repeatable)"},
			&cli.StringSliceFlag{Name: "env-file", Usage: "record the SHA-256 of `FILE` (requirements.txt, uv.lock) or an image NAME@sha256:HEX (repeatable)"},
			&cli.BoolFlag{Name: "allow-dirty", Usage: "run even when the tree differs from HEAD; the record says it was dirty"},
		},
		Action: func(c *cli.Context) error {
			res, err := lineage.Run(c.Context, lineage.RunOptions{
				Step: c.String("step"), Inputs: c.StringSlice("input"), Outputs: c.StringSlice("output"),
				Params: c.StringSlice("param"), EnvFiles: c.StringSlice("env-file"), AllowDirty: c.Bool("allow-dirty"),
				Argv: c.Args().Slice(), Version: version, Validate: validateOutputs(c),
				Stdin: c.App.Reader, Stdout: c.App.Writer, Stderr: c.App.ErrWriter,
			})
			if err != nil {
				return lineageExit(err)
			}
			dirty := ""
			if res.Step.Dirty() {
				dirty = " (dirty tree)"
			}
			fmt.Fprintf(c.App.ErrWriter, "recorded step %s at commit %s%s: %s, staged with %s\n",
				res.Step.Name, shortRev(res.Step.Commit()), dirty, res.Record, strings.Join(res.Step.Outputs(), ", "))
			return nil
		},
	}
}

// validateOutputs checks the outputs that are mapped manifests with
// `manifest validate`, printing its report for those that fail.
func validateOutputs(c *cli.Context) func(ctx context.Context, top string, outputs []string) error {
	return func(ctx context.Context, top string, outputs []string) error {
		var bad []string
		req := manifest.Request{Dir: top, Files: outputs, SkipUnmapped: true, Options: manifest.Options{MaxProblems: manifest.DefaultMaxProblems}}
		err := manifest.Check(ctx, req, func(rep *manifest.Report, err error) {
			if err != nil {
				bad = append(bad, err.Error())
				return
			}
			if !rep.OK() {
				_ = rep.WriteText(c.App.ErrWriter)
				bad = append(bad, rep.File)
			}
		})
		if err != nil {
			return err
		}
		if len(bad) > 0 {
			return errors.New(strings.Join(bad, "; "))
		}
		return nil
	}
}

// lineageExit maps lineage errors to exit codes.
func lineageExit(err error) error {
	var ee *lineage.ExitError
	var ue *lineage.UsageError
	switch {
	case errors.As(err, &ee):
		return withCode(ee.Code, err)
	case errors.As(err, &ue):
		return withCode(exitUsage, err)
	}
	return withCode(exitProblems, err)
}

var revFlag = &cli.StringFlag{Name: "rev", Usage: "read the records and files at commit `REV` (default: the working tree)"}

// openLineage opens the repository and resolves --rev (def when unset).
func openLineage(c *cli.Context, def string) (*lineage.Repo, gitrepo.Source, error) {
	r, err := lineage.Open(c.Context, ".")
	if err != nil {
		return nil, gitrepo.Source{}, withCode(exitUsage, err)
	}
	rev := c.String("rev")
	if rev == "" {
		rev = def
	}
	var src gitrepo.Source
	if rev != "" {
		if src.Rev, err = r.Resolve(c.Context, rev); err != nil {
			return nil, src, withCode(exitUsage, err)
		}
	}
	return r, src, nil
}

// whyCommand is `datalfs why PATH`.
func whyCommand() *cli.Command {
	return &cli.Command{
		Name:      "why",
		Usage:     "show the steps that made a file, down to its source data (or, --downstream, what was made from it)",
		ArgsUsage: "[--rev REV] [--format text|json|dot|mermaid] [--downstream] PATH",
		Flags: []cli.Flag{
			revFlag,
			&cli.StringFlag{Name: "format", Value: "text", Usage: "output `FORMAT`: text, json, dot or mermaid"},
			&cli.BoolFlag{Name: "downstream", Usage: "list the steps derived from PATH instead, in the order to rebuild them"},
		},
		Action: runWhy,
	}
}

func runWhy(c *cli.Context) error {
	if err := flagsFirst(c); err != nil {
		return err
	}
	format := c.String("format")
	if format != "text" && format != "json" && format != "dot" && format != "mermaid" {
		return withCode(exitUsage, fmt.Errorf("--format %q: want text, json, dot or mermaid", format))
	}
	if c.NArg() != 1 {
		return withCode(exitUsage, errors.New("give one PATH"))
	}
	r, src, err := openLineage(c, "")
	if err != nil {
		return err
	}
	path, err := r.Rel(c.Args().First())
	if err != nil {
		return withCode(exitUsage, err)
	}
	steps, err := r.Load(c.Context, src)
	if err != nil {
		return withCode(exitUsage, err)
	}
	g, err := lineage.NewGraph(steps)
	if err != nil {
		return withCode(exitProblems, err)
	}
	out := c.App.Writer
	if c.Bool("downstream") {
		down, err := g.Downstream(path)
		if err != nil {
			return withCode(exitProblems, err)
		}
		switch format {
		case "text":
			if len(down) == 0 {
				fmt.Fprintf(out, "no step reads %s\n", path)
			}
			for _, s := range down {
				fmt.Fprintf(out, "%s -> %s\n", s.Name, strings.Join(s.Outputs(), ", "))
			}
		case "json":
			type item struct {
				Step    string   `json:"step"`
				Outputs []string `json:"outputs"`
			}
			list := []item{}
			for _, s := range down {
				list = append(list, item{s.Name, s.Outputs()})
			}
			return withCode(exitUsage, lineage.WriteJSON(out, list))
		default:
			return withCode(exitUsage, lineage.WriteGraph(out, format, down, path))
		}
		return nil
	}
	n, err := g.Why(path)
	if err != nil {
		return withCode(exitProblems, err)
	}
	switch format {
	case "text":
		n.WriteText(out)
	case "json":
		return withCode(exitUsage, lineage.WriteJSON(out, n))
	default:
		cl, err := g.Closure([]string{path})
		if err != nil {
			return withCode(exitProblems, err)
		}
		return withCode(exitUsage, lineage.WriteGraph(out, format, cl, path))
	}
	return nil
}

// lineageCommand groups status, verify, repro and export.
func lineageCommand() *cli.Command {
	return &cli.Command{
		Name:  "lineage",
		Usage: "check, reproduce and export the steps recorded by `datalfs run`",
		Subcommands: []*cli.Command{
			{
				Name:      "status",
				Usage:     "list the steps that are outdated: an input, the code, a parameter or an environment file changed",
				ArgsUsage: "[--rev REV]",
				Description: "Steps are listed upstream first; a step downstream of an outdated one is outdated too.\n" +
					"Exit status: 0 everything up to date; 1 something is outdated; 2 usage or configuration error.",
				Flags:  []cli.Flag{revFlag},
				Action: runLineageStatus,
			},
			{
				Name:      "verify",
				Usage:     "check that the records describe the committed outputs and inputs",
				ArgsUsage: "[--rev REV | --staged]",
				Description: "Each record must be well formed; each output must have the recorded SHA-256 at REV (default\n" +
					"HEAD), so an output edited by hand after its run is caught; each input, code file and environment\n" +
					"file must exist at the recorded commit with the recorded SHA-256; no cycles. --staged checks the\n" +
					"index, and only the staged records and records of staged outputs (the pre-commit hook).\n" +
					"Exit status: 0 all good; 1 problems found; 2 usage or configuration error.",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "rev", Usage: "check at commit `REV` (default: HEAD)"},
					&cli.BoolFlag{Name: "staged", Usage: "check what is being committed"},
				},
				Action: runLineageVerify,
			},
			{
				Name:      "repro",
				Usage:     "re-run a step in a temporary worktree at its recorded commit and compare the outputs",
				ArgsUsage: "[--rev REV] NAME",
				Description: "Reads the record at REV (default HEAD), checks out the step's code commit in a temporary\n" +
					"git worktree (removed afterwards), runs the command and compares each output's SHA-256 with\n" +
					"the record. Exit status: 0 reproduced; 1 diverged or the command failed; 2 usage error.",
				Flags:  []cli.Flag{&cli.StringFlag{Name: "rev", Usage: "read the record at commit `REV` (default: HEAD)"}},
				Action: runLineageRepro,
			},
			{
				Name:      "export",
				Usage:     "print the records as OpenLineage RunEvents, one JSON object per line",
				ArgsUsage: "--format openlineage [--rev REV] [--namespace NS]",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "format", Value: "openlineage", Usage: "output `FORMAT`: openlineage"},
					&cli.StringFlag{Name: "namespace", Usage: "OpenLineage `NAMESPACE` of jobs and files (default: the origin URL, else file://TOP)"},
					revFlag,
				},
				Action: runLineageExport,
			},
		},
	}
}

func runLineageStatus(c *cli.Context) error {
	r, src, err := openLineage(c, "")
	if err != nil {
		return err
	}
	st, err := r.Status(c.Context, src)
	if err != nil {
		return withCode(exitUsage, err)
	}
	n := 0
	for _, s := range st {
		if s.Outdated() {
			n++
			fmt.Fprintf(c.App.Writer, "%s: outdated: %s\n", s.Step.Name, strings.Join(s.Reasons, "; "))
		} else {
			fmt.Fprintf(c.App.Writer, "%s: up to date\n", s.Step.Name)
		}
	}
	fmt.Fprintf(c.App.Writer, "%d steps in %s: %d up to date, %d outdated\n", len(st), src, len(st)-n, n)
	if n > 0 {
		return silentExit(exitProblems)
	}
	return nil
}

func runLineageVerify(c *cli.Context) error {
	if c.Bool("staged") && c.String("rev") != "" {
		return withCode(exitUsage, errors.New("--staged checks the index: give no --rev with it"))
	}
	def := "HEAD"
	if c.Bool("staged") {
		def = "" // the first commit has no HEAD yet
	}
	r, src, err := openLineage(c, def)
	if err != nil {
		return err
	}
	if c.Bool("staged") {
		src = gitrepo.Source{Staged: true}
	}
	res, err := r.Verify(c.Context, src)
	if err != nil {
		return withCode(exitUsage, err)
	}
	for _, p := range res.Problems {
		fmt.Fprintln(c.App.Writer, p.String())
	}
	if len(res.Problems) > 0 {
		fmt.Fprintf(c.App.Writer, "%d problems in the lineage records (%s)\n", len(res.Problems), src)
		return silentExit(exitProblems)
	}
	if !c.Bool("staged") { // the hook stays quiet when all is well
		fmt.Fprintf(c.App.Writer, "%d records verified in %s\n", res.Checked, src)
	}
	return nil
}

func runLineageRepro(c *cli.Context) error {
	if err := flagsFirst(c); err != nil {
		return err
	}
	if c.NArg() != 1 {
		return withCode(exitUsage, errors.New("give one step NAME"))
	}
	r, src, err := openLineage(c, "HEAD")
	if err != nil {
		return err
	}
	res, err := r.Repro(c.Context, src.Rev, c.Args().First(), c.App.ErrWriter)
	if err != nil {
		return lineageExit(err)
	}
	out := c.App.Writer
	for _, w := range res.Warnings {
		fmt.Fprintf(out, "warning: %s\n", w)
	}
	for _, o := range res.Outputs {
		switch {
		case o.Same():
			fmt.Fprintf(out, "%s: same sha256 %s\n", o.Path, shortRev(o.Got))
		case o.Got == "":
			fmt.Fprintf(out, "%s: not written by the re-run\n", o.Path)
		default:
			fmt.Fprintf(out, "%s: sha256 %s, the record says %s\n", o.Path, shortRev(o.Got), shortRev(o.Want))
			if o.Summary != "" {
				fmt.Fprintf(out, "  %s\n", o.Summary)
			}
		}
	}
	if !res.Reproduced() {
		fmt.Fprintf(out, "diverged: step %s at commit %s did not give the recorded outputs\n", res.Step.Name, shortRev(res.Step.Commit()))
		return silentExit(exitProblems)
	}
	fmt.Fprintf(out, "reproduced: step %s at commit %s\n", res.Step.Name, shortRev(res.Step.Commit()))
	return nil
}

func runLineageExport(c *cli.Context) error {
	if f := c.String("format"); f != "openlineage" {
		return withCode(exitUsage, fmt.Errorf("--format %q: want openlineage", f))
	}
	r, src, err := openLineage(c, "")
	if err != nil {
		return err
	}
	steps, err := r.Load(c.Context, src)
	if err != nil {
		return withCode(exitUsage, err)
	}
	ns := c.String("namespace")
	if ns == "" {
		ns = "file://" + r.Top
		if u := r.OriginURL(c.Context); u != "" {
			ns = u
		}
	}
	return withCode(exitUsage, lineage.Export(c.App.Writer, ns, steps))
}
