package pgtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mailustats/mailustats/plugin/freeport"
)

// The signals pg_ctl stop sends to the postmaster for -m fast and -m immediate.
const (
	fast      = syscall.SIGINT
	immediate = syscall.SIGQUIT
)

// portAttempts is how often a new server tries another free port that was taken before it
// could bind it.
const portAttempts = 3

// errPortTaken says another process bound the port between its choice and the server's start.
var errPortTaken = errors.New("port taken")

// process is a running postmaster, a child of the test binary: it gets SIGQUIT if the test
// binary dies, so a crashed or timed-out test leaves no server behind.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed once the process has exited
}

// Stop shuts the server down as pg_ctl stop -m fast does, disconnecting its clients, and waits
// until it has exited.
func (s *Server) Stop(tb testing.TB) {
	tb.Helper()
	if err := s.shutdown(fast); err != nil {
		tb.Fatal(err)
	}
}

// Kill shuts the server down as pg_ctl stop -m immediate does, as a crash would, and waits
// until it has exited; it recovers on Restart.
func (s *Server) Kill(tb testing.TB) {
	tb.Helper()
	if err := s.shutdown(immediate); err != nil {
		tb.Fatal(err)
	}
}

// Restart starts the server again on the same port and data directory, stopping it first if it
// runs, and waits until it accepts connections.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	if err := s.shutdown(fast); err != nil {
		tb.Fatal(err)
	}
	if err := s.launch(); err != nil {
		tb.Fatal(err)
	}
}

// listen starts the server on a free port, choosing another if that one is taken first.
func (s *Server) listen() error {
	var err error
	for range portAttempts {
		if s.Port, err = freeport.TCP(); err != nil {
			return err
		}
		if err = s.launch(); !errors.Is(err, errPortTaken) {
			return err
		}
	}
	return err
}

// launch starts the postmaster on s.Port and waits until it accepts connections.
func (s *Server) launch() error {
	logPath := filepath.Join(s.dir, "postgres.log")
	log, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer log.Close() // the postmaster has its own copy
	fi, err := log.Stat()
	if err != nil {
		return err
	}
	cmd := s.command("postgres", "-D", s.dataDir(), "-p", strconv.Itoa(s.Port), "-k", s.dir,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "fsync=off", "-c", "full_page_writes=off")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return err
	}
	p := &process{cmd: cmd, exited: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(p.exited)
	}()
	s.proc = p
	if err := s.waitReady(p); err != nil {
		s.shutdown(immediate)
		out := readFrom(logPath, fi.Size())
		if strings.Contains(out, "could not create any TCP/IP sockets") {
			err = errPortTaken
		}
		return fmt.Errorf("postgres on port %d: %w\n%s", s.Port, err, out)
	}
	return nil
}

// waitReady waits until the server accepts connections, it exits, or readyTimeout passes.
func (s *Server) waitReady(p *process) error {
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	for {
		err := ping(ctx, s.DSN("postgres"))
		if err == nil {
			return nil
		}
		select {
		case <-p.exited:
			return errors.New("exited at start-up")
		case <-ctx.Done():
			return fmt.Errorf("no connection after %v: %v", readyTimeout, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// ping opens a connection to dsn and closes it.
func ping(ctx context.Context, dsn string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}

// shutdown sends the postmaster sig, if it runs, and waits until it has exited; one that takes
// longer than readyTimeout is killed.
func (s *Server) shutdown(sig syscall.Signal) error {
	p := s.proc
	if p == nil {
		return nil
	}
	s.proc = nil
	p.cmd.Process.Signal(sig) // fails only if it has exited already
	select {
	case <-p.exited:
		return nil
	case <-time.After(readyTimeout):
		p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("postgres did not stop within %v; killed it", readyTimeout)
	}
}

// readFrom returns what the file at path holds after offset, to show a server's log.
func readFrom(path string, offset int64) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	b, err := io.ReadAll(io.NewSectionReader(f, offset, 1<<20))
	if err != nil {
		return err.Error()
	}
	return string(b)
}
