package pgtest

import (
	"errors"
	"io/fs"
	"os"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestServer(t *testing.T) {
	s := Start(t)
	dsn := s.CreateDatabase(t, "pgtest")
	if expected := "postgres://postgres@127.0.0.1:" + strconv.Itoa(s.Port) + "/pgtest?sslmode=disable"; dsn != expected {
		t.Errorf("expected DSN %q, got %q", expected, dsn)
	}
	if n, err := QueryInt(dsn, "SELECT n FROM t"); err == nil {
		t.Fatalf("expected no table t in a new database, got %d", n)
	}
	if _, err := QueryInt(dsn, "CREATE TABLE t AS SELECT 42 AS n"); !errors.Is(err, pgx.ErrNoRows) {
		t.Fatalf("create table: %v", err)
	}
	port := s.Port

	s.Stop(t)
	if _, err := QueryInt(dsn, "SELECT n FROM t"); err == nil {
		t.Fatal("expected no connection to a stopped server")
	}
	s.Restart(t)
	if s.Port != port {
		t.Errorf("expected port %d after restart, got %d", port, s.Port)
	}
	if n, err := QueryInt(dsn, "SELECT n FROM t"); err != nil || n != 42 {
		t.Fatalf("after restart: expected 42, got %d, %v", n, err)
	}

	if n, err := QueryInt(dsn, "INSERT INTO t VALUES (43) RETURNING n"); err != nil || n != 43 {
		t.Fatalf("insert: expected 43, got %d, %v", n, err)
	}
	s.Kill(t) // what was committed survives
	if _, err := QueryInt(dsn, "SELECT n FROM t"); err == nil {
		t.Fatal("expected no connection to a killed server")
	}
	s.Restart(t)
	if n, err := QueryInt(dsn, "SELECT sum(n) FROM t"); err != nil || n != 85 {
		t.Fatalf("after a kill and restart: expected 85, got %d, %v", n, err)
	}

	s.Restart(t) // a running server is stopped first
	if n, err := QueryInt(dsn, "SELECT sum(n) FROM t"); err != nil || n != 85 {
		t.Fatalf("after restarting a running server: expected 85, got %d, %v", n, err)
	}
}

func TestShared(t *testing.T) {
	var sh Shared
	s := sh.Get(t)
	if again := sh.Get(t); again != s {
		t.Fatalf("expected the same server twice, got %p and %p", s, again)
	}
	if n, err := QueryInt(s.DSN("postgres"), "SELECT 1"); err != nil || n != 1 {
		t.Fatalf("expected 1, got %d, %v", n, err)
	}
	if err := sh.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("expected %s removed, got %v", s.dir, err)
	}
	if _, err := QueryInt(s.DSN("postgres"), "SELECT 1"); err == nil {
		t.Error("expected no connection to a closed server")
	}
}

func TestSharedCloseUnused(t *testing.T) {
	var sh Shared
	if err := sh.Close(); err != nil {
		t.Errorf("expected no error closing an unused server, got %v", err)
	}
}
