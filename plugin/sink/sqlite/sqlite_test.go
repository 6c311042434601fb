package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailustats/mailustats/internal/testutil/sqltest"
	"github.com/mailustats/mailustats/plugin/sink/table"
)

func TestParse(t *testing.T) {
	tests := []struct {
		args      []string
		shouldErr bool
		opts      table.Options
		label     string
	}{
		{[]string{"/var/lib/mailustats/stats.db"}, false, table.Options{}, "sqlite:/var/lib/mailustats/stats.db"},
		{[]string{"stats.db", "events"}, false, table.Options{Events: true}, "sqlite:stats.db"},
		{[]string{"stats.db", "events", "retention", "90d"}, false, table.Options{Events: true, Retention: 90 * 24 * time.Hour}, "sqlite:stats.db"},
		{[]string{"stats.db", "retention", "720h", "events"}, false, table.Options{Events: true, Retention: 720 * time.Hour}, "sqlite:stats.db"},
		{nil, true, table.Options{}, ""},
		{[]string{}, true, table.Options{}, ""},
		{[]string{"stats.db", "retention", "90d"}, true, table.Options{}, ""},
		{[]string{"stats.db", "events", "retention"}, true, table.Options{}, ""},
		{[]string{"stats.db", "events", "retention", "-1h"}, true, table.Options{}, ""},
		{[]string{"stats.db", "events", "retention", "soon"}, true, table.Options{}, ""},
		{[]string{"stats.db", "rows"}, true, table.Options{}, ""},
		{[]string{"stats.db", "Events"}, true, table.Options{}, ""},
	}
	for i, tc := range tests {
		o, err := Parse(tc.args)
		if tc.shouldErr {
			if err == nil {
				t.Errorf("test %d: Parse(%q): expected error, got %#v", i, tc.args, o)
			}
			continue
		}
		if err != nil {
			t.Errorf("test %d: Parse(%q): expected no error, got %v", i, tc.args, err)
			continue
		}
		if got := o.Label(); got != tc.label {
			t.Errorf("test %d: expected label %q, got %q", i, tc.label, got)
		}
		if got := o.(opener).opts; got != tc.opts {
			t.Errorf("test %d: expected options %+v, got %+v", i, tc.opts, got)
		}
	}
}

func TestParseOpensNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if _, err := Parse([]string{filepath.Join(dir, "stats.db"), "events"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("expected Parse to create nothing, Stat gave %v", err)
	}
}

// open opens a sqlite sink at path through Parse, as setup does, and closes it at the end of
// the test.
func open(t testing.TB, path string, args ...string) *store {
	t.Helper()
	o, err := Parse(append([]string{path}, args...))
	if err != nil {
		t.Fatal(err)
	}
	s, err := o.Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s.(*store)
}

func schemaVersion(t testing.TB, db *sql.DB) [][]any {
	t.Helper()
	return sqltest.Query(t, db, `SELECT version FROM mailustats_schema`)
}

func TestOpenCreatesDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	open(t, filepath.Join(dir, "stats.db"))
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.IsDir() {
		t.Errorf("expected %s to be a directory, got mode %v", dir, fi.Mode())
	}
	if _, err := os.Stat(filepath.Join(dir, "stats.db")); err != nil {
		t.Errorf("expected the database file, got %v", err)
	}
}

func TestOpenImpossiblePath(t *testing.T) {
	file := filepath.Join(t.TempDir(), "plain")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(file, "stats.db")
	checkOpenFails(t, path)
}

func TestOpenNotADatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stats.db")
	if err := os.WriteFile(path, []byte(strings.Repeat("not a database\n", 512)), 0o600); err != nil {
		t.Fatal(err)
	}
	checkOpenFails(t, path)
}

// checkOpenFails opens a sink at path and expects an error that names path.
func checkOpenFails(t *testing.T, path string) {
	t.Helper()
	if err := openFails(t, path); !strings.Contains(err.Error(), path) {
		t.Errorf("expected the error to name %s, got %q", path, err)
	}
}

// TestOpenPathIsNotURI checks that characters with a meaning in a URI stay part of the name.
func TestOpenPathIsNotURI(t *testing.T) {
	dir := t.TempDir()
	name := "stats?mode=ro#x%20y.db"
	open(t, filepath.Join(dir, name))
	if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
		t.Errorf("expected the database file %q, got %v", name, err)
	}
}

func TestOpenPragmas(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "stats.db"))
	tests := []struct {
		pragma string
		want   any
	}{
		{"journal_mode", "wal"},
		{"synchronous", int64(1)}, // NORMAL
		{"busy_timeout", int64(4000)},
		{"cache_size", int64(-32768)},
		{"temp_store", int64(2)}, // MEMORY
	}
	for _, tc := range tests {
		got := sqltest.Query(t, s.db, "PRAGMA "+tc.pragma)
		if want := [][]any{{tc.want}}; !reflect.DeepEqual(got, want) {
			t.Errorf("PRAGMA %s: expected %v, got %v", tc.pragma, want, got)
		}
	}
}

func TestOpenTwiceMigratesOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stats.db")
	first := open(t, path)
	if err := first.Write(t.Context(), batch("b1", rec("2025-03-01T10:00:00Z", "2024.06", instA))); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	second := open(t, path)
	if got, want := schemaVersion(t, second.db), [][]any{{int64(len(migrations))}}; !reflect.DeepEqual(got, want) {
		t.Errorf("expected schema rows %v, got %v", want, got)
	}
	if got, want := sqltest.Query(t, second.db, `SELECT count(*) FROM daily`), [][]any{{int64(1)}}; !reflect.DeepEqual(got, want) {
		t.Errorf("expected daily count %v after reopening, got %v", want, got)
	}
}

func TestOpenNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stats.db")
	s := open(t, path)
	newer := len(migrations) + 1
	if _, err := s.db.Exec(`UPDATE mailustats_schema SET version = ?`, newer); err != nil {
		t.Fatal(err)
	}
	o, _ := Parse([]string{path})
	if s2, err := o.Open(); err == nil {
		s2.Close()
		t.Fatal("expected Open of a newer schema to fail")
	} else if !strings.Contains(err.Error(), fmt.Sprint("schema version ", newer)) {
		t.Errorf("expected an error about schema version %d, got %q", newer, err)
	}
}

func TestOpenConcurrently(t *testing.T) {
	for i := range 5 {
		path := filepath.Join(t.TempDir(), "stats.db")
		o, err := Parse([]string{path, "events"})
		if err != nil {
			t.Fatal(err)
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		stores := make([]*store, 2)
		errs := make([]error, 2)
		for j := range stores {
			wg.Go(func() {
				<-start
				s, err := o.Open()
				errs[j] = err
				if err == nil {
					stores[j] = s.(*store)
				}
			})
		}
		close(start)
		wg.Wait()
		for j, s := range stores {
			if errs[j] != nil {
				t.Errorf("round %d, opener %d: %v", i, j, errs[j])
				continue
			}
			if got, want := schemaVersion(t, s.db), [][]any{{int64(len(migrations))}}; !reflect.DeepEqual(got, want) {
				t.Errorf("round %d, opener %d: expected schema rows %v, got %v", i, j, want, got)
			}
			if err := s.Close(); err != nil {
				t.Errorf("round %d, opener %d: Close: %v", i, j, err)
			}
		}
	}
}

// TestTransactionsBeginImmediate checks that a transaction takes the write lock at BEGIN, so a
// second writer waits for it instead of failing when it cannot upgrade a read lock.
func TestTransactionsBeginImmediate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stats.db")
	s := open(t, path)
	tx, err := s.db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()

	other, err := sql.Open("sqlite", path) // no busy timeout: fails at once if locked
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Exec(`BEGIN IMMEDIATE`); err == nil || !strings.Contains(err.Error(), "SQLITE_BUSY") {
		t.Errorf("expected the write lock to be held, got %v", err)
	}
}

func TestOpenRelativePath(t *testing.T) {
	t.Chdir(t.TempDir())
	open(t, "data/stats.db")
	if _, err := os.Stat(filepath.Join("data", "stats.db")); err != nil {
		t.Errorf("expected data/stats.db, got %v", err)
	}
}

// openFails opens a sink at path, which must fail, and returns the error.
func openFails(t *testing.T, path string) error {
	t.Helper()
	o, err := Parse([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	s, err := o.Open()
	if err == nil {
		s.Close()
		t.Fatalf("expected Open(%s) to fail", path)
	}
	return err
}
