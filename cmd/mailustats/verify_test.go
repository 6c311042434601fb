package main

import (
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mailustats/mailustats/internal/testutil/promtext"
	"github.com/mailustats/mailustats/internal/testutil/sqltest"
	"github.com/mailustats/mailustats/plugin/sink"
	"github.com/mailustats/mailustats/plugin/sink/sqlite"
)

// manyRecords is a history of n instances, each seen on a few days with one of a few versions,
// enough to fill many pages of every table.
func manyRecords(n int) []sink.Record {
	now := time.Now().UTC()
	var out []sink.Record
	for i := range n {
		inst := fmt.Sprintf("0b7c3d3e-1111-4222-8333-%012d", i)
		for d := range 1 + i%5 {
			out = append(out, sink.Record{Time: now.AddDate(0, 0, -(i%90)-10*d), Version: fmt.Sprint(18 + (i+d)%4), Instance: inst})
		}
	}
	return out
}

// execSQLite runs statements on the SQLite database at path.
func execSQLite(t *testing.T, path string, statements ...string) {
	t.Helper()
	sqltest.Exec(t, "sqlite", "file:"+path+"?mode=rw", statements...)
}

// checkRun fails t unless the command exited with exit and its stdout holds each of want.
func checkRun(t *testing.T, got result, exit int, want ...string) {
	t.Helper()
	if got.exit != exit {
		t.Errorf("expected exit %d, got %d (stdout %q, stderr %q)", exit, got.exit, got.stdout, got.stderr)
	}
	for _, w := range want {
		if !strings.Contains(got.stdout, w) {
			t.Errorf("expected stdout with %q, got %q", w, got.stdout)
		}
	}
}

// changeAggregates changes a row of day_versions and one of trend_deltas.
var changeAggregates = []string{
	`UPDATE day_versions SET instances = instances + 1 WHERE (day, version) = (SELECT day, version FROM day_versions ORDER BY 1, 2 LIMIT 1)`,
	`UPDATE trend_deltas SET delta = delta + 1 WHERE (window_days, day, version) = (SELECT window_days, day, version FROM trend_deltas ORDER BY 1, 2, 3 LIMIT 1)`,
}

// soundLine is the last line of verify on a sound database.
var soundLine = regexp.MustCompile(fmt.Sprintf(`: sound: integrity, schema version %d, aggregates \([0-9.]+m?s\)\n$`, sqlite.SchemaVersion()))

func TestVerifySQLite(t *testing.T) {
	path := sqliteDatabase(t, manyRecords(300))
	got := runCommand("verify", "-sqlite", path)
	checkRun(t, got, exitOK, "sink sqlite:"+path+": sound: ")
	if !soundLine.MatchString(got.stdout) || strings.Count(got.stdout, "\n") != 1 {
		t.Errorf("expected one line matching %s, got %q", soundLine, got.stdout)
	}

	execSQLite(t, path, changeAggregates...)
	checkRun(t, runCommand("verify", "-sqlite", path), exitDisagrees,
		"problem: aggregates: day_versions disagrees with the sightings: 1 row stored but not recomputed, 1 row recomputed but not stored, e.g. stored (day=",
		"problem: aggregates: trend_deltas disagrees with the sightings",
		": 2 problems: the aggregates disagree with the sightings: run verify -repair")
	checkRun(t, runCommand("verify", "-repair", "-sqlite", path), exitOK,
		"repaired: day_versions disagrees", "repaired: trend_deltas disagrees", ": repaired the aggregates of 2 tables; sound: integrity")
	checkRun(t, runCommand("verify", "-sqlite", path), exitOK, ": sound: ")

	execSQLite(t, path, "UPDATE mailustats_schema SET version = 2")
	checkRun(t, runCommand("verify", "-sqlite", path), exitUnopenable,
		"problem: schema version 2 is older than this build's 3: start the server once", ": 1 problem: cannot open it")
	execSQLite(t, path, "UPDATE mailustats_schema SET version = 4")
	checkRun(t, runCommand("verify", "-repair", "-sqlite", path), exitUnopenable, "problem: schema version 4 is newer than this build's 3")
}

func TestVerifyDamagedFiles(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.db")
	checkRun(t, runCommand("verify", "-sqlite", missing), exitUnopenable, "problem: "+missing+": no such file\n")
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("expected verify to create nothing, got %v", err)
	}
	text := filepath.Join(dir, "text.db")
	if err := os.WriteFile(text, []byte(strings.Repeat("mailustats\n", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	checkRun(t, runCommand("verify", "-sqlite", text), exitUnopenable, "problem: integrity: file is not a database\n")

	flipped := sqliteDatabase(t, manyRecords(2000))
	flipPage(t, flipped, "sightings")
	checkRun(t, runCommand("verify", "-sqlite", flipped), exitCorrupt, "problem: integrity: Tree ", " (sightings) page ",
		" problems: it is corrupt: stop the server, and restore the newest backup that verifies\n")

	truncated := sqliteDatabase(t, manyRecords(2000))
	fi, err := os.Stat(truncated)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(truncated, fi.Size()/2); err != nil {
		t.Fatal(err)
	}
	checkRun(t, runCommand("verify", "-sqlite", truncated), exitCorrupt, "problem: integrity: database disk image is malformed\n")
}

// flipPage flips bytes in the middle leaf page of a table of the SQLite database at path: its
// cell pointers and the cells after them.
func flipPage(t *testing.T, path, table string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	var page, size int64
	const q = `SELECT pageno, pgsize FROM dbstat WHERE name = ? AND pagetype = 'leaf' ORDER BY pageno
		LIMIT 1 OFFSET (SELECT count(*) / 2 FROM dbstat WHERE name = ? AND pagetype = 'leaf')`
	err = db.QueryRow(q, table, table).Scan(&page, &size)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, size/2)
	if _, err := f.ReadAt(b, (page-1)*size); err != nil {
		t.Fatal(err)
	}
	for i := 8; i < len(b); i++ {
		b[i] ^= 0x5a
	}
	if _, err := f.WriteAt(b, (page-1)*size); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyMetrics(t *testing.T) {
	path := sqliteDatabase(t, manyRecords(50))
	prom := filepath.Join(t.TempDir(), "verify.prom")
	checkRun(t, runCommand("verify", "-metrics", prom, "-sqlite", path), exitOK)
	first := readMetrics(t, prom)
	if first[verifyProblems] != 0 || first[verifySuccess] < float64(time.Now().Add(-time.Minute).Unix()) || first[verifyDuration] <= 0 {
		t.Errorf("expected no problems, a success now and a duration, got %v", first)
	}

	execSQLite(t, path, changeAggregates...)
	checkRun(t, runCommand("verify", "-metrics", prom, "-sqlite", path), exitDisagrees)
	second := readMetrics(t, prom)
	if second[verifyProblems] != 2 || second[verifyFailures] != 1 || second[verifyFailure] < first[verifySuccess] ||
		second[verifySuccess] != first[verifySuccess] || second[verifyDuration] != first[verifyDuration] {
		t.Errorf("expected 2 problems, 1 failure and the success kept from %v, got %v", first, second)
	}
	checkRun(t, runCommand("verify", "-metrics", prom, "-sqlite", path+".missing"), exitUnopenable)
	if third := readMetrics(t, prom); third[verifyFailures] != 2 || third[verifyProblems] != 1 {
		t.Errorf("expected 2 failures and 1 problem, got %v", third)
	}
}

// readMetrics reads the Prometheus textfile at path: each metric's one value by name.
func readMetrics(t *testing.T, path string) map[string]float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := promtext.Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for name, series := range m {
		if len(series) != 1 || len(series[0].Labels) != 0 {
			t.Errorf("%s: expected one series without labels, got %v", name, series)
		}
		out[name] = series[0].Value
	}
	return out
}

func TestVerifyPostgres(t *testing.T) {
	dsn := postgresDatabase(t, manyRecords(300))
	checkRun(t, runCommand("verify", "-postgres", dsn), exitOK,
		"skipped: integrity: PostgreSQL has no check", fmt.Sprintf(": sound: schema version %d, aggregates (", sqlite.SchemaVersion()))

	restored := pgServer.Get(t).CreateDatabase(t, fmt.Sprint("verify_restored_", pgDatabases.Add(1)))
	dump := filepath.Join(t.TempDir(), "mailustats.pgdump")
	pgTool(t, "pg_dump", "-Fc", "-f", dump, dsn)
	pgTool(t, "pg_restore", "--no-owner", "-d", restored, dump)
	checkRun(t, runCommand("verify", "-postgres", restored), exitOK, ": sound: ")

	sqltest.Exec(t, "pgx", dsn, changeAggregates...)
	checkRun(t, runCommand("verify", "-postgres", dsn), exitDisagrees, "problem: aggregates: day_versions disagrees", "problem: aggregates: trend_deltas disagrees")
	checkRun(t, runCommand("verify", "-repair", "-postgres", dsn), exitOK, ": repaired the aggregates of 2 tables")
	checkRun(t, runCommand("verify", "-postgres", dsn), exitOK, ": sound: ")

	checkRun(t, runCommand("verify", "-postgres", "postgres://127.0.0.1:1/x?connect_timeout=5"), exitUnopenable, "problem: failed to connect to ")
}

// pgTool runs a client program of the PostgreSQL installation the tests' server comes from.
func pgTool(t *testing.T, name string, args ...string) {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name) // where Debian keeps them, as pgtest looks
		if len(dirs) == 0 {
			t.Skipf("%s not found", name)
		}
		path = dirs[len(dirs)-1]
	}
	if out, err := exec.Command(path, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

func TestVerifyUsage(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"verify", "-sqlite", "x.db", "extra"}, "mailustats verify: unexpected argument \"extra\"\n"},
		{[]string{"verify"}, "mailustats verify: name the database with exactly one of -sqlite, -postgres or -conf\n"},
		{[]string{"verify", "-h"}, "  5  the aggregates disagree with the sightings: run verify -repair\n"},
	} {
		got := runCommand(tc.args...)
		wantExit := exitUsage
		if tc.args[len(tc.args)-1] == "-h" {
			wantExit = exitOK
		}
		if got.exit != wantExit || !strings.Contains(got.stderr, tc.stderr) {
			t.Errorf("%v: expected exit %d and %q, got %d, %q", tc.args, wantExit, tc.stderr, got.exit, got.stderr)
		}
	}
}
