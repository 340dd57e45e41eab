package integration

import (
	"crypto/rand"
	"fmt"
	"strings"
	"testing"

	fp "github.com/datalfs/datalfs/integration/faultproxy"
)

// TestNoSecretUnderFaults runs the commands that talk to the bucket and
// explain problems (env, doctor, verify, uploads, push, pull) with every
// git trace on, while the server works, answers 500 to
// everything, is down, or refuses a wrong secret key: neither the real nor
// the wrong secret key ever shows in their output. The fault tests check
// their own output the same way when they end.
func TestNoSecretUnderFaults(t *testing.T) {
	e := newFaultEnv(t, "DATALFS_MAX_ATTEMPTS=2") // failures need not be retried here
	content := e.source(map[string]int64{"a.bin": 10 << 10})["a.bin"]
	wrong := rand.Text()
	commands := [][]string{
		{"datalfs", "env"},
		{"datalfs", "doctor", "--write-test"},
		{"datalfs", "verify"},
		{"datalfs", "uploads"},
		// Both move the object whether or not it is there already.
		{"git", "lfs", "push", "--object-id", "origin", oidOf(content)},
		{"git", "lfs", "fetch", "--refetch", "origin", "main"},
	}
	conditions := []struct {
		name  string
		env   []string
		rules []fp.Rule
		down  bool
	}{
		{name: "working"},
		{name: "500 to everything", rules: []fp.Rule{{Fault: fp.Error(500, "InternalError")}}},
		{name: "server down", down: true},
		{name: "wrong secret key", env: []string{"AWS_SECRET_ACCESS_KEY=" + wrong}},
	}
	var report []string
	for _, c := range conditions {
		e.proxy.SetRules(c.rules...)
		if c.down {
			e.proxy.Down()
		}
		var fails int
		for _, args := range commands {
			out, err := e.runEnv("src", c.env, args[0], args[1:]...)
			if err != nil {
				fails++
			}
			if strings.Contains(out, wrong) {
				t.Errorf("%s: %s prints the wrong secret key:\n%s", c.name, strings.Join(args, " "), tail(out, 20))
			}
		}
		if c.down {
			if err := e.proxy.Up(); err != nil {
				t.Fatal(err)
			}
		}
		report = append(report, fmt.Sprintf("%-24s %d of %d commands failed; no secret in their output", c.name, fails, len(commands)))
	}
	t.Logf("outcome:\n%s", strings.Join(report, "\n"))
}
