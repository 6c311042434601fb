// Package proctest runs child processes for tests and benchmarks, such as servers on free
// loopback ports: their output is kept while the caller reads it, they can be stopped with a
// signal within a bound, and in a test they are killed when the test ends.
package proctest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// killWait bounds the wait for a killed process to be reaped, and for the output of one that
// exited while children it left behind still hold its output.
const killWait = 10 * time.Second

// Buffer collects a process's output while the caller reads it.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Process is a started child process whose stdout and stderr are kept in Out.
type Process struct {
	Name string
	Cmd  *exec.Cmd
	Out  *Buffer
	Done chan struct{} // closed once the process has exited and its output is complete
}

// Launch starts cmd, which must not have been started, with its output going to the Process's
// Out.
func Launch(name string, cmd *exec.Cmd) (*Process, error) {
	p := &Process{Name: name, Cmd: cmd, Out: &Buffer{}, Done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.Out, p.Out
	cmd.WaitDelay = killWait
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() { cmd.Wait(); close(p.Done) }()
	return p, nil
}

// Start is Launch for a test: it fails t when cmd cannot be started, and kills the process at
// the end of the test, as KillAtEnd does.
func Start(t testing.TB, name string, cmd *exec.Cmd) *Process {
	t.Helper()
	p, err := Launch(name, cmd)
	if err != nil {
		t.Fatal(err)
	}
	p.KillAtEnd(t)
	return p
}

// KillAtEnd kills the process at the end of the test if it still runs, and logs its output if
// the test failed.
func (p *Process) KillAtEnd(t testing.TB) {
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s %s output:\n%s", p.Name, strings.Join(p.Cmd.Args[1:], " "), p.Out)
		}
	})
	t.Cleanup(p.Kill) // runs before the log above, so the log is complete
}

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.Done:
		return true
	default:
		return false
	}
}

// Wait waits for the process to exit and returns its exit code, -1 when a signal ended it; a
// process that outlives timeout is killed and an error returned.
func (p *Process) Wait(timeout time.Duration) (int, error) {
	select {
	case <-p.Done:
		return p.Cmd.ProcessState.ExitCode(), nil
	case <-time.After(timeout):
		p.Kill()
		return -1, fmt.Errorf("%s still running after %s; killed", p.Name, timeout)
	}
}

// Shutdown sends sig, unless the process has exited, and then does what Wait does.
func (p *Process) Shutdown(sig os.Signal, timeout time.Duration) (int, error) {
	if !p.Exited() {
		if err := p.Cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return -1, fmt.Errorf("%s: %v: %w", p.Name, sig, err)
		}
	}
	return p.Wait(timeout)
}

// Terminate is Shutdown with SIGTERM for a test, which fails when the process had to be killed.
// It returns the output and the exit code.
func (p *Process) Terminate(t testing.TB, timeout time.Duration) (string, int) {
	t.Helper()
	code, err := p.Shutdown(syscall.SIGTERM, timeout)
	if err != nil {
		t.Fatal(err)
	}
	return p.Out.String(), code
}

// Kill ends the process if it is still running and waits a bounded time for it.
func (p *Process) Kill() {
	if p.Exited() {
		return
	}
	p.Cmd.Process.Kill()
	select {
	case <-p.Done:
	case <-time.After(killWait):
	}
}
