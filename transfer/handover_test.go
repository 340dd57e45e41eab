package transfer_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/datalfs/datalfs/transfer"
	"github.com/datalfs/datalfs/transfer/storetest"
)

// gatedStore holds each Download until the test releases it: entered is
// closed when the download has begun (the agent has its temp file open),
// and the bytes move only once release is closed.
type gatedStore struct {
	transfer.Store
	entered, release chan struct{}
}

func (g gatedStore) Download(ctx context.Context, oid string, size, from int64, w io.WriterAt, progress func(int64)) error {
	close(g.entered)
	<-g.release
	return g.Store.Download(ctx, oid, size, from, w, progress)
}

// gatedAgent is an agent of the rig whose store is wrapped by wrap.
func (r *rig) gatedAgent(wrap func(transfer.Store) transfer.Store) *transfer.Agent {
	a := r.agent()
	open := a.Open
	a.Open = func(ctx context.Context, op, remote string) (*transfer.Target, error) {
		tgt, err := open(ctx, op, remote)
		if err == nil {
			tgt.Store = wrap(tgt.Store)
		}
		return tgt, err
	}
	return a
}

// serveOne runs a on one download request and returns the path it handed
// over, or an error naming the reply.
func serveOne(a *transfer.Agent, oid string, size int) (string, error) {
	in := initDownload + "\n" + req(map[string]any{"event": "download", "oid": oid, "size": size}) + "\n"
	var out bytes.Buffer
	if err := a.Serve(context.Background(), strings.NewReader(in), &out); err != nil {
		return "", err
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	last := lines[len(lines)-1]
	if strings.Contains(last, `"error"`) || !strings.Contains(last, `"complete"`) {
		return "", &replyError{last}
	}
	i := strings.Index(last, `"path":"`)
	if i < 0 {
		return "", &replyError{last}
	}
	p := last[i+len(`"path":"`):]
	return p[:strings.IndexByte(p, '"')], nil
}

type replyError struct{ line string }

func (e *replyError) Error() string { return "download reply: " + e.line }

// TestHandedOverFileSurvivesSecondAgent: agent A finishes a download and
// hands over its file; before git-lfs has moved it into place, agent B (a
// second worktree, an IDE's background fetch) is asked for the same object.
// B must write a file of its own: A's stays complete and unchanged while B
// downloads and after, and the two name different files.
func TestHandedOverFileSurvivesSecondAgent(t *testing.T) {
	r := newRig(t)
	const size = 300000
	data, oid := storetest.Object(size, 21)
	r.srv.Put(t, "bucket", r.loc.Key(oid), data)

	pathA, err := serveOne(r.agent(), oid, size)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(pathA); !bytes.Equal(b, data) {
		t.Fatalf("A handed over %d wrong bytes", len(b))
	}

	gate := gatedStore{entered: make(chan struct{}), release: make(chan struct{})}
	b := r.gatedAgent(func(s transfer.Store) transfer.Store { gate.Store = s; return gate })
	type result struct {
		path string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		p, err := serveOne(b, oid, size)
		done <- result{p, err}
	}()
	<-gate.entered // B has its temp file and is about to write
	if got, _ := os.ReadFile(pathA); !bytes.Equal(got, data) {
		t.Errorf("while B downloads, A's handed-over file holds %d bytes, want its %d bytes unchanged", len(got), size)
	}
	close(gate.release)
	res := <-done
	if res.err != nil {
		t.Fatalf("B: %v", res.err)
	}
	if res.path == pathA {
		t.Errorf("B handed over %s, the file A handed over", res.path)
	}
	if got, _ := os.ReadFile(pathA); !bytes.Equal(got, data) {
		t.Errorf("after B, A's handed-over file holds %d bytes, want its %d bytes unchanged", len(got), size)
	}
	if got, _ := os.ReadFile(res.path); !bytes.Equal(got, data) {
		t.Errorf("B's handed-over file holds %d wrong bytes", len(got))
	}
}

// TestHandOverBetweenOpenAndLock: agent B opens OID.datalfs while agent A
// is writing it, and gets the lock only after A has handed the file over
// and let go. B must see that the name no longer refers to what it locked,
// and leave A's file alone.
func TestHandOverBetweenOpenAndLock(t *testing.T) {
	r := newRig(t)
	const size = 200000
	data, oid := storetest.Object(size, 22)
	r.srv.Put(t, "bucket", r.loc.Key(oid), data)

	gate := gatedStore{entered: make(chan struct{}), release: make(chan struct{})}
	a := r.gatedAgent(func(s transfer.Store) transfer.Store { gate.Store = s; return gate })
	type result struct {
		path string
		err  error
	}
	doneA := make(chan result, 1)
	go func() {
		p, err := serveOne(a, oid, size)
		doneA <- result{p, err}
	}()
	<-gate.entered // A holds OID.datalfs, locked

	b := r.agent()
	var resA result
	first := true
	transfer.SetLock(b, func(f *os.File) error {
		if first && filepath.Base(f.Name()) == oid+".datalfs" {
			// B has opened the file A is writing. Let A finish and
			// hand it over before B takes the lock.
			first = false
			close(gate.release)
			resA = <-doneA
		}
		return transfer.LockFile(f)
	})
	pathB, err := serveOne(b, oid, size)
	if err != nil {
		t.Fatalf("B: %v", err)
	}
	if resA.err != nil {
		t.Fatalf("A: %v", resA.err)
	}
	if pathB == resA.path {
		t.Errorf("B handed over %s, the file A handed over", pathB)
	}
	for who, p := range map[string]string{"A": resA.path, "B": pathB} {
		if got, _ := os.ReadFile(p); !bytes.Equal(got, data) {
			t.Errorf("%s's handed-over file holds %d wrong bytes", who, len(got))
		}
	}
}

// TestDownloadWithoutFileLocks: on a file system that refuses flock the
// download still succeeds, in a file of its own (it cannot be resumed, so
// the shared name is not used), and a failed one leaves nothing behind.
func TestDownloadWithoutFileLocks(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.ENOLCK, syscall.ENOTSUP, syscall.EINVAL} {
		t.Run(errno.Error(), func(t *testing.T) {
			r := newRig(t)
			const size = 5000
			data, oid := storetest.Object(size, 23)
			r.srv.Put(t, "bucket", r.loc.Key(oid), data)
			a := r.agent()
			locks := 0
			transfer.SetLock(a, func(*os.File) error { locks++; return errno })
			in := initDownload + "\n" +
				req(map[string]any{"event": "download", "oid": oid, "size": size}) + "\n" +
				req(map[string]any{"event": "download", "oid": oid, "size": size + 1}) + "\n"
			var out bytes.Buffer
			if err := a.Serve(context.Background(), strings.NewReader(in), &out); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			var ok, failed string
			for _, l := range lines {
				if strings.Contains(l, `"complete"`) && strings.Contains(l, `"error"`) {
					failed = l
				} else if strings.Contains(l, `"complete"`) {
					ok = l
				}
			}
			i := strings.Index(ok, `"path":"`)
			if i < 0 {
				t.Fatalf("download without locks: %s, want a completed download", out.String())
			}
			p := ok[i+len(`"path":"`):]
			p = p[:strings.IndexByte(p, '"')]
			if got, _ := os.ReadFile(p); !bytes.Equal(got, data) {
				t.Errorf("download without locks handed over %d wrong bytes", len(got))
			}
			if failed == "" {
				t.Errorf("download with a wrong size succeeded: %s", out.String())
			}
			if locks != 1 {
				t.Errorf("agent tried %d locks, want 1: once refused, later downloads go straight to files of their own", locks)
			}
			entries, _ := os.ReadDir(r.tempDir)
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			if len(names) != 1 || names[0] != filepath.Base(p) {
				t.Errorf("temp dir holds %q, want only the handed-over file %s", names, filepath.Base(p))
			}
		})
	}
}

// TestHandedOverMode: a finished download is handed over with the target's
// ObjectMode, which git-lfs keeps when it moves the file into its store.
func TestHandedOverMode(t *testing.T) {
	r := newRig(t)
	data, oid := storetest.Object(1000, 24)
	r.srv.Put(t, "bucket", r.loc.Key(oid), data)
	a := r.agent()
	open := a.Open
	a.Open = func(ctx context.Context, op, remote string) (*transfer.Target, error) {
		tgt, err := open(ctx, op, remote)
		if err == nil {
			tgt.ObjectMode = 0o660
		}
		return tgt, err
	}
	p, err := serveOne(a, oid, 1000)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o660 {
		t.Errorf("handed-over file %s has mode %v, want 0660", p, fi.Mode().Perm())
	}
}

// TestHandOverLeavesOneFile: a finished download is handed over under a
// fresh name of its own (a hard link, then the shared name removed; or,
// where the file system has no hard links, an exclusive empty file
// replaced). Either way the handed-over file holds the object, the shared
// OID.datalfs name is free, and nothing else is left in the temp dir.
func TestHandOverLeavesOneFile(t *testing.T) {
	for _, links := range []bool{true, false} {
		name := map[bool]string{true: "hard links", false: "no hard links"}[links]
		t.Run(name, func(t *testing.T) {
			linked := 0
			restore := transfer.SetLinkFile(func(oldname, newname string) error {
				if !links {
					return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: syscall.EPERM}
				}
				linked++
				return os.Link(oldname, newname)
			})
			defer restore()
			r := newRig(t)
			// The agent's first download uses a file of its own (it settles
			// that locks work); the second goes through the shared name.
			var objs [2][]byte
			var oids [2]string
			in := initDownload + "\n"
			for k := range objs {
				objs[k], oids[k] = storetest.Object(int64(3000+k), uint64(25+k))
				r.srv.Put(t, "bucket", r.loc.Key(oids[k]), objs[k])
				in += req(map[string]any{"event": "download", "oid": oids[k], "size": len(objs[k])}) + "\n"
			}
			var out bytes.Buffer
			if err := r.agent().Serve(context.Background(), strings.NewReader(in), &out); err != nil {
				t.Fatal(err)
			}
			for k, oid := range oids {
				var p string
				for _, line := range strings.Split(out.String(), "\n") {
					if strings.Contains(line, `"complete"`) && strings.Contains(line, oid) {
						if i := strings.Index(line, `"path":"`); i >= 0 {
							p = line[i+len(`"path":"`):]
							p = p[:strings.IndexByte(p, '"')]
						}
					}
				}
				got, err := os.ReadFile(p)
				if err != nil || !bytes.Equal(got, objs[k]) {
					t.Fatalf("handed-over file %q: %v, %d bytes, want the object's %d", p, err, len(got), len(objs[k]))
				}
				if err := os.Remove(p); err != nil { // git-lfs moves it away
					t.Fatal(err)
				}
			}
			left, _ := os.ReadDir(r.tempDir)
			for _, e := range left {
				t.Errorf("left in the temp dir: %s", e.Name())
			}
			if links && linked == 0 {
				t.Error("no hand-over went through a hard link")
			}
		})
	}
}
