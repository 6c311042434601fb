// Package proctest runs child processes for tests: their output is kept while the test reads
// it, they are killed at the end of the test, and they can be stopped with SIGTERM within a
// bound.
package proctest

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// killWait bounds the wait for a killed process to be reaped.
const killWait = 10 * time.Second

// Buffer collects a process's output while the test reads it.
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

// Start starts cmd, which must not have been started, with its output going to the Process's
// Out. The process is killed at the end of the test if still running, and its output logged
// if the test failed.
func Start(t testing.TB, name string, cmd *exec.Cmd) *Process {
	t.Helper()
	p := &Process{Name: name, Cmd: cmd, Out: &Buffer{}, Done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.Out, p.Out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { cmd.Wait(); close(p.Done) }()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s %s output:\n%s", p.Name, strings.Join(cmd.Args[1:], " "), p.Out)
		}
	})
	t.Cleanup(p.Kill) // runs before the log above, so the log is complete
	return p
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

// Terminate sends SIGTERM and waits for the exit; a process that outlives timeout is killed
// and the test fails. It returns the output and the exit code.
func (p *Process) Terminate(t testing.TB, timeout time.Duration) (string, int) {
	t.Helper()
	if !p.Exited() {
		if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			t.Errorf("SIGTERM %s: %v", p.Name, err)
		}
	}
	select {
	case <-p.Done:
	case <-time.After(timeout):
		p.Kill()
		t.Fatalf("%s still running %s after SIGTERM; killed", p.Name, timeout)
	}
	return p.Out.String(), p.Cmd.ProcessState.ExitCode()
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
