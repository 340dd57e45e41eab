package app

import (
	"bufio"
	"os"
	"os/exec"
	"testing"
)

// TestDetachStdin checks that a child process started the way the AWS SDK
// starts a credential_process (stdin = os.Stdin) reads end of file, not the
// protocol pipe, while the agent still reads the protocol.
func TestDetachStdin(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	saved := os.Stdin
	os.Stdin = r
	defer func() { os.Stdin = saved }()
	if _, err := w.WriteString("{\"event\":\"terminate\"}\n"); err != nil {
		t.Fatal(err)
	}
	w.Close()

	in, restore, err := detachStdin(os.Stdin)
	if err != nil {
		t.Fatal(err)
	}
	child := exec.Command("sh", "-c", "cat")
	child.Stdin = os.Stdin
	out, err := child.Output()
	if err != nil || len(out) != 0 {
		t.Errorf("a child given os.Stdin read %q (%v), want nothing", out, err)
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil || line != "{\"event\":\"terminate\"}\n" {
		t.Errorf("the agent read %q (%v), want the protocol line", line, err)
	}
	restore()
	if os.Stdin != r {
		t.Error("restore did not put os.Stdin back")
	}
}
