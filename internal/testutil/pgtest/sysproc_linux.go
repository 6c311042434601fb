package pgtest

import "syscall"

// sysProcAttr runs a server binary as a (nil: as the test's user) with no supplementary groups,
// and sends it SIGQUIT, the immediate shut-down, if the test binary dies first.
func sysProcAttr(a *account) *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Pdeathsig: syscall.SIGQUIT}
	if a != nil {
		attr.Credential = &syscall.Credential{Uid: uint32(a.uid), Gid: uint32(a.gid)}
	}
	return attr
}
