package s3store_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/datalfs/datalfs/internal/mems3"
	"github.com/datalfs/datalfs/s3store"
	"github.com/datalfs/datalfs/transfer"
	"github.com/datalfs/datalfs/transfer/storetest"
)

// condRig runs the agent on an in-memory server and counts what reaches it.
type condRig struct {
	srv *mems3.Server
	loc s3store.Location
	dir string

	mu         sync.Mutex
	heads      int
	deletes    int
	puts       map[string]int // key -> PUTs (all probe keys as "probe")
	ignore     bool           // the server ignores If-None-Match
	denyProbe  bool           // PUTs of the probe's key are refused
	conditions int            // PUTs that carried If-None-Match
}

func newCondRig(t *testing.T) *condRig {
	r := &condRig{srv: mems3.Start(t, "bucket"), dir: t.TempDir(), puts: map[string]int{}}
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	loc, err := s3store.ParseURL(r.srv.URL + "/bucket/repo")
	if err != nil {
		t.Fatal(err)
	}
	r.loc = loc
	r.srv.Intercept(func(w http.ResponseWriter, req *http.Request) bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		key := strings.TrimPrefix(req.URL.Path, "/bucket/")
		probe := strings.HasPrefix(key, "repo/datalfs-probe/")
		if probe {
			key = "probe"
		}
		switch req.Method {
		case http.MethodHead:
			r.heads++
		case http.MethodDelete:
			r.deletes++
		case http.MethodPut:
			r.puts[key]++
			if req.Header.Get("If-None-Match") != "" {
				r.conditions++
			}
			if r.ignore {
				req.Header.Del("If-None-Match")
			}
			if r.denyProbe && probe {
				w.WriteHeader(http.StatusForbidden)
				fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>denied</Message></Error>`)
				return true
			}
		}
		return false
	})
	return r
}

func (r *condRig) counts() (heads, deletes int, puts map[string]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := map[string]int{}
	for k, v := range r.puts {
		p[k] = v
	}
	h, d := r.heads, r.deletes
	r.heads, r.deletes, r.puts = 0, 0, map[string]int{}
	return h, d, p
}

// push runs one agent session uploading objects and returns its replies.
func (r *condRig) push(t *testing.T, objs ...[]byte) []map[string]any {
	t.Helper()
	lines := []string{`{"event":"init","operation":"upload","remote":"origin","concurrent":true,"concurrenttransfers":8}`}
	for i, data := range objs {
		oid := sha256Hex(data)
		p := filepath.Join(r.dir, fmt.Sprint(i))
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(map[string]any{"event": "upload", "oid": oid, "size": len(data), "path": p})
		lines = append(lines, string(b))
	}
	agent := &transfer.Agent{
		Open: func(ctx context.Context, op, remote string) (*transfer.Target, error) {
			s, err := s3store.New(ctx, r.loc, s3store.DefaultOptions())
			return &transfer.Target{Store: s, TempDir: r.dir}, err
		},
		ProgressInterval: time.Hour,
	}
	var out bytes.Buffer
	if err := agent.Serve(context.Background(), strings.NewReader(strings.Join(lines, "\n")+"\n"), &out); err != nil {
		t.Fatal(err)
	}
	var replies []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		if m["event"] == "complete" && m["error"] != nil {
			t.Errorf("upload failed: %v", m)
		}
		replies = append(replies, m)
	}
	return replies
}

func TestCondPutOneRequestPerSmallObject(t *testing.T) {
	r := newCondRig(t)
	a, _ := storetest.Object(4<<10, 1)
	b, _ := storetest.Object(s3store.CondPutMax, 2)
	large, _ := storetest.Object(s3store.CondPutMax+1, 3)
	r.push(t, a, b, large)
	heads, deletes, puts := r.counts()
	// The probe PUTs its key twice (the second refused) and deletes it;
	// each small object is one PUT; the large one HEAD then PUT.
	if heads != 1 || deletes != 1 || puts["probe"] != 2 || puts[r.loc.Key(sha256Hex(a))] != 1 ||
		puts[r.loc.Key(sha256Hex(b))] != 1 || puts[r.loc.Key(sha256Hex(large))] != 1 {
		t.Errorf("requests: %d HEADs, PUTs %v; want 1 HEAD (the large object), 2 PUTs of the probe, 1 per object", heads, puts)
	}

	// Again from a new session: the verdict is remembered; the first small
	// object is one PUT, refused as present; nothing is stored twice. A
	// present object is one the push relies on, so the agent asks its age
	// (one HEAD, for gc's in-use marker; fresh here, so no marker). After a
	// refusal the next object is checked with HEAD first, whose answer
	// gives its age too: one request.
	replies := r.push(t, a, b)
	heads, deletes, puts = r.counts()
	if heads != 2 || deletes != 0 || puts["probe"] != 0 || puts[r.loc.Key(sha256Hex(a))] != 1 || puts[r.loc.Key(sha256Hex(b))] != 0 {
		t.Errorf("second push: %d HEADs, PUTs %v; want a refused PUT and a HEAD for the first, one HEAD for the second", heads, puts)
	}
	var done int64
	for _, m := range replies {
		if m["event"] == "progress" {
			done += int64(m["bytesSinceLast"].(float64))
		}
	}
	if want := int64(len(a) + len(b)); done != want {
		t.Errorf("progress adds up to %d, want %d (objects already stored count as sent)", done, want)
	}
	checkStored(t, r, a, b, large)
}

func TestCondPutIgnoredFallsBackToHead(t *testing.T) {
	r := newCondRig(t)
	r.ignore = true
	a, _ := storetest.Object(4<<10, 1)
	r.srv.Put(t, "bucket", r.loc.Key(sha256Hex(a)), a)
	r.counts() // arranging is not counted
	b, _ := storetest.Object(8<<10, 2)
	r.push(t, a, b)
	heads, deletes, puts := r.counts()
	// The probe's second PUT succeeded: the server ignores the condition,
	// so each object is checked with HEAD and only the new one is sent (the
	// present one's HEAD also tells its age, for transfer.Keeper).
	if puts["probe"] != 2 || deletes != 1 || heads != 2 || puts[r.loc.Key(sha256Hex(a))] != 0 || puts[r.loc.Key(sha256Hex(b))] != 1 {
		t.Errorf("requests: %d HEADs, PUTs %v; want 2 probe PUTs, 2 HEADs, no PUT of the present object, 1 of the new", heads, puts)
	}
	checkStored(t, r, a, b)
}

func TestCondPutProbeRefusedOnce(t *testing.T) {
	r := newCondRig(t)
	r.denyProbe = true
	var objs [][]byte
	for i := range 3 {
		o, _ := storetest.Object(1000, uint64(i+1))
		objs = append(objs, o)
	}
	r.push(t, objs...)
	heads, deletes, puts := r.counts()
	if puts["probe"] != 1 || deletes != 0 || heads != 3 {
		t.Errorf("requests: %d HEADs, PUTs %v; want one refused probe, then HEAD first for each object", heads, puts)
	}
	checkStored(t, r, objs...)
}

// TestCondProbeLeavesNoVersion: in a versioned bucket the probe deletes
// each version it wrote.
func TestCondProbeLeavesNoVersion(t *testing.T) {
	r := newCondRig(t)
	ctx := context.Background()
	_, err := r.srv.Client.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("bucket"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}})
	if err != nil {
		t.Fatal(err)
	}
	for _, ignore := range []bool{false, true} {
		r.ignore = ignore
		s, err := s3store.New(ctx, r.loc, s3store.DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		if mode, err := s.ProbeCondWrites(ctx); err != nil || mode == s3store.CondWritesUnknown {
			t.Fatalf("ProbeCondWrites = %v, %v", mode, err)
		}
		out, err := r.srv.Client.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("bucket")})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Versions)+len(out.DeleteMarkers) > 0 {
			t.Errorf("server ignores If-None-Match: %v; the probe left %d versions and %d delete markers", ignore, len(out.Versions), len(out.DeleteMarkers))
		}
	}
}

func TestCondWritesModes(t *testing.T) {
	for _, ignore := range []bool{false, true} {
		r := newCondRig(t)
		r.ignore = ignore
		s, err := s3store.New(context.Background(), r.loc, s3store.DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.CondWrites(context.Background())
		want := s3store.CondWritesHonoured
		if ignore {
			want = s3store.CondWritesIgnored
		}
		if err != nil || got != want {
			t.Errorf("CondWrites (server ignores: %v) = %v, %v; want %v", ignore, got, err, want)
		}
	}
}

// checkStored checks that the bucket holds exactly objs (no probe key left).
func checkStored(t *testing.T, r *condRig, objs ...[]byte) {
	t.Helper()
	if keys := r.srv.Keys(t, "bucket", ""); len(keys) != len(objs) {
		t.Errorf("bucket holds %q, want only the %d objects", keys, len(objs))
	}
	for _, o := range objs {
		var buf bytes.Buffer
		out, err := r.srv.Client.GetObject(context.Background(), getInput("bucket", r.loc.Key(sha256Hex(o))))
		if err != nil {
			t.Errorf("object %s not stored: %v", sha256Hex(o), err)
			continue
		}
		buf.ReadFrom(out.Body)
		out.Body.Close()
		if !bytes.Equal(buf.Bytes(), o) {
			t.Errorf("object %s stored with other content", sha256Hex(o))
		}
	}
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func getInput(bucket, key string) *s3.GetObjectInput {
	return &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
}

// TestRepushOneRequestPerObject: pushing objects the bucket already holds
// costs one request each, not a refused PUT and then a HEAD for the age:
// after a refusal the agent process checks the next objects with HEAD
// first, whose answer also tells their age, and goes back to conditional
// PUTs at the first object missing.
func TestRepushOneRequestPerObject(t *testing.T) {
	r := newCondRig(t)
	var objs [][]byte
	for i := range 5 {
		o, _ := storetest.Object(2000, uint64(40+i))
		objs = append(objs, o)
	}
	r.push(t, objs[:4]...)
	r.counts()
	r.push(t, objs...) // 4 present, then a new one
	heads, _, puts := r.counts()
	total := heads
	for _, n := range puts {
		total += n
	}
	// The first present object: a refused PUT and a HEAD for its age; the
	// next three: a HEAD each; the new one: found missing by HEAD, then PUT.
	if total != 2+3+2 {
		t.Errorf("re-push of 4 stored objects and 1 new: %d HEADs, PUTs %v; want 7 requests", heads, puts)
	}
	n := 0
	for _, o := range objs[:4] {
		n += puts[r.loc.Key(sha256Hex(o))]
	}
	if n != 1 {
		t.Errorf("%d PUTs of objects already stored, want 1 (the first, refused)", n)
	}
	if puts[r.loc.Key(sha256Hex(objs[4]))] != 1 {
		t.Errorf("the new object was PUT %d times, want once", puts[r.loc.Key(sha256Hex(objs[4]))])
	}
	checkStored(t, r, objs...)
}
