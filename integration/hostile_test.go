package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestHostileInput feeds the built `datalfs transfer` crafted protocol
// input on stdin, as git-lfs would start it in a repository, and checks
// its exit code, its stderr and every line it writes to stdout. Bad oids
// and sizes fail that object with a clear error and the session goes on;
// input that breaks the protocol itself (a line over 1 MiB, not JSON,
// requests out of order) ends the agent with a message and exit code 1;
// unknown fields are ignored. Nothing crashes, nothing is written outside
// the LFS temp dir, and nothing wrong reaches the bucket.
func TestHostileInput(t *testing.T) {
	e := newFaultEnv(t)
	e.must("", "git", "init", "-q", "repo")
	e.must("repo", "git", "config", "lfs.url", e.lfsURL)
	content := []byte("the real content of f.bin\n")
	file := filepath.Join(e.dir, "repo", "f.bin")
	if err := os.WriteFile(file, content, 0o644); err != nil {
		t.Fatal(err)
	}
	oid := oidOf(content)
	absent := oidOf([]byte("an object nobody stored"))
	outside := filepath.Join(e.dir, "outside")

	const (
		initUp   = `{"event":"init","operation":"upload","remote":"origin","concurrent":true,"concurrenttransfers":8}`
		initDown = `{"event":"init","operation":"download","remote":"origin","concurrent":true,"concurrenttransfers":8}`
		term     = `{"event":"terminate"}`
		initOK   = `^\{\}$`
	)
	js := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	up := func(oid string, size int64, path string) string {
		return js(map[string]any{"event": "upload", "oid": oid, "size": size, "path": path, "action": nil})
	}
	down := func(oid string, size int64) string {
		return js(map[string]any{"event": "download", "oid": oid, "size": size, "action": nil})
	}
	failed := func(code int, msg string) string {
		return `^\{"event":"complete","oid":".*","error":\{"code":` + fmt.Sprint(code) + `,"message":"` + msg
	}
	lines := func(ls ...string) string { return strings.Join(ls, "\n") + "\n" }
	deep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)

	cases := []struct {
		name    string
		stdin   string
		code    int
		stderr  string   // regexp the stderr must match; "" means anything without a crash
		replies []string // regexps, one per stdout line, in order
	}{
		// Oids: only 64 lower-case hex digits are accepted.
		{name: "oid-path-traversal", stdin: lines(initDown, down("../../../../"+outside, 1), term),
			replies: []string{initOK, failed(400, `invalid oid \\"../`)}},
		{name: "oid-slash", stdin: lines(initUp, up(oid[:30]+"/"+oid[31:], int64(len(content)), file), term),
			replies: []string{initOK, failed(400, `invalid oid`)}},
		{name: "oid-dotdot", stdin: lines(initDown, down("..", 1), term),
			replies: []string{initOK, failed(400, `invalid oid \\"..\\": expected 64 lower-case hex digits`)}},
		{name: "oid-upper-case", stdin: lines(initDown, down(strings.ToUpper(absent), 1), term),
			replies: []string{initOK, failed(400, `invalid oid`)}},
		{name: "oid-63-digits", stdin: lines(initDown, down(absent[:63], 1), term),
			replies: []string{initOK, failed(400, `invalid oid`)}},
		{name: "oid-65-digits", stdin: lines(initDown, down(absent+"0", 1), term),
			replies: []string{initOK, failed(400, `invalid oid`)}},
		{name: "oid-empty", stdin: lines(initDown, down("", 1), term),
			replies: []string{initOK, `^\{"event":"complete","oid":"","error":\{"code":400,"message":"invalid oid`}},
		{name: "oid-nul", stdin: lines(initDown, down("\x00"+absent[1:], 1), term),
			replies: []string{initOK, failed(400, `invalid oid`)}},
		{name: "oid-not-string", stdin: lines(initDown, `{"event":"download","oid":12,"size":1}`, term), code: 1,
			stderr: `protocol error: line 2 is not a JSON object`, replies: []string{initOK}},

		// Sizes.
		{name: "size-negative", stdin: lines(initDown, down(absent, -1), term),
			replies: []string{initOK, failed(400, `invalid size -1`)}},
		{name: "size-huge-download", stdin: lines(initDown, down(absent, 1<<62), term),
			replies: []string{initOK, failed(404, `object `+absent+` not found`)}},
		{name: "size-huge-upload", stdin: lines(initUp, up(oid, 1<<62, file), term),
			replies: []string{initOK, failed(500, `local file .* is 26 bytes but git-lfs expects 4611686018427387904`)}},
		{name: "size-overflow", stdin: lines(initDown, `{"event":"download","oid":"`+absent+`","size":9223372036854775808}`, term), code: 1,
			stderr: `protocol error: line 2 is not a JSON object`, replies: []string{initOK}},
		{name: "size-string", stdin: lines(initDown, `{"event":"download","oid":"`+absent+`","size":"1"}`, term), code: 1,
			stderr: `protocol error: line 2 is not a JSON object`, replies: []string{initOK}},
		{name: "size-fraction", stdin: lines(initDown, `{"event":"download","oid":"`+absent+`","size":1.5}`, term), code: 1,
			stderr: `protocol error: line 2 is not a JSON object`, replies: []string{initOK}},

		// Lines.
		{name: "line-over-1MiB", stdin: lines(initDown, `{"event":"download","pad":"`+strings.Repeat("x", 1<<20)+`"}`, term), code: 1,
			stderr: `protocol error: line 2 is longer than 1048576 bytes`, replies: []string{initOK}},
		{name: "line-just-under-1MiB", stdin: lines(`{"event":"init","operation":"download","pad":"`+strings.Repeat("x", 1<<20-100)+`"}`, term),
			replies: []string{initOK}},
		{name: "not-json", stdin: lines(initDown, "hello", term), code: 1,
			stderr: `protocol error: line 2 is not a JSON object`, replies: []string{initOK}},
		{name: "json-array", stdin: lines(`[1,2,3]`), code: 1, stderr: `protocol error: line 1 is not a JSON object`},
		{name: "json-null", stdin: lines(`null`), code: 1, stderr: `protocol error: line 1 has no "event"`},
		{name: "no-event", stdin: lines(`{"operation":"upload"}`), code: 1, stderr: `protocol error: line 1 has no "event"`},
		{name: "invalid-utf8", stdin: lines("\xff\xfe{\"event\":\"init\"}"), code: 1, stderr: `protocol error: line 1 is not a JSON object`},
		{name: "deep-nesting", stdin: lines(initDown, `{"event":"download","action":`+deep+`}`), code: 1,
			stderr: `protocol error: line 2 is not a JSON object`, replies: []string{initOK}},
		{name: "crlf-and-blank-lines", stdin: initDown + "\r\n\r\n\n" + down("..", 1) + "\r\n" + term + "\r\n",
			replies: []string{initOK, failed(400, `invalid oid`)}},

		// Order.
		{name: "upload-before-init", stdin: lines(up(oid, int64(len(content)), file), term), code: 1,
			stderr: `protocol error: upload request for "` + oid + `" before init`},
		{name: "second-init", stdin: lines(initUp, initUp, term), code: 1,
			stderr: `protocol error: a second init in one session`, replies: []string{initOK}},
		{name: "download-in-upload-session", stdin: lines(initUp, down(absent, 1), term),
			replies: []string{initOK, failed(500, `download request in a session started for upload`)}},
		{name: "terminate-first", stdin: lines(term, initUp, "garbage")},
		{name: "no-terminate", stdin: lines(initDown), replies: []string{initOK}},
		{name: "empty-input", stdin: ""},
		{name: "bad-operation-then-upload", stdin: lines(`{"event":"init","operation":"delete"}`, up(oid, int64(len(content)), file)), code: 1,
			stderr:  `protocol error: upload request for .* before init`,
			replies: []string{`^\{"error":\{"code":32,"message":"unknown operation \\"delete\\" in init: expected upload or download"\}\}$`}},

		// Unknown fields and events.
		{name: "unknown-fields", stdin: lines(`{"event":"init","operation":"download","x":1,"nested":{"a":[1,{"b":null}]}}`,
			`{"event":"download","oid":"..","size":1,"future":"field","action":{"href":"http://127.0.0.1:1/elsewhere"}}`, term),
			replies: []string{initOK, failed(400, `invalid oid`)}},
		{name: "unknown-event-with-oid", stdin: lines(initDown, `{"event":"verify","oid":"`+absent+`","size":1}`, term),
			stderr:  `ignoring unknown event "verify"`,
			replies: []string{initOK, failed(400, `datalfs does not know the event \\"verify\\"`)}},
		{name: "unknown-event-without-oid", stdin: lines(initDown, `{"event":"ping"}`, term),
			stderr: `ignoring unknown event "ping"`, replies: []string{initOK}},

		// Upload requests whose file is not what they say.
		{name: "upload-no-path", stdin: lines(initUp, up(oid, int64(len(content)), ""), term),
			replies: []string{initOK, failed(500, `upload request for `+oid+` has no path`)}},
		{name: "upload-missing-file", stdin: lines(initUp, up(oid, int64(len(content)), outside+"/nope"), term),
			replies: []string{initOK, failed(404, `open local copy of `+oid+`: open .*: no such file or directory`)}},
		{name: "upload-content-not-oid", stdin: lines(initUp, up(absent, int64(len(content)), file), term),
			replies: []string{initOK, failed(422, `local copy of `+absent+` does not hash to its oid`)}},
		{name: "download-absent-then-terminate", stdin: lines(initDown, down(absent, 10), term),
			replies: []string{initOK, failed(404, `object `+absent+` not found at s3://`)}},
	}

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, e.h.datalfs, "transfer")
			cmd.Dir = filepath.Join(e.dir, "repo")
			cmd.Env = e.vars
			cmd.Stdin = strings.NewReader(c.stdin)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if ctx.Err() != nil {
				t.Fatalf("the agent did not exit within 20s\nstderr:\n%s", tail(stderr.String(), 20))
			}
			e.mu.Lock()
			e.output = append(e.output, stdout.String(), stderr.String())
			e.mu.Unlock()
			code := cmd.ProcessState.ExitCode()
			if code != c.code {
				t.Errorf("exit code %d (%v), want %d\nstderr:\n%s", code, err, c.code, tail(stderr.String(), 20))
			}
			if regexp.MustCompile(`panic:|goroutine \d+ \[|fatal error:|SIGSEGV`).MatchString(stderr.String()) {
				t.Errorf("the agent crashed:\n%s", tail(stderr.String(), 40))
			}
			if c.stderr != "" && !regexp.MustCompile(c.stderr).MatchString(stderr.String()) {
				t.Errorf("stderr does not match %q:\n%s", c.stderr, tail(stderr.String(), 20))
			}
			var got []string
			for _, l := range strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n") {
				if l == "" {
					continue
				}
				got = append(got, l)
				var m map[string]any
				if err := json.Unmarshal([]byte(l), &m); err != nil {
					t.Errorf("stdout line is not a JSON object: %q", l)
				}
			}
			for i, want := range c.replies {
				if i >= len(got) {
					t.Errorf("reply %d missing, want %q", i+1, want)
					continue
				}
				if !regexp.MustCompile(want).MatchString(got[i]) {
					t.Errorf("reply %d = %.300s\nwant match %q", i+1, got[i], want)
				}
			}
			if len(got) > len(c.replies) {
				t.Errorf("%d replies, want %d; extra: %q", len(got), len(c.replies), got[len(c.replies):])
			}
			if t.Failed() {
				t.Logf("stderr:\n%s", tail(stderr.String(), 20))
			}
		})
	}

	if _, err := os.Stat(outside); err == nil {
		t.Errorf("%s exists: a crafted oid wrote outside the LFS temp dir", outside)
	}
	if temps := e.agentTemps("repo"); len(temps) > 0 {
		t.Errorf("agent temp files left: %v", temps)
	}
	e.checkBucket()
	if b := e.bucketObject(keyOf([]byte("an object nobody stored"))); b != nil {
		t.Errorf("the bucket holds %d bytes under %s, uploaded from a file with other content", len(b), absent)
	}
}
