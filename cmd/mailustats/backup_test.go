package main

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailustats/mailustats/internal/testutil/sqltest"
)

// dumpSQLite returns the rows of every table of the SQLite database at path, each row a line,
// sorted, by table.
func dumpSQLite(t *testing.T, path string) map[string][]string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var tables []string
	for _, r := range sqltest.Query(t, db, `SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name`) {
		tables = append(tables, r[0].(string))
	}
	out := map[string][]string{}
	for _, name := range tables {
		var rows []string
		for _, r := range sqltest.Query(t, db, `SELECT * FROM `+name) {
			rows = append(rows, fmt.Sprint(r...))
		}
		slices.Sort(rows)
		out[name] = rows
	}
	return out
}

// dirNames returns the names in dir, sorted.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// backupLine matches the summary of a backup.
var backupLine = regexp.MustCompile(`^backup (.+): [0-9]+\.[0-9] MiB in [0-9.]+m?s, checked: integrity, schema version 3, aggregates; (\d+) older cop(y|ies) removed\n$`)

// A backup while a writer holds the write lock: the copy is written at once, holds what was
// committed, and verifies.
func TestBackupWhileWriting(t *testing.T) {
	src := sqliteDatabase(t, manyRecords(500))
	writer, err := sql.Open("sqlite", "file:"+src+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	tx, err := writer.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`INSERT INTO versions (name) VALUES ('uncommitted')`); err != nil {
		t.Fatal(err)
	}
	committed := dumpSQLite(t, src)

	dst := filepath.Join(t.TempDir(), "copy.db")
	got := runCommand("backup", "-sqlite", src, "-to", dst)
	checkRun(t, got, exitOK)
	if m := backupLine.FindStringSubmatch(got.stdout); m == nil || m[1] != dst || m[2] != "0" {
		t.Errorf("expected one line matching %s, for %s, got %q", backupLine, dst, got.stdout)
	}
	if copied := dumpSQLite(t, dst); !reflect.DeepEqual(copied, committed) {
		t.Errorf("expected the copy to hold what was committed, %d tables, got %d tables", len(committed), len(copied))
	}
	if fi, err := os.Stat(dst); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("expected the copy readable by its owner only, got %v, %v", fi.Mode(), err)
	}
	if names := dirNames(t, filepath.Dir(dst)); !slices.Equal(names, []string{"copy.db"}) {
		t.Errorf("expected only the copy in its directory, got %q", names)
	}
	checkRun(t, runCommand("verify", "-sqlite", dst), exitOK, ": sound: ")
}

func TestBackupDir(t *testing.T) {
	src := sqliteDatabase(t, manyRecords(50))
	dir := t.TempDir()
	others := []string{"mailustats-latest.db", "notes.txt", "mailustats-20200101T000000Z.db.old"}
	old := []string{"mailustats-20200101T000000Z.db", "mailustats-20200102T000000Z.db", "mailustats-20200103T000000Z.db"}
	for _, name := range append(slices.Clone(others), old...) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	before := time.Now().UTC()
	got := runCommand("backup", "-sqlite", src, "-dir", dir, "-keep", "2")
	checkRun(t, got, exitOK)
	m := backupLine.FindStringSubmatch(got.stdout)
	if m == nil || m[2] != "2" {
		t.Fatalf("expected one line matching %s with 2 copies removed, got %q", backupLine, got.stdout)
	}
	name := filepath.Base(m[1])
	at, err := time.Parse("mailustats-"+backupLayout+".db", name)
	if err != nil || filepath.Dir(m[1]) != dir || at.Before(before.Truncate(time.Second)) || at.After(time.Now()) {
		t.Errorf("expected a copy in %s named after the time, got %s (%v)", dir, m[1], err)
	}
	want := append(slices.Clone(others), old[2], name)
	slices.Sort(want)
	if names := dirNames(t, dir); !slices.Equal(names, want) {
		t.Errorf("expected %q, got %q", want, names)
	}
	checkRun(t, runCommand("verify", "-sqlite", m[1]), exitOK)
}

func TestBackupFailures(t *testing.T) {
	src := sqliteDatabase(t, manyRecords(50))
	disagrees := sqliteDatabase(t, manyRecords(50))
	execSQLite(t, disagrees, changeAggregates...)
	corrupt := sqliteDatabase(t, manyRecords(2000))
	flipPage(t, corrupt, "sightings")
	missing := filepath.Join(t.TempDir(), "missing.db")
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		src, dir string // dir: "" for an empty temporary directory
		exit     int
		out      string // in stdout, or stderr
	}{
		{missing, "", exitUnopenable, "problem: " + missing + ": no such file\n"},
		{disagrees, "", exitDisagrees, "problem: aggregates: day_versions disagrees with the sightings"},
		{corrupt, "", exitCorrupt, "problem: "},
		{src, filepath.Join(notDir, "sub"), exitFailure, "mailustats backup: sink sqlite:" + src + ": "},
		{src, filepath.Join(t.TempDir(), "no", "such"), exitFailure, "no such file or directory"},
	} {
		dir := tc.dir
		if dir == "" {
			dir = t.TempDir()
		}
		for _, dest := range [][]string{{"-to", filepath.Join(dir, "copy.db")}, {"-dir", dir}} {
			got := runCommand(append([]string{"backup", "-sqlite", tc.src}, dest...)...)
			if got.exit != tc.exit || !strings.Contains(got.stdout+got.stderr, tc.out) {
				t.Errorf("%s %v: expected exit %d and %q, got %d, %q, %q", tc.src, dest, tc.exit, tc.out, got.exit, got.stdout, got.stderr)
			}
			if tc.dir == "" {
				if names := dirNames(t, dir); len(names) > 0 {
					t.Errorf("%s %v: expected nothing written, got %q", tc.src, dest, names)
				}
			}
		}
	}
}

func TestBackupUsage(t *testing.T) {
	src := sqliteDatabase(t, nil)
	dsn := postgresDatabase(t, nil)
	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"-sqlite", src}, "mailustats backup: name the destination with exactly one of -to or -dir\n"},
		{[]string{"-sqlite", src, "-to", "a.db", "-dir", "."}, "mailustats backup: name the destination with exactly one of -to or -dir\n"},
		{[]string{"-sqlite", src, "-to", "a.db", "-keep", "3"}, "mailustats backup: -keep goes with -dir\n"},
		{[]string{"-sqlite", src, "-dir", ".", "-keep", "0"}, "mailustats backup: -keep: want at least 1\n"},
		{[]string{"-sqlite", src, "-to", src}, "mailustats backup: " + src + " is the database itself\n"},
		{[]string{"-sqlite", src, "-to", "a.db", "extra"}, "mailustats backup: unexpected argument \"extra\"\n"},
		{[]string{"-postgres", dsn, "-to", "a.db"}, ": backup copies SQLite databases only; back up PostgreSQL with pg_dump -Fc"},
	} {
		got := runCommand(append([]string{"backup"}, tc.args...)...)
		if got.exit != exitUsage || !strings.Contains(got.stderr, tc.stderr) || got.stdout != "" {
			t.Errorf("%v: expected exit 2 and %q, got %d, %q, %q", tc.args, tc.stderr, got.exit, got.stdout, got.stderr)
		}
	}
}

func TestBackupMetrics(t *testing.T) {
	src := sqliteDatabase(t, manyRecords(50))
	dst := filepath.Join(t.TempDir(), "copy.db")
	prom := filepath.Join(t.TempDir(), "backup.prom")
	checkRun(t, runCommand("backup", "-sqlite", src, "-to", dst, "-metrics", prom), exitOK)
	fi, err := os.Stat(dst)
	if err != nil {
		t.Fatal(err)
	}
	first := readMetrics(t, prom)
	if first[backupSize] != float64(fi.Size()) || first[backupSuccess] < float64(time.Now().Add(-time.Minute).Unix()) || first[backupDuration] <= 0 || len(first) != 3 {
		t.Errorf("expected the size %d, a success now and a duration, got %v", fi.Size(), first)
	}

	checkRun(t, runCommand("backup", "-sqlite", src+".missing", "-to", dst, "-metrics", prom), exitUnopenable)
	checkRun(t, runCommand("backup", "-sqlite", src+".missing", "-to", dst, "-metrics", prom), exitUnopenable)
	second := readMetrics(t, prom)
	if second[backupFailures] != 2 || second[backupFailure] < first[backupSuccess] || second[backupSuccess] != first[backupSuccess] ||
		second[backupSize] != first[backupSize] || second[backupDuration] != first[backupDuration] {
		t.Errorf("expected 2 failures and the success kept from %v, got %v", first, second)
	}
	if text := string(readBytes(t, prom)); !strings.Contains(text, "# TYPE "+backupFailures+" counter\n") {
		t.Errorf("expected %s a counter, got\n%s", backupFailures, text)
	}
	if fi, err := os.Stat(dst); err != nil || fi.Size() != int64(first[backupSize]) {
		t.Errorf("expected the failed backups to leave the copy as it was, got %v", err)
	}
}

// backup and verify find the database as the server does, by its Corefile.
func TestBackupCorefile(t *testing.T) {
	src := sqliteDatabase(t, manyRecords(50))
	corefile := filepath.Join(t.TempDir(), "Corefile")
	content := "stats.mailu.io {\n  mailustats {\n    ns ns1.stats.mailu.io 127.0.0.1\n    sink sqlite " + src + "\n  }\n}\n"
	if err := os.WriteFile(corefile, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "copy.db")
	checkRun(t, runCommand("backup", "-conf", corefile, "-to", dst), exitOK, "backup "+dst+": ")
	checkRun(t, runCommand("verify", "-conf", corefile), exitOK, corefile+":4 - sink sqlite:"+src+": sound: ")
}
