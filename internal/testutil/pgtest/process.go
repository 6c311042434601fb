package pgtest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mailustats/mailustats/internal/testutil/proctest"
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
		if s.Port, err = proctest.FreePort(); err != nil {
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
	cmd := s.command("postgres", "-D", s.dataDir(), "-p", strconv.Itoa(s.Port), "-k", s.dir,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "fsync=off", "-c", "full_page_writes=off")
	p, err := proctest.Launch("postgres", cmd)
	if err != nil {
		return err
	}
	s.proc = p
	if err := s.waitReady(p); err != nil {
		s.shutdown(immediate)
		if strings.Contains(p.Out.String(), "could not create any TCP/IP sockets") {
			err = errPortTaken
		}
		return fmt.Errorf("postgres on port %d: %w\n%s", s.Port, err, p.Out)
	}
	return nil
}

// waitReady waits until the server accepts connections, it exits, or readyTimeout passes.
func (s *Server) waitReady(p *proctest.Process) error {
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	for {
		err := ping(ctx, s.DSN("postgres"))
		if err == nil {
			return nil
		}
		select {
		case <-p.Done:
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
	_, err := p.Shutdown(sig, readyTimeout)
	return err
}
