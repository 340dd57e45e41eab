package app

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/urfave/cli/v2"

	"github.com/datalfs/datalfs/dataset"
	"github.com/datalfs/datalfs/gitrepo"
	"github.com/datalfs/datalfs/internal/plural"
	"github.com/datalfs/datalfs/lineage"
	"github.com/datalfs/datalfs/manifest"
	"github.com/datalfs/datalfs/s3ref"
	"github.com/datalfs/datalfs/s3store"
)

// exitForgotten is the dataset commands' exit status when the only problems
// are assets deleted on purpose (tombstoned with `datalfs forget`).
const exitForgotten = 3

const datasetExit = "Exit status: 0 all good; 1 problems found; 2 usage or configuration error;\n" +
	"3 done, and the only problems are forgotten assets."

// datasetSubcommands are the dataset-version subcommands of `datalfs
// manifest`: build, verify, fetch, diff, lock and textconv (the diff driver).
func datasetSubcommands() []*cli.Command {
	jobs := &cli.IntFlag{Name: "jobs", Value: 16, Usage: "requests in flight"}
	remote := &cli.StringFlag{Name: "remote", Value: "origin", Usage: "the git remote whose LFS URL names the repository's bucket"}
	return []*cli.Command{
		{
			Name:      "build",
			Usage:     "list s3://BUCKET/PREFIX and write a JSON Lines manifest pinned to the current versions",
			ArgsUsage: "[--labels FILE] [-o FILE] s3://BUCKET/PREFIX",
			Description: "Writes one record per object, sorted by id (the key relative to PREFIX):\n" +
				`{"etag":...,"id":...,"size":...,"source-ref":"s3://BUCKET/KEY?versionId=..."}` + "\n" +
				"pinned to the current version when the bucket is versioned, with \"sha256\" when S3 keeps a\n" +
				"full-object SHA-256 checksum. --labels joins a CSV whose \"key\" column holds the key relative to\n" +
				"PREFIX (or s3://BUCKET/KEY); its other columns become fields. Map the result in .gitattributes\n" +
				"with manifest-id=/id manifest-ref=/source-ref.\n" + datasetExit,
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "labels", Usage: "CSV `FILE` of labels to join by its key column"},
				&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the manifest to `FILE` (default: stdout)"},
				remote,
			},
			Action: runDatasetBuild,
		},
		{
			Name:      "verify",
			Usage:     "check that every asset the manifests pin is still in the bucket, unchanged",
			ArgsUsage: "[--rev REV] [FILE...]",
			Description: "Checks each asset reference (manifest-ref, or every *-ref field) against its pin: the\n" +
				"version id, size, ETag and SHA-256 the record holds. Reports `MANIFEST:LINE: s3://BUCKET/KEY:\n" +
				"changed|missing|forgotten: ...`. With --rev, the manifests and their attributes are read from\n" +
				"that commit (Git LFS manifests from the local store, else the bucket); tombstones always come\n" +
				"from the working tree, or HEAD.\n" + datasetExit,
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "rev", Usage: "read the manifests at commit `REV` (default: the working tree)"},
				jobs, remote,
			},
			Action: func(c *cli.Context) error { return runDatasetCheck(c, "") },
		},
		{
			Name:      "fetch",
			Usage:     "materialise the assets the manifests pin into a directory, verified",
			ArgsUsage: "-o DIR [--rev REV | --lock FILE] [FILE...]",
			Description: "Downloads each asset, as pinned at REV, to DIR/<its BUCKET/KEY after the longest directory\n" +
				"common to all assets of that manifest>, checking size, SHA-256 and the MD5 ETag. Files go through\n" +
				"a temporary file and a rename; a file already there that verifies is kept, so a second run\n" +
				"resumes. --lock reads the commit and manifests from a lock file and refuses when their dataset\n" +
				"digest differs from the lock's.\n" + datasetExit,
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "rev", Usage: "read the manifests at commit `REV` (default: the working tree)"},
				&cli.StringFlag{Name: "lock", Usage: "rebuild the dataset a lock `FILE` pins"},
				&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Required: true, Usage: "target `DIR`"},
				jobs, remote,
			},
			Action: func(c *cli.Context) error {
				if c.String("output") == "" {
					return withCode(exitUsage, errors.New("-o DIR: say where to write the assets"))
				}
				return runDatasetCheck(c, c.String("output"))
			},
		},
		{
			Name:      "diff",
			Usage:     "records added, removed and changed between two commits, and the label balance",
			ArgsUsage: "REV1 REV2 [FILE...]",
			Description: "Matches records by id (manifest-id) within each manifest and prints `+`, `-` and `~` lines,\n" +
				"a summary, and per label (manifest-label) the record counts before and after.\n" +
				"Exit status: 0; 2 on usage or configuration error.",
			Flags:  []cli.Flag{remote},
			Action: runDatasetDiff,
		},
		{
			Name:      "lock",
			Usage:     "write a lock file: the commit, each manifest's digest and the dataset digest",
			ArgsUsage: "[-o dataset.lock.json] [--rev REV] [FILE...]",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "rev", Value: "HEAD", Usage: "lock the manifests at commit `REV`"},
				&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "dataset.lock.json", Usage: "write the lock to `FILE` (- for stdout)"},
				remote,
			},
			Action: runDatasetLock,
		},
		{
			Name:      "textconv",
			Usage:     "print a manifest's records sorted by id, one per line (the git diff driver)",
			ArgsUsage: "FILE",
			Hidden:    false,
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "id", Usage: "JSON `POINTER` of the record id (default: a top-level id field, else the first reference)"},
				&cli.StringFlag{Name: "input", Usage: "read FILE as `FORMAT`: jsonl, csv or json"},
				remote,
			},
			Action: runDatasetTextconv,
		},
	}
}

// datasetEnv is what the dataset commands share: the repository, the S3
// clients, and the store of the LFS URL (nil when there is none).
type datasetEnv struct {
	repo    *dataset.Repo
	clients *dataset.Clients
}

func openDatasetEnv(c *cli.Context, needRepo bool) (*datasetEnv, error) {
	ctx := c.Context
	lrepo := gitrepo.Here()
	env := &datasetEnv{}
	var store *s3store.Store
	opts := s3store.DefaultOptions()
	if lrepo.InRepo() {
		var err error
		if opts, err = s3store.LoadOptions(os.LookupEnv, lrepo.Config); err != nil {
			return nil, withCode(exitUsage, err)
		}
		store, _ = openStore(ctx, lrepo, "download", c.String("remote")) // no LFS URL: other buckets still work
	} else if needRepo {
		return nil, withCode(exitUsage, errors.New("not in a git repository: run this inside the repository that holds the manifests"))
	}
	env.clients = dataset.NewClients(store, opts)
	if lrepo.InRepo() {
		g, err := gitrepo.OpenWorktree(ctx, ".")
		if err != nil {
			return nil, withCode(exitUsage, err)
		}
		r := &dataset.Repo{Repo: g}
		if store != nil {
			r.FetchLFS = func(ctx context.Context, oid string, size int64, w io.WriterAt) error {
				return store.Download(ctx, oid, size, 0, w, func(int64) {})
			}
		}
		env.repo = r
	}
	return env, nil
}

func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// flagsFirst refuses arguments that look like flags after the first
// positional one: urfave/cli stops parsing flags there.
func flagsFirst(c *cli.Context) error {
	for _, a := range c.Args().Slice() {
		if strings.HasPrefix(a, "-") && a != "-" {
			return withCode(exitUsage, fmt.Errorf("%q: put flags before the other arguments (datalfs manifest %s %s ...)", a, c.Command.Name, a))
		}
	}
	return nil
}

func runDatasetBuild(c *cli.Context) error {
	if err := flagsFirst(c); err != nil {
		return err
	}
	if c.NArg() != 1 {
		return withCode(exitUsage, errors.New("give one s3://BUCKET/PREFIX to list"))
	}
	bucket, prefix, err := s3ref.ParsePrefix(c.Args().First())
	if err != nil {
		return withCode(exitUsage, err)
	}
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/" // a prefix names a folder: s3://b/train and s3://b/train/ are the same
	}
	env, err := openDatasetEnv(c, false)
	if err != nil {
		return err
	}
	cl, err := env.clients.For(c.Context, bucket)
	if err != nil {
		return withCode(exitUsage, err)
	}
	opt := dataset.BuildOptions{Bucket: bucket, Prefix: prefix}
	if l := c.String("labels"); l != "" {
		f, err := os.Open(l)
		if err != nil {
			return withCode(exitUsage, fmt.Errorf("--labels: %w", err))
		}
		defer f.Close()
		opt.Labels = f
	}
	prog := newProgress(c.App.ErrWriter)
	opt.Progress = func(n int) { prog.show("listed %d objects", n) }
	start := time.Now()
	var st dataset.BuildStats
	if o := c.String("output"); o != "" && o != "-" {
		st, err = dataset.BuildFile(c.Context, cl, opt, o)
	} else {
		st, err = dataset.Build(c.Context, cl, opt, c.App.Writer)
	}
	prog.clear()
	var ce *dataset.CreateError
	if errors.As(err, &ce) {
		err = fmt.Errorf("-o: %w", ce.Err)
	}
	if err != nil {
		return withCode(exitUsage, err)
	}
	pinned := "not versioned: references are not pinned to versions; turn versioning on to make old commits rebuildable"
	if st.Versioned {
		pinned = "pinned to the current versions"
	}
	el := time.Since(start).Seconds()
	fmt.Fprintf(c.App.ErrWriter, "%d records from s3://%s/%s (%s), %d labelled, in %.1fs (%.0f objects/s)\n",
		st.Records, bucket, prefix, pinned, st.Labelled, el, float64(st.Records)/max(el, 1e-9))
	if st.UnusedCount > 0 {
		fmt.Fprintf(c.App.ErrWriter, "warning: %d label rows match no object, e.g. %s\n", st.UnusedCount, strings.Join(st.UnusedLabels, ", "))
	}
	return nil
}

// manifestsAt resolves --rev and FILE arguments to manifests.
func (env *datasetEnv) manifestsAt(ctx context.Context, rev string, files []string) ([]dataset.Manifest, string, error) {
	commit := ""
	if rev != "" {
		var err error
		if commit, err = env.repo.Resolve(ctx, rev); err != nil {
			return nil, "", withCode(exitUsage, err)
		}
	}
	rel, err := env.repo.RelAll(files)
	if err != nil {
		return nil, "", withCode(exitUsage, err)
	}
	ms, err := env.repo.Manifests(ctx, commit, rel)
	if err != nil {
		return nil, "", withCode(exitUsage, err)
	}
	if len(ms) == 0 {
		return nil, "", withCode(exitUsage, errors.New("no manifests: map them in .gitattributes (e.g. `data/*.jsonl manifest-id=/id manifest-ref=/source-ref`) or name FILEs"))
	}
	return ms, commit, nil
}

func runDatasetCheck(c *cli.Context, dir string) error {
	ctx := c.Context
	if err := flagsFirst(c); err != nil {
		return err
	}
	if c.Int("jobs") < 1 || c.Int("jobs") > 256 {
		return withCode(exitUsage, errors.New("--jobs: want a number from 1 to 256"))
	}
	env, err := openDatasetEnv(c, true)
	if err != nil {
		return err
	}
	rev, files := c.String("rev"), c.Args().Slice()
	var lock *dataset.Lock
	if l := c.String("lock"); l != "" {
		if rev != "" || len(files) > 0 {
			return withCode(exitUsage, errors.New("--lock names the commit and the manifests: give no --rev and no FILEs with it"))
		}
		lk, err := dataset.ReadLock(l)
		if err != nil {
			return withCode(exitUsage, err)
		}
		lock = &lk
		rev = lk.Commit
		for _, m := range lk.Manifests {
			files = append(files, filepath.Join(env.repo.Top, filepath.FromSlash(m.Path)))
		}
	}
	ms, commit, err := env.manifestsAt(ctx, rev, files)
	if err != nil {
		return err
	}
	out, errw := c.App.Writer, c.App.ErrWriter
	if lock != nil {
		mis, err := lineage.CheckLock(ctx, env.repo, ms, *lock)
		if err != nil {
			return withCode(exitUsage, err)
		}
		if mis != nil {
			return lockMismatch(out, *mis, commit, *lock, c.String("lock"))
		}
	}
	tombs, err := env.repo.Tombstones(ctx)
	if err != nil {
		return withCode(exitUsage, err)
	}
	eng := &dataset.Engine{Repo: env.repo, Clients: env.clients, Tombs: tombs, Jobs: c.Int("jobs"), Dir: dir}
	start := time.Now()
	prog := newProgress(errw)
	verb := "checked"
	if dir != "" {
		verb = "fetched"
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return withCode(exitUsage, err)
		}
	}
	var lastLine time.Time
	var mu sync.Mutex
	eng.Progress = func(n, b int64) {
		if prog.on {
			prog.show("%s %s, %s", verb, plural.Count(int(n), "asset"), mib(b))
			return
		}
		if dir == "" {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if time.Since(lastLine) >= 2*time.Second {
			lastLine = time.Now()
			fmt.Fprintf(errw, "%s %s, %s\n", verb, plural.Count(int(n), "asset"), mib(b))
		}
	}
	sum, err := eng.Run(ctx, ms, func(f dataset.Finding) { fmt.Fprintln(out, f.String()) })
	prog.clear()
	if err != nil {
		// A malformed record, refused access, an unreachable endpoint or a
		// network that kept failing: the check could not be made.
		return withCode(exitUsage, err)
	}
	at := "the working tree"
	if commit != "" {
		at = "commit " + shortRev(commit)
	}
	el := time.Since(start).Seconds()
	line := fmt.Sprintf("%d manifests at %s, %d records, %d assets: %d ok", len(ms), at, sum.Records, sum.Assets, sum.OK)
	if dir != "" {
		line = fmt.Sprintf("%d manifests at %s, %d records, %d assets into %s: %d fetched (%s), %d already present", len(ms), at, sum.Records, sum.Assets, dir, sum.OK, mib(sum.Bytes), sum.Present)
	}
	line += fmt.Sprintf(", %d changed, %d missing, %d forgotten; %.1fs, %.0f assets/s", sum.Changed, sum.Missing, sum.Forgotten, el, float64(sum.Assets)/max(el, 1e-9))
	fmt.Fprintln(out, line)
	code := sum.ExitCode()
	if code == exitForgotten {
		fmt.Fprintln(out, "every asset not forgotten on purpose is there")
	}
	return silentExitIf(code)
}

// lockMismatch says how the dataset at commit is not the one lock (read
// from the file at path) pins, and refuses to go on.
func lockMismatch(out io.Writer, m lineage.LockMismatch, commit string, lock dataset.Lock, path string) error {
	if !m.Lineage {
		fmt.Fprintf(out, "digest mismatch: the manifests at %s hash to %s, the lock %s says %s\n", shortRev(commit), m.Got, path, m.Want)
		return withCode(exitProblems, errors.New("refusing to fetch a dataset that is not the locked one: check that the lock's commit and manifests are the ones trained on"))
	}
	got := m.Got
	if got == "" {
		got = "nothing (no record describes the manifests)"
	}
	fmt.Fprintf(out, "lineage mismatch: the records upstream of the manifests at %s (%s) hash to %s, the lock says %s\n",
		shortRev(lock.Commit), strings.Join(m.Steps, ", "), got, m.Want)
	return withCode(exitProblems, errors.New("refusing to fetch: the data, code, parameters or environment that made the locked manifests are not the locked ones; see `datalfs why` and `datalfs lineage verify --rev`"))
}

func silentExitIf(code int) error {
	if code == 0 {
		return nil
	}
	return silentExit(code)
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func shortRev(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}

func runDatasetLock(c *cli.Context) error {
	if err := flagsFirst(c); err != nil {
		return err
	}
	ctx := c.Context
	env, err := openDatasetEnv(c, true)
	if err != nil {
		return err
	}
	ms, commit, err := env.manifestsAt(ctx, c.String("rev"), c.Args().Slice())
	if err != nil {
		return err
	}
	l, err := lineage.NewLock(ctx, env.repo, ms, commit)
	if err != nil {
		return withCode(exitUsage, err)
	}
	if o := c.String("output"); o == "-" {
		_, err = c.App.Writer.Write(l.Marshal())
	} else {
		err = dataset.WriteLock(o, l)
		if err == nil {
			fmt.Fprintf(c.App.Writer, "locked %d manifests, %d records at commit %s: %s -> %s\n", len(l.Manifests), l.Records, shortRev(commit), l.Digest, o)
		}
	}
	return withCode(exitUsage, err)
}

func runDatasetDiff(c *cli.Context) error {
	if err := flagsFirst(c); err != nil {
		return err
	}
	ctx := c.Context
	if c.NArg() < 2 {
		return withCode(exitUsage, errors.New("give two revisions: datalfs manifest diff REV1 REV2 [FILE...]"))
	}
	env, err := openDatasetEnv(c, true)
	if err != nil {
		return err
	}
	files := c.Args().Slice()[2:]
	a, _, err := env.manifestsAt(ctx, c.Args().Get(0), files)
	if err != nil {
		return err
	}
	b, _, err := env.manifestsAt(ctx, c.Args().Get(1), files)
	if err != nil {
		return err
	}
	d, err := env.repo.Diff(ctx, a, b)
	if err != nil {
		return withCode(exitUsage, err)
	}
	w := bufio.NewWriter(c.App.Writer)
	d.Write(w)
	return withCode(exitUsage, w.Flush())
}

func runDatasetTextconv(c *cli.Context) error {
	if err := flagsFirst(c); err != nil {
		return err
	}
	if c.NArg() != 1 {
		return withCode(exitUsage, errors.New("give one FILE"))
	}
	ctx := c.Context
	name := c.Args().First()
	cfg := dataset.Config{ID: c.String("id"), Format: c.String("input")}
	if cfg.Format != "" {
		f, err := manifest.ParseFormat(cfg.Format)
		if err != nil {
			return withCode(exitUsage, err)
		}
		cfg.Format = string(f)
	}
	var src io.ReadCloser
	if env, err := openDatasetEnv(c, false); err == nil && env.repo != nil {
		// Resolves a Git LFS pointer (git may hand the driver the pointer).
		src, err = env.repo.Open(ctx, dataset.Manifest{Path: mustAbs(name)})
		if err != nil {
			return withCode(exitUsage, err)
		}
	} else {
		f, err := os.Open(name)
		if err != nil {
			return withCode(exitUsage, err)
		}
		src = f
	}
	defer src.Close()
	w := bufio.NewWriter(c.App.Writer)
	if err := dataset.Textconv(src, name, cfg, w); err != nil {
		return withCode(exitUsage, err)
	}
	return withCode(exitUsage, w.Flush())
}

func mustAbs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}
