// Package pgtest starts throwaway PostgreSQL servers for tests: a fresh data directory, a free
// loopback port, trust authentication and no fsync, removed when the test ends. Start gives a
// test a server of its own; Shared gives the tests of a package one server to make databases on.
//
// It needs the server binaries (scripts/deps.sh installs them); without them a test is skipped,
// or fails when the CI environment variable is set. As root, the server runs as the postgres
// account, which must be able to reach the temporary directory (TMPDIR, or /tmp).
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mailustats/mailustats/internal/testutil/proctest"
)

// superuser is the user of every DSN, allowed in without a password.
const superuser = "postgres"

// readyTimeout bounds how long a server may take to accept connections or to stop.
const readyTimeout = time.Minute

// errNotInstalled says the server binaries are missing, which skips tests outside CI.
var errNotInstalled = errors.New("PostgreSQL server binaries not found; run scripts/deps.sh")

// Server is a PostgreSQL server listening on 127.0.0.1:Port. DSN and CreateDatabase may be called
// from any goroutine; Stop, Kill and Restart from one at a time.
type Server struct {
	Port int // kept across restarts

	bin   string            // directory holding initdb and postgres
	dir   string            // the temporary directory: data directory and socket
	owner *account          // the account the server runs as; nil: the test's own
	proc  *proctest.Process // the running postmaster, nil when stopped
}

// Start starts a server for tb and stops and removes it when tb ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s, err := start()
	require(tb, err)
	tb.Cleanup(func() {
		if err := s.close(); err != nil {
			tb.Error(err)
		}
	})
	return s
}

// require ends tb when a server could not be started: a skip when the binaries are missing,
// unless the CI environment variable is set, and a failure otherwise.
func require(tb testing.TB, err error) {
	tb.Helper()
	switch {
	case err == nil:
	case errors.Is(err, errNotInstalled) && os.Getenv("CI") == "":
		tb.Skip(err)
	default:
		tb.Fatal(err)
	}
}

// start creates a data directory and starts a server on it.
func start() (*Server, error) {
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	owner, err := serverAccount()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin, dir: dir, owner: owner}
	if err := s.init(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := s.listen(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// init gives the temporary directory to the server's account and creates the data directory.
func (s *Server) init() error {
	if s.owner != nil {
		if err := os.Chown(s.dir, s.owner.uid, s.owner.gid); err != nil {
			return err
		}
	}
	cmd := s.command("initdb", "--pgdata", s.dataDir(), "--username", superuser, "--auth", "trust",
		"--no-sync", "--encoding", "UTF8", "--locale", "C")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %v\n%s", err, out)
	}
	return nil
}

// command prepares one of the server binaries to run in the temporary directory as the
// server's account.
func (s *Server) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(s.bin, name), args...)
	cmd.Dir = s.dir
	cmd.SysProcAttr = sysProcAttr(s.owner)
	return cmd
}

func (s *Server) dataDir() string { return filepath.Join(s.dir, "data") }

// DSN is the URL of database db on the server, as superuser.
func (s *Server) DSN(db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(superuser),
		Host:     "127.0.0.1:" + strconv.Itoa(s.Port),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// CreateDatabase creates an empty database, so that each test can have its own, and returns
// its DSN.
func (s *Server) CreateDatabase(tb testing.TB, name string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		tb.Fatalf("create database %s: %v", name, err)
	}
	return s.DSN(name)
}

// close stops the server at once and removes its files.
func (s *Server) close() error {
	err := s.shutdown(immediate)
	return errors.Join(err, os.RemoveAll(s.dir))
}

// QueryInt connects to dsn and returns the integer in the first row sql answers, for tests that
// count what a sink stored.
func QueryInt(dsn, sql string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	var n int
	err = conn.QueryRow(ctx, sql).Scan(&n)
	return n, err
}
