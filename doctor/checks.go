package doctor

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/datalfs/datalfs/gitrepo"
	"github.com/datalfs/datalfs/internal/gitcmd"
	"github.com/datalfs/datalfs/s3store"
)

// Config is what the checks examine.
type Config struct {
	// Repo is the repository around the current directory.
	Repo *gitrepo.Repo
	// Remote is the git remote whose LFS URL is checked ("" for the default).
	Remote string
	// Agent is the custom transfer agent's name in git config.
	Agent string
	// WriteTest allows writing, reading and deleting probe objects under
	// PREFIX/datalfs-doctor/.
	WriteTest bool
	// LookupEnv reads the environment (os.LookupEnv).
	LookupEnv func(string) (string, bool)
	// Timeout bounds each check; the store is built so that requests give up
	// within it.
	Timeout time.Duration
}

// Check names, in the order they are reported.
const (
	CheckGit        = "git"
	CheckGitLFS     = "git-lfs"
	CheckLFSURL     = "lfs url"
	CheckAgent      = "agent"
	CheckLFSConfig  = ".lfsconfig"
	CheckLocation   = "bucket location"
	CheckCreds      = "credentials"
	CheckBucket     = "bucket"
	CheckMissingObj = "missing objects"
	CheckWrite      = "write test"
	CheckChecksums  = "checksum headers"
	CheckVersioning = "versioning"
	CheckLifecycle  = "lifecycle"
)

// ProbePrefix is the key prefix, under the LFS URL's prefix, of the objects
// doctor writes with WriteTest.
const ProbePrefix = "datalfs-doctor"

// env is what the checks find out and hand on to the checks that need them.
// A check writes its fields before it finishes; the checks that need it read
// them after, so no lock is needed.
type env struct {
	cfg   Config
	url   string // the LFS URL for uploads
	loc   s3store.Location
	store *s3store.Store
	probe *s3store.Store // the store at PREFIX/datalfs-doctor

	// writing is held by the checks that write and delete probe objects,
	// one at a time: a server that removes emptied directories after a
	// delete ([s3store.QuirkEmptiedDirsRemoved]) can otherwise pull the
	// directory from under the other check's upload.
	writing sync.Mutex
}

// Checks returns every check for cfg.
func Checks(cfg Config) []Check {
	if cfg.LookupEnv == nil {
		cfg.LookupEnv = os.LookupEnv
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	e := &env{cfg: cfg}
	return []Check{
		{Name: CheckGit, Run: e.checkGit},
		{Name: CheckGitLFS, Run: e.checkGitLFS},
		{Name: CheckLFSURL, Run: e.checkLFSURL},
		{Name: CheckAgent, Needs: []string{CheckLFSURL}, Run: e.checkAgent},
		{Name: CheckLFSConfig, Run: e.checkLFSConfig},
		{Name: CheckLocation, Needs: []string{CheckLFSURL}, Run: e.checkLocation},
		{Name: CheckCreds, Needs: []string{CheckLocation}, Run: e.checkCredentials},
		{Name: CheckBucket, Needs: []string{CheckCreds}, Run: e.checkBucket},
		{Name: CheckMissingObj, Needs: []string{CheckBucket}, Run: e.checkMissingObject},
		{Name: CheckWrite, Needs: []string{CheckBucket}, Run: e.checkWrite},
		{Name: CheckChecksums, Needs: []string{CheckBucket}, Run: e.checkChecksums},
		{Name: CheckVersioning, Needs: []string{CheckBucket}, Run: e.checkVersioning},
		{Name: CheckLifecycle, Needs: []string{CheckBucket}, Run: e.checkLifecycle},
		{Name: CheckCondWrites, Needs: []string{CheckBucket}, Run: e.checkCondWrites},
	}
}

func pass(format string, args ...any) Result {
	return Result{Status: Pass, Message: fmt.Sprintf(format, args...)}
}

func warn(fix, format string, args ...any) Result {
	return Result{Status: Warn, Message: fmt.Sprintf(format, args...), Fix: fix}
}

func fail(fix, format string, args ...any) Result {
	return Result{Status: Fail, Message: fmt.Sprintf(format, args...), Fix: fix}
}

// git runs git and returns its trimmed standard output.
func git(ctx context.Context, args ...string) (string, error) {
	return gitcmd.Run(ctx, "", args...)
}

var versionRE = regexp.MustCompile(`(\d+)\.(\d+)(?:\.(\d+))?`)

// parseVersion returns the first dotted version in s as three numbers.
func parseVersion(s string) ([3]int, bool) {
	m := versionRE.FindStringSubmatch(s)
	if m == nil {
		return [3]int{}, false
	}
	var v [3]int
	for i := range 3 {
		v[i], _ = strconv.Atoi(m[i+1])
	}
	return v, true
}

func older(v, than [3]int) bool {
	for i := range 3 {
		if v[i] != than[i] {
			return v[i] < than[i]
		}
	}
	return false
}

func (e *env) checkGit(ctx context.Context) Result {
	out, err := git(ctx, "version")
	if err != nil {
		return fail("install git 2.x and make sure it is on PATH", "git does not run: %v", err)
	}
	v, ok := parseVersion(out)
	if !ok {
		return warn("", "cannot read the version from %q", out)
	}
	if older(v, [3]int{2, 0, 0}) {
		return warn("upgrade git to 2.x", "%s is very old; git-lfs 3 expects git 2.x", out)
	}
	return pass("%s", out)
}

// Tested git-lfs versions: the oldest datalfs runs its tests with.
var (
	minGitLFS    = [3]int{3, 0, 0}
	testedGitLFS = [3]int{3, 3, 0}
)

func (e *env) checkGitLFS(ctx context.Context) Result {
	out, err := git(ctx, "lfs", "version")
	if err != nil {
		return fail("install git-lfs 3 (https://git-lfs.com, or your package manager), then run `git lfs install`",
			"git-lfs does not run: %v", err)
	}
	first, _, _ := strings.Cut(out, " ")
	v, ok := parseVersion(first)
	if !ok {
		return warn("", "cannot read the version from %q", out)
	}
	if older(v, minGitLFS) {
		return fail("upgrade git-lfs to 3.x", "%s is too old: datalfs needs git-lfs 3.0 or newer", first)
	}
	if _, err := git(ctx, "config", "--get", "filter.lfs.process"); err != nil {
		return fail("run `git lfs install`", "%s is installed but its git filters are not set up: files would be committed whole, not as pointers", first)
	}
	if e.cfg.Repo != nil && e.cfg.Repo.InRepo() {
		hook, err := git(ctx, "rev-parse", "--git-path", "hooks/pre-push")
		if err == nil {
			b, err := os.ReadFile(hook)
			if err != nil || !bytes.Contains(b, []byte("git lfs pre-push")) && !bytes.Contains(b, []byte("git-lfs pre-push")) {
				return warn("run `git lfs install` in this repository",
					"%s, but this repository has no git-lfs pre-push hook: `git push` would not upload LFS objects", first)
			}
		}
	}
	if older(v, testedGitLFS) {
		return warn("upgrade git-lfs", "%s is older than 3.3.0, the oldest git-lfs datalfs is tested with", first)
	}
	return pass("%s", first)
}

func (e *env) checkLFSURL(ctx context.Context) Result {
	repo := e.cfg.Repo
	if repo == nil || !repo.InRepo() {
		return fail("run `datalfs doctor` inside the repository", "not in a git repository")
	}
	// git-lfs turns a URL of an unknown scheme (s3://) into an SSH-style
	// endpoint and then an https:// URL nobody meant: catch it at the source.
	remote := e.cfg.Remote
	if remote == "" {
		remote = "origin"
	}
	for _, key := range []string{"lfs.url", "lfs.pushurl", "remote." + remote + ".lfsurl", "remote." + remote + ".lfspushurl"} {
		v, _ := repo.Config(key)
		if scheme, _, ok := strings.Cut(v, "://"); ok && scheme != "https" && scheme != "http" {
			return fail("use an https:// URL: https://BUCKET.s3.REGION.amazonaws.com/PREFIX, or http(s)://HOST:PORT/BUCKET/PREFIX for other S3 servers",
				"%s = %s: git-lfs cannot use %s:// URLs (it takes them for SSH remotes)", key, v, scheme)
		}
	}
	up, err := repo.LFSURL("upload", e.cfg.Remote)
	if err != nil {
		return fail("", "%v", err)
	}
	for _, op := range []string{"upload", "download"} {
		if !repo.LFSURLConfigured(op, e.cfg.Remote) {
			u, _ := repo.LFSURL(op, e.cfg.Remote)
			return fail("git config lfs.url https://s3.REGION.amazonaws.com/BUCKET/PREFIX (or commit it: git config -f .lfsconfig lfs.url ...), then run `datalfs install`",
				"no LFS URL is set: git-lfs derives %s from the Git remote, which is that host's own LFS server, not a bucket", u)
		}
	}
	loc, err := s3store.ParseURL(up)
	if err != nil {
		return fail("", "%v", err)
	}
	down, err := repo.LFSURL("download", e.cfg.Remote)
	if err != nil {
		return fail("", "%v", err)
	}
	e.url, e.loc = up, loc
	if strings.TrimRight(down, "/") != strings.TrimRight(up, "/") {
		if _, err := s3store.ParseURL(down); err != nil {
			return fail("", "download URL: %v", err)
		}
		return pass("%s for pushes (lfs.pushurl), %s for downloads; the checks below use the push URL", up, down)
	}
	return pass("%s", up)
}

func (e *env) checkAgent(ctx context.Context) Result {
	repo, name := e.cfg.Repo, e.cfg.Agent
	install := "run `datalfs install` in this repository"
	key := "lfs.customtransfer." + name
	p, ok := repo.Config(key + ".path")
	if !ok || p == "" {
		return fail(install, "%s.path is not set: git-lfs does not know the datalfs agent", key)
	}
	resolved := p
	if !strings.Contains(p, "/") {
		lp, err := exec.LookPath(p)
		if err != nil {
			return fail(install, "%s.path = %s is not on PATH", key, p)
		}
		resolved = lp
	}
	st, err := os.Stat(resolved)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fail(install+" (the binary has moved)", "%s.path = %s does not exist", key, p)
	case err != nil:
		return fail(install, "%s.path = %s: %v", key, p, err)
	case !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0:
		return fail(install, "%s.path = %s is not an executable file", key, p)
	}
	if args, _ := repo.Config(key + ".args"); strings.TrimSpace(args) != "transfer" {
		// The value is not shown: it is in the process list, but it might
		// hold what does not belong there.
		return fail(install+"; never put credentials in args: they land in .git/config and the process list",
			"%s.args is not `transfer`: git-lfs would not start the agent", key)
	}
	if dir, _ := repo.Config(key + ".direction"); dir != "" && dir != "both" {
		return fail(install, "%s.direction = %s: the agent must move objects both ways", key, dir)
	}
	for _, op := range []string{"upload", "download"} {
		u, err := repo.LFSURL(op, e.cfg.Remote)
		if err != nil {
			return fail("", "%v", err)
		}
		switch agent := repo.StandaloneAgent(u); agent {
		case name:
		case "":
			return fail(install+" (or `datalfs install --global --url URL` for every repository under a bucket)",
				"no standalone transfer agent is bound to %s: git-lfs would look for an LFS server there", u)
		default:
			return fail(install, "git-lfs uses the agent %q, not %q, for %s", agent, name, u)
		}
	}
	return pass("%s, bound to the LFS URL", p)
}

// safeLFSConfigKeys are the keys git-lfs reads from .lfsconfig
// (config/git_fetcher.go in git-lfs 3.8.1); it ignores, and warns about,
// every other key.
var safeLFSConfigKeys = map[string]bool{
	"lfs.allowincompletepush": true, "lfs.fetchexclude": true, "lfs.fetchinclude": true,
	"lfs.gitprotocol": true, "lfs.locksverify": true, "lfs.pushurl": true,
	"lfs.skipdownloaderrors": true, "lfs.url": true,
}

// UnsafeLFSConfigKeys returns the keys that git-lfs ignores in .lfsconfig,
// out of keys as `git config --list` prints them.
func UnsafeLFSConfigKeys(keys []string) []string {
	var out []string
	for _, key := range keys {
		parts := strings.Split(key, ".")
		last := parts[len(parts)-1]
		switch {
		case len(parts) == 4 && parts[0] == "lfs" && parts[1] == "extension":
			if last != "priority" {
				out = append(out, key)
			}
		case len(parts) > 1 && parts[0] == "remote":
			if len(parts) < 3 || last != "lfsurl" {
				out = append(out, key)
			}
		case len(parts) > 2 && parts[0] == "lfs" && last == "access":
		case !safeLFSConfigKeys[key]:
			out = append(out, key)
		}
	}
	return out
}

func (e *env) checkLFSConfig(ctx context.Context) Result {
	repo := e.cfg.Repo
	if repo == nil || !repo.InRepo() {
		return Result{Status: Skip, Message: "not in a git repository"}
	}
	// git-lfs reads the working tree's file, else the index's, else HEAD's.
	var source []string
	where := ".lfsconfig"
	file := path.Join(repo.Top, ".lfsconfig")
	if _, err := os.Stat(file); err == nil && repo.Top != "" {
		source = []string{"--file", file}
	} else {
		for _, blob := range []string{":.lfsconfig", "HEAD:.lfsconfig"} {
			if _, err := git(ctx, "cat-file", "-e", blob); err == nil {
				source, where = []string{"--blob", blob}, blob
				break
			}
		}
	}
	if source == nil {
		return pass("none (the LFS URL comes from git config)")
	}
	out, err := git(ctx, append(append([]string{"config"}, source...), "--name-only", "--list")...)
	if err != nil {
		return fail("fix the syntax of .lfsconfig", "%s cannot be read: %v", where, err)
	}
	var keys []string
	for _, k := range strings.Split(out, "\n") {
		if k != "" {
			keys = append(keys, k)
		}
	}
	if bad := UnsafeLFSConfigKeys(keys); len(bad) > 0 {
		return warn("move them to git config (`git config KEY VALUE`, or --global) and delete them from .lfsconfig; only the LFS URL belongs there (see .lfsconfig.example)",
			"git-lfs ignores these keys in %s, and warns on every run: %s", where, strings.Join(bad, ", "))
	}
	return pass("%s holds only keys git-lfs accepts (%s)", where, strings.Join(keys, ", "))
}

func (e *env) checkLocation(ctx context.Context) Result {
	opts, err := s3store.LoadOptions(e.cfg.LookupEnv, e.cfg.Repo.Config)
	if err != nil {
		return fail("fix or unset the setting", "%v", err)
	}
	// Give up fast: two attempts, short waits, no request outliving the check.
	opts.MaxAttempts = 2
	opts.MaxBackoff = time.Second
	opts.IdleTimeout = e.cfg.Timeout
	store, err := s3store.New(ctx, e.loc, opts)
	if err != nil {
		return fail("", "%v", err)
	}
	probeLoc := e.loc
	probeLoc.Prefix = strings.TrimPrefix(path.Join(e.loc.Prefix, ProbePrefix), "/")
	probe, err := s3store.New(ctx, probeLoc, opts)
	if err != nil {
		return fail("", "%v", err)
	}
	e.store, e.probe = store, probe
	endpoint := e.loc.Endpoint
	if endpoint == "" {
		endpoint = "AWS"
	}
	prefix := e.loc.Prefix
	if prefix == "" {
		prefix = "(none: the bucket root)"
	}
	return pass("bucket %s, prefix %s, region %s, endpoint %s", e.loc.Bucket, prefix, store.Region(), endpoint)
}

func (e *env) checkCredentials(ctx context.Context) Result {
	src, err := e.store.CredentialSource(ctx)
	if err != nil {
		return fail("", "%v", err)
	}
	if src == "" {
		src = "the AWS credential chain"
	}
	return pass("found, from %s", src)
}

func (e *env) checkBucket(ctx context.Context) Result {
	if err := e.store.CheckBucket(ctx); err != nil {
		return fail("", "%v", err)
	}
	return pass("s3://%s answers and the credentials may use it", e.loc.Bucket)
}

// randomObject returns n random bytes and their oid.
func randomObject(n int) ([]byte, string) {
	b := make([]byte, n)
	rand.Read(b)
	sum := sha256.Sum256(b)
	return b, hex.EncodeToString(sum[:])
}

func (e *env) checkMissingObject(ctx context.Context) Result {
	_, oid := randomObject(32)
	_, err := e.probe.Stat(ctx, oid)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return pass("a missing object reads as missing, as the agent expects")
	case errors.Is(err, fs.ErrPermission):
		return fail(fmt.Sprintf("allow s3:ListBucket on bucket %s (S3 answers 403 instead of 404 without it) and s3:GetObject under its prefix", e.loc.Bucket),
			"asking for a missing object gives access denied, not not-found: the agent cannot tell missing from forbidden")
	case err != nil:
		return fail("", "%v", err)
	}
	return warn("", "a random probe key exists under %s/", ProbePrefix)
}

func (e *env) checkWrite(ctx context.Context) Result {
	if !e.cfg.WriteTest {
		return Result{Status: Skip, Message: fmt.Sprintf("not run: add --write-test to write, read and delete a probe object under %s/", e.probeDir())}
	}
	e.writing.Lock()
	defer e.writing.Unlock()
	data, oid := randomObject(1024)
	if err := e.probe.Upload(ctx, oid, int64(len(data)), bytes.NewReader(data), func(int64) {}); err != nil {
		return fail("", "writing a probe object the way pushes do failed: %v", err)
	}
	got := make(buffer, len(data))
	if err := e.probe.Download(ctx, oid, int64(len(data)), 0, got, func(int64) {}); err != nil {
		e.probe.Delete(context.WithoutCancel(ctx), oid)
		return fail("", "reading the probe object back failed: %v", err)
	}
	if !bytes.Equal(got, data) {
		e.probe.Delete(context.WithoutCancel(ctx), oid)
		return fail("check the server's logs", "the probe object read back differs from what was written")
	}
	if err := e.probe.Delete(ctx, oid); err != nil {
		return warn(fmt.Sprintf("delete %s by hand; grant s3:DeleteObject if `datalfs gc` is to delete anything", e.probe.Locate(oid)),
			"wrote and read a probe object, but could not delete it: %v", err)
	}
	return pass("wrote, read back and deleted a probe object under %s/", e.probeDir())
}

// buffer is a fixed-size io.WriterAt in memory.
type buffer []byte

// WriteAt copies p into the buffer at off.
func (b buffer) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > int64(len(b)) {
		return 0, fmt.Errorf("write of %d bytes at %d past the end of %d", len(p), off, len(b))
	}
	return copy(b[off:], p), nil
}

func (e *env) probeDir() string {
	return "s3://" + e.loc.Bucket + "/" + e.probe.Location().Prefix
}

// checkChecksums sends a PutObject with the SDK's default checksum
// (CRC32, the behaviour of aws-sdk-go-v2 since s3 v1.73.0) to learn whether
// datalfs's "when required" setting is needed for this endpoint.
func (e *env) checkChecksums(ctx context.Context) Result {
	if !e.cfg.WriteTest {
		return Result{Status: Skip, Message: "not run: add --write-test to find out whether the endpoint accepts the SDK's default checksum headers"}
	}
	e.writing.Lock()
	defer e.writing.Unlock()
	data, oid := randomObject(64)
	err := e.probe.PutWithDefaultChecksums(ctx, "checksum-probe-"+oid[:16], data)
	if err == nil {
		if e.loc.Endpoint == "" {
			return pass("AWS accepts the SDK's default CRC32 checksum headers")
		}
		return pass("the endpoint accepts the SDK's default CRC32 checksum headers; datalfs's \"when required\" setting for non-AWS endpoints is not needed here (and harmless)")
	}
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
		return warn("", "cannot check: no answer in time")
	}
	code, status := s3store.APIError(err)
	if status != 400 && status != 501 && code != "NotImplemented" && code != "InvalidArgument" && code != "InvalidRequest" {
		return warn("", "cannot check: the probe write failed for another reason: %s", s3store.APIErrorString(err))
	}
	if e.loc.Endpoint == "" {
		return fail("report this: AWS itself should accept these headers", "AWS rejected the SDK's default checksum headers (%s)", s3store.APIErrorString(err))
	}
	return warn("other tools built on a recent AWS SDK need the same setting: AWS_REQUEST_CHECKSUM_CALCULATION=when_required and AWS_RESPONSE_CHECKSUM_VALIDATION=when_required",
		"the endpoint rejects the SDK's default checksum headers (%s): datalfs's \"when required\" setting for non-AWS endpoints is needed here, and on, so pushes work",
		s3store.APIErrorString(err))
}

func (e *env) checkVersioning(ctx context.Context) Result {
	status, err := e.store.Versioning(ctx)
	switch {
	case errors.Is(err, s3store.ErrNotImplemented):
		return warn("check the server's documentation for versioning", "cannot check: the server has no versioning API")
	case err != nil:
		return warn("", "cannot check: %v", err)
	case status == s3store.VersioningEnabled:
		return pass("enabled: a deleted or overwritten object can be recovered")
	}
	state := "off"
	if status != "" {
		state = strings.ToLower(status)
	}
	return warn(fmt.Sprintf("aws s3api put-bucket-versioning --bucket %s --versioning-configuration Status=Enabled\n"+
		"(and a lifecycle rule with NoncurrentVersionExpiration so old versions do not pile up)", e.loc.Bucket),
		"versioning is %s: an object deleted by mistake (or by `datalfs gc`) cannot be recovered", state)
}

func (e *env) checkLifecycle(ctx context.Context) Result {
	prefix := e.loc.ObjectsPrefix()
	r, ok, err := e.store.AbortUploadsRule(ctx, prefix)
	switch {
	case errors.Is(err, s3store.ErrNotImplemented):
		return warn("clean up incomplete multipart uploads with the server's own tools",
			"cannot check: the server has no lifecycle API")
	case err != nil && !errors.Is(err, s3store.ErrNoConfiguration):
		return warn("", "cannot check: %v", err)
	case ok:
		return pass("rule %q aborts incomplete multipart uploads after %d days", r.ID, r.Days)
	}
	return warn(fmt.Sprintf("aws s3api put-bucket-lifecycle-configuration --bucket %s --lifecycle-configuration "+
		`'{"Rules":[{"ID":"abort-incomplete-multipart","Status":"Enabled","Filter":{"Prefix":""},"AbortIncompleteMultipartUpload":{"DaysAfterInitiation":7}}]}'`+
		"\n(this replaces the bucket's lifecycle rules: merge it into any you have)", e.loc.Bucket),
		"no lifecycle rule aborts incomplete multipart uploads under %s: parts of interrupted uploads stay stored, and billed, forever", prefix)
}
