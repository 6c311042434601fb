//go:build !linux

package pgtest

import "syscall"

// sysProcAttr runs a server binary as the test's user: away from Linux, tests must not run as
// root, and a server outlives a test binary that crashes.
func sysProcAttr(*account) *syscall.SysProcAttr { return nil }
