package transfer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/datalfs/datalfs/internal/mems3"
	"github.com/datalfs/datalfs/s3store"
	"github.com/datalfs/datalfs/transfer"
	"github.com/datalfs/datalfs/transfer/storetest"
)

// rig is an agent wired to an in-memory S3 server and a temp dir.
type rig struct {
	srv     *mems3.Server
	loc     s3store.Location
	tempDir string
	files   string
	opens   int
}

func newRig(t *testing.T) *rig {
	srv := mems3.Start(t, "bucket")
	loc, err := s3store.ParseURL(srv.URL + "/bucket/repo")
	if err != nil {
		t.Fatal(err)
	}
	return &rig{srv: srv, loc: loc, tempDir: filepath.Join(t.TempDir(), "lfs", "tmp"), files: t.TempDir()}
}

func (r *rig) agent() *transfer.Agent {
	return &transfer.Agent{
		Open: func(ctx context.Context, op, remote string) (*transfer.Target, error) {
			r.opens++
			s, err := s3store.New(ctx, r.loc, s3store.DefaultOptions())
			if err != nil {
				return nil, err
			}
			return &transfer.Target{Store: headFirst{s}, TempDir: r.tempDir}, nil
		},
		ProgressInterval: time.Hour,
	}
}

// headFirst hides the store's conditional PUT, so these tests see HEAD then
// PUT, and request counts without the conditional-write probe's
// (s3store/condput_test.go covers the conditional path through the agent).
type headFirst struct{ transfer.Store }

// Keep passes the store's in-use marking through (see transfer.Keeper).
func (h headFirst) Keep(ctx context.Context, oid string) error {
	return h.Store.(transfer.Keeper).Keep(ctx, oid)
}

// file writes data to a local file and returns its path.
func (r *rig) file(t *testing.T, name string, data []byte) string {
	p := filepath.Join(r.files, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// serve runs the agent over the given request lines and returns the reply
// lines decoded, and Serve's error.
func (r *rig) serve(t *testing.T, lines ...string) ([]map[string]any, error) {
	t.Helper()
	var out bytes.Buffer
	err := r.agent().Serve(context.Background(), strings.NewReader(strings.Join(lines, "\n")+"\n"), &out)
	var replies []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("agent wrote a line that is not JSON: %q", l)
		}
		replies = append(replies, m)
	}
	return replies, err
}

func req(v map[string]any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

const (
	initUpload   = `{"event":"init","operation":"upload","remote":"origin","concurrent":true,"concurrenttransfers":8}`
	initDownload = `{"event":"init","operation":"download","remote":"origin","concurrent":true,"concurrenttransfers":8}`
	terminate    = `{"event":"terminate"}`
)

func TestUploadThenDownload(t *testing.T) {
	r := newRig(t)
	data, oid := storetest.Object(5000, 1)
	path := r.file(t, "obj", data)

	got, err := r.serve(t, initUpload,
		req(map[string]any{"event": "upload", "oid": oid, "size": 5000, "path": path, "action": nil}),
		terminate)
	if err != nil {
		t.Fatalf("Serve: %v", err)
	}
	want := []map[string]any{
		{},
		{"event": "progress", "oid": oid, "bytesSoFar": 5000.0, "bytesSinceLast": 5000.0},
		{"event": "complete", "oid": oid},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("upload replies (-want +got):\n%s", diff)
	}
	if keys := r.srv.Keys(t, "bucket", ""); len(keys) != 1 || keys[0] != r.loc.Key(oid) {
		t.Fatalf("bucket holds %q, want only %q", keys, r.loc.Key(oid))
	}

	got, err = r.serve(t, initDownload,
		req(map[string]any{"event": "download", "oid": oid, "size": 5000, "action": nil}),
		terminate)
	if err != nil {
		t.Fatalf("Serve: %v", err)
	}
	last := got[len(got)-1]
	if last["event"] != "complete" || last["error"] != nil {
		t.Fatalf("download replies = %v, want init reply, progress, complete", got)
	}
	var sum float64
	for _, m := range got[1 : len(got)-1] {
		if m["event"] != "progress" || m["bytesSoFar"].(float64) <= sum {
			t.Errorf("reply %v between init and complete is not a growing progress message", m)
		}
		sum += m["bytesSinceLast"].(float64)
	}
	if sum != 5000 {
		t.Errorf("download progress adds up to %v, want 5000", sum)
	}
	tmp, _ := last["path"].(string)
	if filepath.Dir(tmp) != r.tempDir {
		t.Errorf("download path %q is not in the LFS temp dir %q", tmp, r.tempDir)
	}
	b, err := os.ReadFile(tmp)
	if err != nil || !bytes.Equal(b, data) {
		t.Fatalf("downloaded file: %d bytes, err %v; want the %d uploaded bytes", len(b), err, len(data))
	}
	if fi, _ := os.Stat(tmp); fi.Mode().Perm() != 0o600 {
		t.Errorf("temp file mode = %v, want 0600", fi.Mode().Perm())
	}
}

func TestUploadSkipsPresentObject(t *testing.T) {
	r := newRig(t)
	data, oid := storetest.Object(3000, 2)
	r.srv.Put(t, "bucket", r.loc.Key(oid), data)
	puts := r.srv.Requests("PUT")
	got, err := r.serve(t, initUpload,
		req(map[string]any{"event": "upload", "oid": oid, "size": 3000, "path": r.file(t, "o", data)}))
	if err != nil {
		t.Fatal(err)
	}
	if n := r.srv.Requests("PUT") - puts; n != 0 {
		t.Errorf("agent sent %d PUTs for an object already in the bucket, want 0", n)
	}
	want := []map[string]any{
		{},
		{"event": "progress", "oid": oid, "bytesSoFar": 3000.0, "bytesSinceLast": 3000.0},
		{"event": "complete", "oid": oid},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("replies (-want +got):\n%s", diff)
	}
}

// TestObjectErrors covers well-formed requests that are wrong: each gets an
// error complete naming the problem, and the session goes on.
func TestObjectErrors(t *testing.T) {
	r := newRig(t)
	data, oid := storetest.Object(100, 3)
	good := r.file(t, "good", data)
	corrupt, corruptOid := storetest.Object(64, 4)
	corrupt[0] ^= 1
	r.srv.Put(t, "bucket", r.loc.Key(corruptOid), corrupt)
	_, missingOid := storetest.Object(10, 5)

	tests := []struct {
		name string
		init string
		req  map[string]any
		code float64
		want string
	}{
		{"upload bad oid", initUpload, map[string]any{"event": "upload", "oid": "../../etc/passwd", "size": 1, "path": good}, 400, "invalid oid"},
		{"upload upper-case oid", initUpload, map[string]any{"event": "upload", "oid": strings.ToUpper(oid), "size": 100, "path": good}, 400, "64 lower-case hex"},
		{"upload short oid", initUpload, map[string]any{"event": "upload", "oid": oid[:63], "size": 100, "path": good}, 400, "invalid oid"},
		{"upload wrong size", initUpload, map[string]any{"event": "upload", "oid": oid, "size": 99, "path": good}, 500, "is 100 bytes but git-lfs expects 99"},
		{"upload negative size", initUpload, map[string]any{"event": "upload", "oid": oid, "size": -1, "path": good}, 400, "invalid size -1"},
		{"upload missing file", initUpload, map[string]any{"event": "upload", "oid": oid, "size": 100, "path": filepath.Join(r.files, "nope")}, 404, "open local copy"},
		{"upload content not matching oid", initUpload, map[string]any{"event": "upload", "oid": missingOid, "size": 100, "path": good}, 422, "does not hash to its oid"},
		{"download missing", initDownload, map[string]any{"event": "download", "oid": missingOid, "size": 10}, 404, "not found at s3://bucket/repo/lfs/objects/"},
		{"download corrupt", initDownload, map[string]any{"event": "download", "oid": corruptOid, "size": 64}, 422, "is corrupt"},
		{"download wrong direction", initUpload, map[string]any{"event": "download", "oid": oid, "size": 100}, 500, "session started for upload"},
		{"unknown event", initUpload, map[string]any{"event": "lock", "oid": oid}, 400, `does not know the event "lock"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The failing request, then a good one: the process must go on.
			goodReq := map[string]any{"event": "upload", "oid": oid, "size": 100, "path": good}
			if tt.init == initDownload {
				r.srv.Put(t, "bucket", r.loc.Key(oid), data)
				goodReq = map[string]any{"event": "download", "oid": oid, "size": 100}
			}
			got, err := r.serve(t, tt.init, req(tt.req), req(goodReq), terminate)
			if err != nil {
				t.Fatalf("Serve: %v", err)
			}
			var completes []map[string]any
			for _, m := range got {
				if m["event"] == "complete" {
					completes = append(completes, m)
				}
			}
			if len(completes) != 2 {
				t.Fatalf("got %d complete messages, want 2: %v", len(completes), got)
			}
			e, _ := completes[0]["error"].(map[string]any)
			msg, _ := e["message"].(string)
			if e == nil || e["code"] != tt.code || !strings.Contains(msg, tt.want) {
				t.Errorf("first complete = %v, want error code %v containing %q", completes[0], tt.code, tt.want)
			}
			if completes[1]["error"] != nil {
				t.Errorf("the next good request failed: %v", completes[1])
			}
			entries, _ := os.ReadDir(r.tempDir)
			for _, e := range entries {
				if !strings.HasPrefix(e.Name(), oid) {
					t.Errorf("left behind in the temp dir: %s", e.Name())
				}
			}
		})
	}
	if keys := r.srv.Keys(t, "bucket", ""); len(keys) != 2 {
		t.Errorf("bucket keys = %q: only the good object and the arranged corrupt one should be there", keys)
	}
}

// TestProtocolErrors covers input that breaks the protocol: Serve returns a
// *ProtocolError and the process exits non-zero.
func TestProtocolErrors(t *testing.T) {
	_, oid := storetest.Object(1, 1)
	tests := []struct {
		name  string
		input string
		want  string
	}{
		{"not JSON", initUpload + "\nhello\n", "line 2 is not a JSON object"},
		{"no event", `{"oid":"x"}` + "\n", "has no \"event\""},
		{"request before init", `{"event":"upload","oid":"` + oid + `","size":1,"path":"/x"}` + "\n", "upload request for \"" + oid + "\" before init"},
		{"second init", initUpload + "\n" + initUpload + "\n", "second init"},
		{"line too long", initUpload + "\n" + `{"event":"upload","path":"` + strings.Repeat("a", transfer.MaxLineSize) + "\"}\n", "longer than 1048576 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			var out bytes.Buffer
			err := r.agent().Serve(context.Background(), strings.NewReader(tt.input), &out)
			var pe *transfer.ProtocolError
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Serve error = %v, want a ProtocolError containing %q", err, tt.want)
			}
			if r.opens != 0 {
				t.Errorf("the agent opened the store %d times on bad input", r.opens)
			}
		})
	}
}

func TestInit(t *testing.T) {
	r := newRig(t)
	requests := func() int { return r.srv.Requests("HEAD") + r.srv.Requests("GET") + r.srv.Requests("PUT") }
	before := requests()
	got, err := r.serve(t, `{"event":"init","operation":"copy","remote":"origin"}`, terminate)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0]["error"] == nil {
		t.Fatalf("init with a bad operation: replies %v, want one error reply", got)
	}
	got, err = r.serve(t, initUpload, terminate)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]map[string]any{{}}, got); diff != "" {
		t.Errorf("init reply (-want +got):\n%s", diff)
	}
	if r.opens != 0 || requests() != before {
		t.Errorf("init opened the store (%d) or made requests", r.opens)
	}
}

func TestEOFWithoutTerminate(t *testing.T) {
	r := newRig(t)
	if _, err := r.serve(t, initUpload); err != nil {
		t.Fatalf("Serve at EOF: %v, want nil", err)
	}
	// Lines after terminate are not read.
	got, err := r.serve(t, initUpload, terminate, "garbage")
	if err != nil || len(got) != 1 {
		t.Fatalf("Serve after terminate = %v, %v; want one reply and no error", got, err)
	}
}

func TestOpenErrorIsPerObject(t *testing.T) {
	a := &transfer.Agent{Open: func(context.Context, string, string) (*transfer.Target, error) {
		return nil, fmt.Errorf("no LFS URL for remote \"origin\"")
	}}
	_, oid := storetest.Object(1, 1)
	var out bytes.Buffer
	in := strings.Join([]string{initDownload,
		req(map[string]any{"event": "download", "oid": oid, "size": 1}),
		req(map[string]any{"event": "download", "oid": oid, "size": 1}), terminate}, "\n")
	if err := a.Serve(context.Background(), strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "no LFS URL"); n != 2 {
		t.Errorf("output %q: want the open error on both objects", out.String())
	}
}

func TestValidOid(t *testing.T) {
	_, oid := storetest.Object(1, 1)
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{oid, true}, {strings.ToUpper(oid), false}, {oid[:63], false}, {oid + "0", false},
		{"../" + oid[3:], false}, {strings.Repeat("g", 64), false}, {"", false},
	} {
		if got := transfer.ValidOid(tt.in); got != tt.want {
			t.Errorf("ValidOid(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// TestStaleTempFileRemoved: a temp file left by a killed agent (no lock
// holder, no sidecar) is replaced by the next download of the same object.
func TestStaleTempFileRemoved(t *testing.T) {
	r := newRig(t)
	data, oid := storetest.Object(200, 6)
	r.srv.Put(t, "bucket", r.loc.Key(oid), data)
	if err := os.MkdirAll(r.tempDir, 0o755); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(r.tempDir, oid+".datalfs")
	other := filepath.Join(r.tempDir, "unrelated-file")
	for _, p := range []string{stale, other} {
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	got, err := r.serve(t, initDownload, req(map[string]any{"event": "download", "oid": oid, "size": 200}))
	if err != nil || got[len(got)-1]["error"] != nil {
		t.Fatalf("download: %v %v", got, err)
	}
	if fi, err := os.Stat(stale); err == nil && fi.Size() != 200 {
		t.Errorf("stale temp file still holds %d bytes of the dead agent's data", fi.Size())
	}
	if b, _ := os.ReadFile(got[len(got)-1]["path"].(string)); !bytes.Equal(b, data) {
		t.Errorf("download over a stale temp file is wrong")
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("a file that is not ours was touched: %v", err)
	}
}

// leftover writes a temp file as a killed agent leaves it: the first n
// bytes of data and a sidecar vouching for them.
func (r *rig) leftover(t *testing.T, oid string, prefix []byte) string {
	if err := os.MkdirAll(r.tempDir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(r.tempDir, oid+".datalfs")
	if err := os.WriteFile(p, prefix, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p+".done", []byte(fmt.Sprint(len(prefix))), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDownloadResumesLeftover(t *testing.T) {
	r := newRig(t)
	data, oid := storetest.Object(1<<20, 8)
	r.srv.Put(t, "bucket", r.loc.Key(oid), data)
	r.leftover(t, oid, data[:300000])

	got, err := r.serve(t, initDownload, req(map[string]any{"event": "download", "oid": oid, "size": 1 << 20}))
	if err != nil || got[len(got)-1]["error"] != nil {
		t.Fatalf("download: %v %v", got, err)
	}
	if diff := cmp.Diff([]string{"bytes=300000-1048575"}, r.srv.Ranges()); diff != "" {
		t.Errorf("GET ranges (-want +got):\n%s", diff)
	}
	b, _ := os.ReadFile(got[len(got)-1]["path"].(string))
	if !bytes.Equal(b, data) {
		t.Fatalf("resumed download differs from the object")
	}
	entries, _ := os.ReadDir(r.tempDir)
	if len(entries) != 1 {
		t.Errorf("temp dir holds %d entries, want only the finished file (no sidecar)", len(entries))
	}
}

// TestDownloadLeavesNoSidecar: a download long enough to checkpoint its
// progress in a sidecar removes the sidecar when it finishes, and a failed
// one removes both files; git-lfs moves only the finished file.
func TestDownloadLeavesNoSidecar(t *testing.T) {
	r := newRig(t)
	const size = 20 << 20 // more than two checkpoints
	data, oid := storetest.Object(size, 10)
	r.srv.Put(t, "bucket", r.loc.Key(oid), data)
	got, err := r.serve(t, initDownload, req(map[string]any{"event": "download", "oid": oid, "size": size}))
	if err != nil || got[len(got)-1]["error"] != nil {
		t.Fatalf("download: %v %v", got, err)
	}
	// Only the handed-over file stays, under a name of its own.
	handed := got[len(got)-1]["path"].(string)
	entries, _ := os.ReadDir(r.tempDir)
	if len(entries) != 1 || entries[0].Name() != filepath.Base(handed) || entries[0].Name() == oid+".datalfs" {
		t.Errorf("temp dir after a finished download: %v, want only the handed-over file %s, not named %s.datalfs", entries, filepath.Base(handed), oid)
	}
	if err := os.Remove(handed); err != nil {
		t.Fatal(err)
	}

	// The wrong size: the download fails after checkpoints were written.
	got, err = r.serve(t, initDownload, req(map[string]any{"event": "download", "oid": oid, "size": size + 1}))
	if err != nil || got[len(got)-1]["error"] == nil {
		t.Fatalf("download with a wrong size: %v %v, want an error", got, err)
	}
	if entries, _ := os.ReadDir(r.tempDir); len(entries) != 0 {
		t.Errorf("temp dir after a failed download: %v, want it empty", entries)
	}
}

func TestDownloadBadLeftoverRestarts(t *testing.T) {
	r := newRig(t)
	data, oid := storetest.Object(100000, 9)
	r.srv.Put(t, "bucket", r.loc.Key(oid), data)
	bad := bytes.Clone(data[:5000])
	bad[10] ^= 0xff
	r.leftover(t, oid, bad)

	got, err := r.serve(t, initDownload, req(map[string]any{"event": "download", "oid": oid, "size": 100000}))
	if err != nil || got[len(got)-1]["error"] != nil {
		t.Fatalf("download: %v %v", got, err)
	}
	b, _ := os.ReadFile(got[len(got)-1]["path"].(string))
	if !bytes.Equal(b, data) {
		t.Fatalf("download after a bad leftover differs from the object")
	}
	var total float64
	for _, m := range got {
		if m["event"] == "progress" {
			total += m["bytesSinceLast"].(float64)
		}
	}
	if total != 100000 {
		t.Errorf("progress adds up to %v, want 100000 (no inflation after the restart)", total)
	}
}

// stallingStore never moves a byte until its context ends: the stand-in for
// a server that stops answering (the fault-proxy tests use a real one).
type stallingStore struct{ transfer.Store }

func (stallingStore) Download(ctx context.Context, _ string, _, _ int64, _ io.WriterAt, _ func(int64)) error {
	<-ctx.Done()
	return ctx.Err()
}

func TestStallTimeoutGivesUp(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tmp")
	a := &transfer.Agent{Open: func(context.Context, string, string) (*transfer.Target, error) {
		return &transfer.Target{Store: stallingStore{}, TempDir: dir, StallTimeout: 200 * time.Millisecond}, nil
	}}
	_, oid := storetest.Object(10, 1)
	in := initDownload + "\n" + req(map[string]any{"event": "download", "oid": oid, "size": 10}) + "\n"
	var out bytes.Buffer
	start := time.Now()
	if err := a.Serve(context.Background(), strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("gave up after %v, want about 200ms", d)
	}
	if !strings.Contains(out.String(), "gave up on download "+oid+" after 200ms without progress") {
		t.Errorf("reply %q does not say the transfer stalled", out.String())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a stalled download left %d files in the temp dir", len(entries))
	}
}

// forbiddenStat is a store whose HEAD is refused, as S3 refuses a HEAD of a
// missing key to credentials without s3:ListBucket; the rest is the real store.
type forbiddenStat struct{ transfer.Store }

func (forbiddenStat) Stat(context.Context, string) (int64, error) {
	return 0, fmt.Errorf("access denied: %w", fs.ErrPermission)
}

func TestUploadWithoutStatPermission(t *testing.T) {
	r := newRig(t)
	data, oid := storetest.Object(1234, 15)
	a := r.agent()
	open := a.Open
	a.Open = func(ctx context.Context, op, remote string) (*transfer.Target, error) {
		tgt, err := open(ctx, op, remote)
		if err == nil {
			tgt.Store = forbiddenStat{tgt.Store}
		}
		return tgt, err
	}
	in := initUpload + "\n" + req(map[string]any{"event": "upload", "oid": oid, "size": 1234, "path": r.file(t, "o", data)}) + "\n"
	var out bytes.Buffer
	if err := a.Serve(context.Background(), strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), `"error"`) {
		t.Fatalf("upload with a refused HEAD failed: %s", out.String())
	}
	if keys := r.srv.Keys(t, "bucket", ""); len(keys) != 1 || keys[0] != r.loc.Key(oid) {
		t.Errorf("bucket holds %q, want the uploaded object", keys)
	}
}
