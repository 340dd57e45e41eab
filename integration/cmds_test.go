package integration

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/datalfs/datalfs/integration/internal/s3test"
)

// commands returns the scripts' own commands. Assertions about storage come
// from the bucket itself (s3) and from the files on disk, never from the
// agent's logs.
func (h *harness) commands() map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	return map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"s3":         h.cmdS3,
		"oid":        cmdOID,
		"mkfile":     cmdMkfile,
		"cmptree":    cmdCmptree,
		"lfsobjects": cmdLFSObjects,
		"exitcode":   cmdExitcode,
	}
}

const s3Usage = `usage: s3 [-bucket NAME] SUBCOMMAND ... (on bucket $BUCKET, or NAME)
  s3 ls [-versions] [PREFIX]       print "KEY SIZE" per object (per version with -versions; a delete marker prints "KEY deleted"), sorted
  s3 count [-versions] PREFIX N    assert the number of objects (or versions) under PREFIX
  s3 head KEY                      print "size: N" and "etag: E"
  s3 get KEY FILE                  download KEY into FILE
  s3 put KEY FILE                  upload FILE as KEY
  s3 rm [-versions] KEY            delete KEY (with -versions, every version and delete marker of it)
  s3 corrupt KEY                   rewrite KEY with its middle byte flipped (same size)
  s3 mb NAME                       create bucket NAME
  s3 versioning                    turn versioning on for $BUCKET`

// cmdS3 inspects and changes the script's bucket through the S3 API.
func (h *harness) cmdS3(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("s3 does not support !")
	}
	if len(args) == 0 {
		ts.Fatalf("%s", s3Usage)
	}
	bucket := ts.Getenv("BUCKET")
	if args[0] == "-bucket" {
		if len(args) < 3 {
			ts.Fatalf("%s", s3Usage)
		}
		bucket, args = args[1], args[2:]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sub, args := args[0], args[1:]
	nargs := func(n int) {
		if len(args) != n {
			ts.Fatalf("s3 %s takes %d arguments\n%s", sub, n, s3Usage)
		}
	}
	switch sub {
	case "ls", "count":
		versions := len(args) > 0 && args[0] == "-versions"
		if versions {
			args = args[1:]
		}
		var prefix string
		if sub == "count" {
			nargs(2)
			prefix = args[0]
		} else if len(args) > 1 {
			ts.Fatalf("%s", s3Usage)
		} else if len(args) == 1 {
			prefix = args[0]
		}
		list := s3test.List
		if versions {
			list = s3test.ListVersions
		}
		objs, err := list(ctx, h.s3, bucket, prefix)
		ts.Check(err)
		var b strings.Builder
		for _, o := range objs {
			if o.DeleteMarker {
				fmt.Fprintf(&b, "%s deleted\n", o.Key)
			} else {
				fmt.Fprintf(&b, "%s %d\n", o.Key, o.Size)
			}
		}
		if sub == "ls" {
			fmt.Fprint(ts.Stdout(), b.String()) // even when empty: stdout must not keep an earlier command's output
			return
		}
		want, err := strconv.Atoi(args[1])
		ts.Check(err)
		if len(objs) != want {
			ts.Fatalf("s3://%s/%s holds %d entries, want %d:\n%s", bucket, prefix, len(objs), want, b.String())
		}
	case "head":
		nargs(1)
		out, err := h.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: &args[0]})
		ts.Check(err)
		fmt.Fprintf(ts.Stdout(), "size: %d\netag: %s\n", aws.ToInt64(out.ContentLength), aws.ToString(out.ETag))
	case "get":
		nargs(2)
		b, err := h.getObject(ctx, bucket, args[0])
		ts.Check(err)
		ts.Check(os.WriteFile(ts.MkAbs(args[1]), b, 0o644))
	case "put":
		nargs(2)
		b, err := os.ReadFile(ts.MkAbs(args[1]))
		ts.Check(err)
		ts.Check(h.putObject(ctx, bucket, args[0], b))
	case "rm":
		if len(args) == 2 && args[0] == "-versions" {
			vs, err := s3test.ListVersions(ctx, h.s3, bucket, args[1])
			ts.Check(err)
			for _, v := range vs {
				if v.Key == args[1] {
					_, err := h.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: &v.Key, VersionId: &v.VersionID})
					ts.Check(err)
				}
			}
			return
		}
		nargs(1)
		_, err := h.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: &args[0]})
		ts.Check(err)
	case "corrupt":
		nargs(1)
		b, err := h.getObject(ctx, bucket, args[0])
		ts.Check(err)
		if len(b) == 0 {
			ts.Fatalf("s3://%s/%s is empty: nothing to corrupt", bucket, args[0])
		}
		b[len(b)/2] ^= 0xff
		ts.Check(h.putObject(ctx, bucket, args[0], b))
	case "mb":
		nargs(1)
		ts.Check(s3test.CreateBucket(ctx, h.s3, args[0], false))
	case "versioning":
		nargs(0)
		ts.Check(s3test.EnableVersioning(ctx, h.s3, bucket))
	default:
		ts.Fatalf("unknown s3 subcommand %q\n%s", sub, s3Usage)
	}
}

func (h *harness) getObject(ctx context.Context, bucket, key string) ([]byte, error) {
	out, err := h.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		return nil, fmt.Errorf("get s3://%s/%s: %w", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, fmt.Errorf("read s3://%s/%s: %w", bucket, key, err)
	}
	return b, nil
}

func (h *harness) putObject(ctx context.Context, bucket, key string, b []byte) error {
	_, err := h.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(b)})
	if err != nil {
		return fmt.Errorf("put s3://%s/%s: %w", bucket, key, err)
	}
	return nil
}

// cmdOID prints the LFS oid (SHA-256) of a file, or with -key PREFIX the
// bucket key the contract stores it at, PREFIX/lfs/objects/OID[0:2]/OID[2:4]/OID.
// With a second argument it sets that environment variable instead.
//
//	oid [-key PREFIX] FILE [VAR]
func cmdOID(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("oid does not support !")
	}
	prefix, keyed := "", len(args) > 0 && args[0] == "-key"
	if keyed {
		if len(args) < 2 {
			ts.Fatalf("usage: oid [-key PREFIX] FILE [VAR]")
		}
		prefix, args = args[1], args[2:]
	}
	if len(args) != 1 && len(args) != 2 {
		ts.Fatalf("usage: oid [-key PREFIX] FILE [VAR]")
	}
	f, err := os.Open(ts.MkAbs(args[0]))
	ts.Check(err)
	defer f.Close()
	sum := sha256.New()
	_, err = io.Copy(sum, f)
	ts.Check(err)
	v := hex.EncodeToString(sum.Sum(nil))
	if keyed {
		v = path.Join(prefix, "lfs/objects", v[0:2], v[2:4], v)
	}
	if len(args) == 2 {
		ts.Setenv(args[1], v)
		return
	}
	fmt.Fprintln(ts.Stdout(), v)
}

var sizeRE = regexp.MustCompile(`^(\d+)(B|KiB|MiB|GiB)?$`)

// parseSize parses a byte count such as 512, 64KiB or 13MiB.
func parseSize(s string) (int64, error) {
	m := sizeRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("bad size %q (want N, NKiB, NMiB or NGiB)", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bad size %q: %w", s, err)
	}
	shift := map[string]uint{"": 0, "B": 0, "KiB": 10, "MiB": 20, "GiB": 30}[m[2]]
	return n << shift, nil
}

// cmdMkfile writes a file of the given size whose content is a
// deterministic function of SEED, creating parent directories. With
// -count N it writes N files: PATH must then hold one integer verb such as
// %02d, and file i gets the seed SEED/i.
//
//	mkfile [-count N] PATH SIZE SEED
func cmdMkfile(ts *testscript.TestScript, neg bool, args []string) {
	const usage = "usage: mkfile [-count N] PATH SIZE SEED"
	if neg {
		ts.Fatalf("mkfile does not support !")
	}
	count := -1
	if len(args) > 1 && args[0] == "-count" {
		n, err := strconv.Atoi(args[1])
		ts.Check(err)
		count, args = n, args[2:]
	}
	if len(args) != 3 {
		ts.Fatalf("%s", usage)
	}
	size, err := parseSize(args[1])
	ts.Check(err)
	if count < 0 {
		ts.Check(writeRandomFile(ts.MkAbs(args[0]), size, args[2]))
		return
	}
	if !strings.Contains(args[0], "%") {
		ts.Fatalf("mkfile -count: PATH %q has no %%d verb", args[0])
	}
	for i := 0; i < count; i++ {
		ts.Check(writeRandomFile(ts.MkAbs(fmt.Sprintf(args[0], i)), size, args[2]+"/"+strconv.Itoa(i)))
	}
}

// writeRandomFile writes size bytes from a ChaCha8 stream keyed by seed.
func writeRandomFile(name string, size int64, seed string) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	src := rand.NewChaCha8(sha256.Sum256([]byte(seed)))
	w := bufio.NewWriterSize(f, 1<<16)
	_, err = io.CopyN(w, src, size)
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// cmdCmptree compares two directory trees file by file, byte for byte,
// ignoring anything named .git (a repository's git dir or git file). Empty
// directories do not count, as git does not track them.
//
//	[!] cmptree DIR1 DIR2
func cmdCmptree(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: cmptree DIR1 DIR2")
	}
	a, err := treeFiles(ts.MkAbs(args[0]))
	ts.Check(err)
	b, err := treeFiles(ts.MkAbs(args[1]))
	ts.Check(err)
	var diffs []string
	for rel := range a {
		if _, ok := b[rel]; !ok {
			diffs = append(diffs, "only in "+args[0]+": "+rel)
		}
	}
	for rel := range b {
		if _, ok := a[rel]; !ok {
			diffs = append(diffs, "only in "+args[1]+": "+rel)
			continue
		}
		x, err := os.ReadFile(a[rel])
		ts.Check(err)
		y, err := os.ReadFile(b[rel])
		ts.Check(err)
		if !bytes.Equal(x, y) {
			diffs = append(diffs, fmt.Sprintf("differ: %s (%d and %d bytes)", rel, len(x), len(y)))
		}
	}
	sort.Strings(diffs)
	switch {
	case len(diffs) > 0 && !neg:
		ts.Fatalf("%s and %s differ:\n%s", args[0], args[1], strings.Join(diffs, "\n"))
	case len(diffs) == 0 && neg:
		ts.Fatalf("%s and %s are identical (%d files)", args[0], args[1], len(a))
	case len(diffs) == 0:
		ts.Logf("%s and %s are identical (%d files)", args[0], args[1], len(a))
	}
}

// treeFiles maps the slash-separated relative path of every regular file
// under root, outside any .git, to its full path.
func treeFiles(root string) (map[string]string, error) {
	files := make(map[string]string)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Name() == ".git" {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() {
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			files[filepath.ToSlash(rel)] = p
		}
		return nil
	})
	return files, err
}

// cmdLFSObjects lists the local LFS store of the repository at REPO
// (default "."), found through git so that worktrees work: one "OID SIZE"
// line per object in lfs/objects, with " corrupt" appended when the content
// does not hash to its name. With -tmp it lists lfs/tmp instead ("PATH
// SIZE"), where no transfer should leave anything behind. Empty files with
// all-digit names are left out: git-lfs itself leaves those when its clean
// filter meets a pointer (copyToTemp in lfs/gitfilter_clean.go, v3.8.1).
//
//	lfsobjects [-tmp] [REPO]
func cmdLFSObjects(ts *testscript.TestScript, neg bool, args []string) {
	const usage = "usage: lfsobjects [-tmp] [REPO]"
	if neg {
		ts.Fatalf("lfsobjects does not support !")
	}
	tmp := len(args) > 0 && args[0] == "-tmp"
	if tmp {
		args = args[1:]
	}
	repo := "."
	switch len(args) {
	case 0:
	case 1:
		repo = args[0]
	default:
		ts.Fatalf("%s", usage)
	}
	cmd := exec.Command("git", "-C", ts.MkAbs(repo), "rev-parse", "--path-format=absolute", "--git-common-dir")
	cmd.Env = []string{"PATH=" + ts.Getenv("PATH"), "HOME=" + ts.Getenv("HOME"), "GIT_CONFIG_NOSYSTEM=1", "LC_ALL=C"}
	out, err := cmd.Output()
	if err != nil {
		ts.Fatalf("find the git dir of %s: %v", repo, err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "lfs", "objects")
	if tmp {
		dir = filepath.Join(filepath.Dir(dir), "tmp")
	}
	var lines []string
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if os.IsNotExist(err) && p == dir {
			return filepath.SkipAll // no LFS store yet: nothing to list
		}
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if tmp {
			if info.Size() == 0 && gitLFSTempName.MatchString(d.Name()) {
				return nil
			}
			rel, _ := filepath.Rel(dir, p)
			lines = append(lines, fmt.Sprintf("%s %d", filepath.ToSlash(rel), info.Size()))
			return nil
		}
		line := fmt.Sprintf("%s %d", d.Name(), info.Size())
		if ok, err := hashesTo(p, d.Name()); err != nil {
			return err
		} else if !ok {
			line += " corrupt"
		}
		lines = append(lines, line)
		return nil
	})
	ts.Check(err)
	sort.Strings(lines)
	w := ts.Stdout() // even with no lines: stdout must not keep an earlier command's output
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
}

// gitLFSTempName matches the names of git-lfs's own temp files.
var gitLFSTempName = regexp.MustCompile(`^[0-9]+$`)

// hashesTo reports whether the SHA-256 of the file at p is the hex oid.
func hashesTo(p, oid string) (bool, error) {
	f, err := os.Open(p)
	if err != nil {
		return false, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return false, err
	}
	return hex.EncodeToString(h.Sum(nil)) == oid, nil
}
