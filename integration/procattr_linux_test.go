package integration

import "syscall"

// childProcAttr makes the kernel stop a long-running child (the gateway)
// when the test process dies, for example after a go test -timeout panic.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
