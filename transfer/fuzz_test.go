package transfer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

// FuzzServe feeds arbitrary input to the agent loop: it must never panic or
// hang, must answer only with well-formed protocol lines, and must end with
// nil (terminate or EOF) or a *ProtocolError.
func FuzzServe(f *testing.F) {
	oid := strings.Repeat("ab", 32)
	seeds := []string{
		`{"event":"init","operation":"upload","remote":"origin","concurrent":true,"concurrenttransfers":8}` + "\n" +
			`{"event":"upload","oid":"` + oid + `","size":3,"path":"/nonexistent","action":null}` + "\n" + `{"event":"terminate"}` + "\n",
		`{"event":"init","operation":"download","remote":"origin"}` + "\n" + `{"event":"download","oid":"` + oid + `","size":-5}` + "\n",
		`{"event":"init","operation":"download"}` + "\n" + `{"event":"download","oid":"../../etc/passwd","size":1}` + "\n",
		`{"event":"download","oid":"x"}`,
		`{"event":"init","operation":"upload"}` + "\n" + `{"event":"lock","oid":"` + oid + `"}` + "\n" + `{"event":"init"}`,
		"not json\n",
		`{"event":"init","operation":"upload","extra":{"deep":[1,2,3]}}` + "\n" + `{"event":"upload","size":1e400}`,
		"\n\n  \n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		a := &Agent{
			Open: func(context.Context, string, string) (*Target, error) {
				return nil, errors.New("no store in the fuzz test")
			},
			Log: io.Discard,
		}
		var out bytes.Buffer
		err := a.Serve(context.Background(), bytes.NewReader(in), &out)
		var pe *ProtocolError
		if err != nil && !errors.As(err, &pe) {
			t.Fatalf("Serve returned %v (%T), want nil or a *ProtocolError", err, err)
		}
		for _, line := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
			if line == "" {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("reply %q is not a JSON object", line)
			}
			if ev, ok := m["event"]; ok && ev != "complete" && ev != "progress" {
				t.Fatalf("reply %q has event %v", line, ev)
			}
		}
	})
}
