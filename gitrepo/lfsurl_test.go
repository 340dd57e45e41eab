package gitrepo

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestLFSURLConfigured checks, against git-lfs's own endpoint lookup, which
// LFS URLs come from a key the user set and which are derived from the Git
// remote, for both operations and for a second remote.
func TestLFSURLConfigured(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not on PATH")
	}
	const bucket = "https://s3.us-east-1.amazonaws.com/bucket/repo"
	tests := []struct {
		name     string
		config   [][2]string
		lfsconf  string
		remote   string
		want     map[string]bool // operation -> configured
		wantURLs map[string]string
	}{
		{name: "forge https remote",
			want:     map[string]bool{"upload": false, "download": false},
			wantURLs: map[string]string{"upload": "https://github.com/owner/repo.git/info/lfs"}},
		{name: "forge ssh remote", config: [][2]string{{"remote.origin.url", "git@github.com:owner/repo.git"}},
			want:     map[string]bool{"upload": false, "download": false},
			wantURLs: map[string]string{"download": "https://github.com/owner/repo.git/info/lfs"}},
		{name: "lfs.url", config: [][2]string{{"lfs.url", bucket}},
			want: map[string]bool{"upload": true, "download": true}, wantURLs: map[string]string{"upload": bucket}},
		{name: "lfs.pushurl only", config: [][2]string{{"lfs.pushurl", bucket}},
			want: map[string]bool{"upload": true, "download": false}},
		{name: "remote lfsurl", config: [][2]string{{"remote.origin.lfsurl", bucket}},
			want: map[string]bool{"upload": true, "download": true}},
		{name: "remote lfspushurl only", config: [][2]string{{"remote.origin.lfspushurl", bucket}},
			want: map[string]bool{"upload": true, "download": false}},
		{name: ".lfsconfig", lfsconf: "[lfs]\n\turl = " + bucket + "\n",
			want: map[string]bool{"upload": true, "download": true}, wantURLs: map[string]string{"download": bucket}},
		{name: "other remote without its own", remote: "mirror", config: [][2]string{{"remote.origin.lfsurl", bucket}},
			want: map[string]bool{"upload": false, "download": false}},
		{name: "other remote with its own", remote: "mirror", config: [][2]string{{"remote.mirror.lfsurl", bucket}},
			want: map[string]bool{"upload": true, "download": true}, wantURLs: map[string]string{"upload": bucket}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Setenv("HOME", dir)
			t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
			git := func(args ...string) {
				t.Helper()
				cmd := exec.Command("git", args...)
				cmd.Dir = dir
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("git %v: %v\n%s", args, err, out)
				}
			}
			git("init", "-q")
			git("remote", "add", "origin", "https://github.com/owner/repo.git")
			git("remote", "add", "mirror", "https://gitlab.example.com/owner/mirror.git")
			for _, kv := range tt.config {
				git("config", kv[0], kv[1])
			}
			if tt.lfsconf != "" {
				if err := os.WriteFile(filepath.Join(dir, ".lfsconfig"), []byte(tt.lfsconf), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			t.Chdir(dir)
			r := Here()
			for op, want := range tt.want {
				if got := r.LFSURLConfigured(op, tt.remote); got != want {
					u, _ := r.LFSURL(op, tt.remote)
					t.Errorf("LFSURLConfigured(%s, %q) = %v, want %v (git-lfs uses %s)", op, tt.remote, got, want, u)
				}
			}
			for op, want := range tt.wantURLs {
				if got, err := r.LFSURL(op, tt.remote); got != want {
					t.Errorf("LFSURL(%s, %q) = %q, %v; want %q", op, tt.remote, got, err, want)
				}
			}
		})
	}
}
