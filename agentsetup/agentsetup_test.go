package agentsetup

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/datalfs/datalfs/gitrepo"
)

const (
	bucketURL = "https://s3.us-east-1.amazonaws.com/bucket/data"
	pushURL   = "https://s3.eu-west-1.amazonaws.com/other/data"
	self      = "/opt/data lfs/bin/datalfs" // a space: the textconv command quotes it
)

// seal keeps the user's and the system's git configuration out and returns
// the fake HOME.
func seal(t *testing.T) string {
	t.Helper()
	home, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"HOME": home, "XDG_CONFIG_HOME": filepath.Join(home, ".config"), "GIT_CONFIG_NOSYSTEM": "1", "LC_ALL": "C",
	} {
		t.Setenv(k, v)
	}
	return home
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// newRepo makes a repository with the git config keys kv (key, value,
// key, value...) and makes it the current directory, as `datalfs install`
// runs.
func newRepo(t *testing.T, kv ...string) string {
	t.Helper()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	git(t, dir, "init", "-q")
	for i := 0; i < len(kv); i += 2 {
		git(t, dir, "config", kv[i], kv[i+1])
	}
	t.Chdir(dir)
	return dir
}

// configList is everything git config says in dir, every scope.
func configList(t *testing.T, dir string) string {
	t.Helper()
	return git(t, dir, "config", "--list", "--show-scope")
}

func hookPath(dir string) string { return filepath.Join(dir, ".git", "hooks", "pre-commit") }

// TestInstallBindsConfiguredURLs: the push and fetch URLs the user set are
// bound to datalfs (git-lfs itself, through gitrepo, then names datalfs as
// their agent), the URL git-lfs derives from a forge remote is not, and the
// hook is installed.
func TestInstallBindsConfiguredURLs(t *testing.T) {
	seal(t)
	dir := newRepo(t,
		"remote.origin.url", "https://github.com/o/r.git",
		"remote.origin.lfsurl", bucketURL+"/",
		"remote.origin.lfspushurl", pushURL,
		"remote.forge.url", "https://github.com/o/forge.git")
	res, err := Install(context.Background(), gitrepo.Here(), Options{Self: self})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Configured || !res.Hook {
		t.Errorf("Install = %+v, want Configured and Hook", res)
	}
	if diff := cmp.Diff([]string{bucketURL, pushURL}, res.Bound); diff != "" {
		t.Errorf("Install bound (-want +got):\n%s", diff)
	}
	forge := "https://github.com/o/forge.git/info/lfs"
	if len(res.Skipped) != 1 || res.Skipped[0].URL != forge {
		t.Errorf("Install skipped %+v, want only %s", res.Skipped, forge)
	}

	after := gitrepo.Here() // a fresh read of the config Install wrote
	for u, want := range map[string]string{bucketURL: Agent, bucketURL + "/sub/x": Agent, pushURL: Agent, forge: ""} {
		if got := after.StandaloneAgent(u); got != want {
			t.Errorf("standalone agent for %s = %q, want %q", u, got, want)
		}
	}
	for key, want := range map[string]string{
		"lfs.customtransfer.datalfs.path":      self,
		"lfs.customtransfer.datalfs.args":      "transfer",
		"lfs.customtransfer.datalfs.direction": "both",
		"diff.datalfs-manifest.textconv":       "'" + self + "' manifest textconv",
	} {
		if got := git(t, dir, "config", "--local", "--get", key); got != want {
			t.Errorf("git config %s = %q, want %q", key, got, want)
		}
	}
	if b, err := os.ReadFile(hookPath(dir)); err != nil || !strings.Contains(string(b), "manifest validate --staged") {
		t.Errorf("pre-commit hook = %q, %v; want one that validates staged manifests", b, err)
	}
}

// TestInstallRefusesForgeURL: a repository whose only LFS URL is the one
// git-lfs derives from a forge remote gets an error naming it, and its git
// config and hooks are left exactly as they were.
func TestInstallRefusesForgeURL(t *testing.T) {
	seal(t)
	dir := newRepo(t, "remote.origin.url", "https://github.com/o/r.git")
	before := configList(t, dir)
	res, err := Install(context.Background(), gitrepo.Here(), Options{Self: self})
	if err == nil || !strings.Contains(err.Error(), "no bucket URL to bind: git-lfs uses https://github.com/o/r.git/info/lfs") {
		t.Fatalf("Install = %v, want the no-bucket-URL error naming the derived URL", err)
	}
	if res.Configured || res.Hook {
		t.Errorf("Install = %+v, want nothing written", res)
	}
	if diff := cmp.Diff(before, configList(t, dir)); diff != "" {
		t.Errorf("git config changed (-before +after):\n%s", diff)
	}
	if _, err := os.Stat(hookPath(dir)); !os.IsNotExist(err) {
		t.Errorf("pre-commit hook: %v, want none", err)
	}
}

// TestUninstallRemovesWhatInstallWrote: install then uninstall gives back
// the git config and the pre-commit hook byte for byte, keeping another
// agent's binding and a hook that was there before.
func TestUninstallRemovesWhatInstallWrote(t *testing.T) {
	seal(t)
	dir := newRepo(t,
		"lfs.url", bucketURL,
		"lfs.https://example.com/other.standalonetransferagent", "someone-else",
		"lfs.customtransfer.someone-else.path", "/bin/true")
	own := "#!/bin/sh\necho own hook\n"
	if err := os.WriteFile(hookPath(dir), []byte(own), 0o755); err != nil {
		t.Fatal(err)
	}
	before := configList(t, dir)
	ctx := context.Background()
	if _, err := Install(ctx, gitrepo.Here(), Options{Self: self}); err != nil {
		t.Fatal(err)
	}
	if configList(t, dir) == before {
		t.Fatal("Install wrote no git config")
	}
	if err := Uninstall(ctx, gitrepo.Here(), false); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, configList(t, dir)); diff != "" {
		t.Errorf("git config after install and uninstall (-before +after):\n%s", diff)
	}
	if b, err := os.ReadFile(hookPath(dir)); err != nil || string(b) != own {
		t.Errorf("pre-commit hook after uninstall = %q, %v; want the user's own back", b, err)
	}
}

// TestInstallGlobal: --global writes the URL's binding to the global git
// config (HOME's), from outside any repository, with no hook; it needs a
// URL; uninstall --global takes it all out again.
func TestInstallGlobal(t *testing.T) {
	home := seal(t)
	out := t.TempDir()
	t.Chdir(out)
	global := filepath.Join(home, ".gitconfig")
	ctx := context.Background()

	if _, err := Install(ctx, gitrepo.Here(), Options{Global: true, Self: self}); err == nil || !strings.Contains(err.Error(), "--global needs --url") {
		t.Fatalf("Install --global without URL = %v, want it refused", err)
	}
	if _, err := os.Stat(global); !os.IsNotExist(err) {
		t.Fatalf("global config after a refused install: %v, want none", err)
	}
	if _, err := Install(ctx, gitrepo.Here(), Options{Self: self}); err == nil || !strings.Contains(err.Error(), "not in a git repository") {
		t.Fatalf("Install outside a repository = %v, want it refused", err)
	}

	res, err := Install(ctx, gitrepo.Here(), Options{Global: true, URL: "https://bucket.s3.us-east-1.amazonaws.com/", Self: self})
	if err != nil {
		t.Fatal(err)
	}
	if res.Hook {
		t.Error("Install --global installed a hook")
	}
	if got := git(t, out, "config", "--global", "--get", "lfs.https://bucket.s3.us-east-1.amazonaws.com.standalonetransferagent"); got != Agent {
		t.Errorf("global standalone agent = %q, want %q", got, Agent)
	}
	// git-lfs's code keeps the environment the test process started with
	// (the real HOME), so ask git how the URL matches.
	if got := git(t, out, "config", "--global", "--get-urlmatch", "lfs.standalonetransferagent", "https://bucket.s3.us-east-1.amazonaws.com/any/prefix"); got != Agent {
		t.Errorf("agent for a URL under the bound one = %q, want %q", got, Agent)
	}
	if err := Uninstall(ctx, gitrepo.Here(), true); err != nil {
		t.Fatal(err)
	}
	if got := git(t, out, "config", "--global", "--list"); got != "" {
		t.Errorf("global config after uninstall:\n%s\nwant empty", got)
	}
}

// TestInstallRefusesBadURL: a --url that names no bucket is refused before
// anything is written.
func TestInstallRefusesBadURL(t *testing.T) {
	seal(t)
	dir := newRepo(t)
	before := configList(t, dir)
	if _, err := Install(context.Background(), gitrepo.Here(), Options{URL: "ftp://nowhere", Self: self}); err == nil {
		t.Fatal("Install with an ftp URL succeeded")
	}
	if diff := cmp.Diff(before, configList(t, dir)); diff != "" {
		t.Errorf("git config changed (-before +after):\n%s", diff)
	}
}
