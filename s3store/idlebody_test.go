package s3store

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// TestIdleBody: a read that waits longer than the idle time fails with a
// timeout error (which the SDK retries); time the caller spends between
// reads does not count.
func TestIdleBody(t *testing.T) {
	// "abcd" is there at once; then nothing comes: the server stalls.
	pr, _ := io.Pipe()
	body := struct {
		io.Reader
		io.Closer
	}{io.MultiReader(strings.NewReader("abcd"), pr), pr}
	b := newIdleBody(body, 100*time.Millisecond)
	buf := make([]byte, 2)
	if _, err := io.ReadFull(b, buf); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // a slow caller, not a stalled server
	if _, err := io.ReadFull(b, buf); err != nil || string(buf) != "cd" {
		t.Fatalf("read after a slow caller: %q, %v; want \"cd\"", buf, err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := b.Read(buf)
		done <- err
	}()
	select {
	case err := <-done:
		var te interface{ Timeout() bool }
		if !errors.As(err, &te) || !te.Timeout() {
			t.Errorf("stalled read error = %v, want a timeout", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a stalled read was not ended")
	}
}
