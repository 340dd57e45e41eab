package dataset

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/datalfs/datalfs/gitrepo"
	"github.com/datalfs/datalfs/internal/mems3"
	"github.com/datalfs/datalfs/s3ref"
	"github.com/datalfs/datalfs/s3store"
)

// forgetRig is a git repository and a bucket with three assets, the second
// of which the server refuses to delete.
func forgetRig(t *testing.T) (*Repo, *Clients, *mems3.Server, []ForgetTarget) {
	t.Helper()
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	t.Setenv("HOME", t.TempDir())
	dir := t.TempDir()
	if out, err := exec.Command("git", "init", "-q", dir).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v\n%s", err, out)
	}
	srv := mems3.Start(t, "data")
	var targets []ForgetTarget
	for _, k := range []string{"a.jpg", "b.jpg", "c.jpg"} {
		srv.Put(t, "data", k, []byte(k))
		targets = append(targets, ForgetTarget{ID: k, Ref: s3ref.Ref{Bucket: "data", Key: k}})
	}
	srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodDelete && strings.HasSuffix(r.URL.Path, "/b.jpg") {
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`<Error><Code>AccessDenied</Code><Message>no</Message></Error>`))
			return true
		}
		return false
	})
	g, err := gitrepo.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	repo := &Repo{Repo: g}
	t.Setenv("AWS_ENDPOINT_URL_S3", srv.URL)
	return repo, NewClients(nil, s3store.DefaultOptions()), srv, targets
}

// TestForgetPartialFailure: a delete refused midway stops the run; the
// asset deleted before it gets its tombstone, and the report and the error
// say exactly that.
func TestForgetPartialFailure(t *testing.T) {
	repo, clients, srv, targets := forgetRig(t)
	rep, err := repo.Forget(context.Background(), clients, targets, "ticket 1", time.Now())
	if err == nil || !strings.Contains(err.Error(), "access denied") || !strings.Contains(err.Error(), "tombstones written for the 1 asset deleted before") {
		t.Fatalf("Forget error = %v, want the refusal and the tombstone written before it", err)
	}
	if len(rep.Deleted) != 1 || rep.Deleted[0].Ref.Key != "a.jpg" || rep.Recorded != 1 {
		t.Errorf("report = %+v, want a.jpg deleted and 1 tombstone", rep)
	}
	if keys := srv.Keys(t, "data", ""); strings.Join(keys, " ") != "b.jpg c.jpg" {
		t.Errorf("bucket holds %q, want b.jpg and c.jpg left", keys)
	}
	tombs, err := repo.Tombstones(context.Background())
	if err != nil || len(tombs) != 1 || tombs["s3://data/a.jpg"].Reason != "ticket 1" {
		t.Errorf("tombstones = %+v, %v; want one for a.jpg", tombs, err)
	}
}

// TestForgetTombstoneWriteFails: a delete refused midway, and then the
// tombstones of the asset deleted before it cannot be recorded: the error
// says both, and never claims the tombstones were written (forget in cmd
// once dropped this error and claimed they were).
func TestForgetTombstoneWriteFails(t *testing.T) {
	repo, clients, _, targets := forgetRig(t)
	// A held index lock: git cannot stage the tombstones.
	if err := os.WriteFile(filepath.Join(repo.Top, ".git", "index.lock"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := repo.Forget(context.Background(), clients, targets, "ticket 2", time.Now())
	if err == nil || !strings.Contains(err.Error(), "could not be recorded") || strings.Contains(err.Error(), "tombstones written") {
		t.Fatalf("Forget error = %v, want one saying the tombstones could not be recorded, and not that they were", err)
	}
	if rep.Recorded != 0 || len(rep.Deleted) != 1 {
		t.Errorf("report = %+v, want 1 deleted and nothing recorded", rep)
	}
}

// TestForgetSetupFailsFirst: a bucket that cannot be set up deletes nothing.
func TestForgetSetupFailsFirst(t *testing.T) {
	repo, clients, srv, targets := forgetRig(t)
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_ENDPOINT_URL_S3", "") // AWS itself, and no region: a configuration error
	clients.Opts.Region = ""
	targets = append([]ForgetTarget{{ID: "x", Ref: s3ref.Ref{Bucket: "elsewhere", Key: "x"}}}, targets...)
	_, err := repo.Forget(context.Background(), clients, targets, "ticket 3", time.Now())
	if _, ok := err.(*SetupError); !ok {
		t.Fatalf("Forget error = %v (%T), want a SetupError", err, err)
	}
	if keys := srv.Keys(t, "data", ""); len(keys) != 3 {
		t.Errorf("bucket holds %q: something was deleted before the setup error", keys)
	}
}
