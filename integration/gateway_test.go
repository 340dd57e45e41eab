package integration

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// gateway is a versitygw process serving a posix directory on 127.0.0.1.
type gateway struct {
	endpoint string // http://127.0.0.1:PORT
	logPath  string
	cmd      *exec.Cmd
	exited   chan struct{} // closed when the process has exited
	waitErr  error         // valid once exited is closed
}

// errGatewayExited reports that versitygw exited before it answered, which
// is what a lost race for the port looks like.
var errGatewayExited = errors.New("versitygw exited before it was ready")

// startGateway starts versitygw with the given root keys, keeping its data,
// object versions and log under dir, and waits until it answers HTTP. It
// retries with another port when the process exits early.
func startGateway(bin, dir, accessKey, secretKey string) (*gateway, error) {
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		var g *gateway
		g, err = tryStartGateway(bin, dir, accessKey, secretKey, attempt)
		if err == nil {
			return g, nil
		}
		if !errors.Is(err, errGatewayExited) {
			break
		}
	}
	return nil, err
}

func tryStartGateway(bin, dir, accessKey, secretKey string, attempt int) (*gateway, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	root, versions := filepath.Join(dir, "root"), filepath.Join(dir, "versions")
	for _, d := range []string{root, versions} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("create gateway directory: %w", err)
		}
	}
	logPath := filepath.Join(dir, "versitygw-"+strconv.Itoa(attempt)+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create gateway log: %w", err)
	}
	defer logFile.Close() // the child keeps its own descriptor

	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	// --keep-alive: S3 keeps connections open, so pooled connections and
	// their reuse after a retry are exercised as in production.
	cmd := exec.Command(bin, "--quiet", "--keep-alive", "--port", addr,
		"posix", "--versioning-dir", versions, root)
	// Keys travel in the environment, not in the process list. Nothing else
	// of ours is passed on, so no VGW_* setting of the caller applies.
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"ROOT_ACCESS_KEY_ID=" + accessKey,
		"ROOT_SECRET_ACCESS_KEY=" + secretKey,
	}
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = childProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start versitygw: %w", err)
	}
	g := &gateway{endpoint: "http://" + addr, logPath: logPath, cmd: cmd, exited: make(chan struct{})}
	go func() {
		g.waitErr = cmd.Wait()
		close(g.exited)
	}()
	if err := g.waitReady(15 * time.Second); err != nil {
		g.stop()
		return nil, err
	}
	return g, nil
}

// waitReady polls the gateway until any HTTP answer arrives (an anonymous
// GET / gets 403), the process exits, or timeout passes.
func (g *gateway) waitReady(timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for {
		resp, err := client.Get(g.endpoint + "/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-g.exited:
			return fmt.Errorf("%w (%v); log:\n%s", errGatewayExited, g.waitErr, g.logTail())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("versitygw at %s not ready after %v: %v; log:\n%s", g.endpoint, timeout, err, g.logTail())
		}
	}
}

// stop asks the gateway to exit and kills it if it has not after 5 s.
func (g *gateway) stop() {
	select {
	case <-g.exited:
		return
	default:
	}
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.exited:
	case <-time.After(5 * time.Second):
		_ = g.cmd.Process.Kill()
		<-g.exited
	}
}

// logTail returns the last few KiB of the gateway's log.
func (g *gateway) logTail() string {
	b, err := os.ReadFile(g.logPath)
	if err != nil {
		return err.Error()
	}
	const max = 4 << 10
	if len(b) > max {
		b = b[len(b)-max:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(b)
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
