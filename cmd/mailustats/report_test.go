package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailustats/mailustats/plugin/report"
	"github.com/mailustats/mailustats/plugin/sink"
	"github.com/mailustats/mailustats/plugin/sink/postgres"
	"github.com/mailustats/mailustats/plugin/sink/sqlite"
)

// The instances of the test history.
const (
	instanceA = "0b7c3d3e-1111-4222-8333-444455556661"
	instanceB = "0b7c3d3e-1111-4222-8333-444455556662"
	instanceC = "0b7c3d3e-1111-4222-8333-444455556663"
	instanceD = "0b7c3d3e-1111-4222-8333-444455556664"
	instanceE = "0b7c3d3e-1111-4222-8333-444455556665"
)

// history is a few instances over the last 100 days, none near the edge of a 30-day window,
// so that the counts hold even if the day changes while a test runs. Over the last 30 days: A
// (19, upgraded from 18), B (19), C (master), E (2.0); D only before. A and E were seen on two
// days, the others on one.
func history() []sink.Record {
	now := time.Now().UTC()
	ago := func(days int) time.Time { return now.AddDate(0, 0, -days) }
	return []sink.Record{
		{Time: ago(40), Version: "18", Instance: instanceA},
		{Time: ago(2), Version: "19", Instance: instanceA},
		{Time: ago(5), Version: "19", Instance: instanceB},
		{Time: ago(10), Version: "master", Instance: instanceC},
		{Time: ago(50), Version: "18", Instance: instanceD},
		{Time: ago(100), Version: "2.0", Instance: instanceE},
		{Time: ago(1), Version: "2.0", Instance: instanceE},
	}
}

// writeSink opens the sink o as the server does, writes records to it in one batch and
// closes it.
func writeSink(t *testing.T, o sink.Opener, records []sink.Record) {
	t.Helper()
	s, err := o.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	}()
	if p, ok := s.(sink.Preparer); ok {
		if err := p.Prepare(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if len(records) == 0 {
		return
	}
	if err := s.Write(t.Context(), sink.Batch{ID: "test", Records: records}); err != nil {
		t.Fatal(err)
	}
}

// sqliteDatabase writes records to a new SQLite database and returns its path.
func sqliteDatabase(t *testing.T, records []sink.Record) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "stats.db")
	o, err := sqlite.Parse([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	writeSink(t, o, records)
	return path
}

// pgDatabases numbers the test databases, whose names must be unique on the shared server.
var pgDatabases atomic.Int64

// postgresDatabase writes records to a new database on the shared PostgreSQL server and
// returns its DSN.
func postgresDatabase(t *testing.T, records []sink.Record) string {
	t.Helper()
	dsn := pgServer.Get(t).CreateDatabase(t, fmt.Sprint("report_", pgDatabases.Add(1)))
	o, err := postgres.Parse([]string{dsn})
	if err != nil {
		t.Fatal(err)
	}
	writeSink(t, o, records)
	return dsn
}

// summaryTests are the expected tables of the test history: the lines after the title, and
// the title's window.
var summaryTests = []struct {
	args  []string
	title string // the window as the title gives it, after "Instances from "
	lines []string
}{
	{
		args:  nil,
		title: " (30 days, UTC)\n",
		lines: []string{
			"VERSION  INSTANCES   SHARE",
			"19               2   50.0%",
			"2.0              1   25.0%",
			"master           1   25.0%",
			"(total)          4  100.0%",
		},
	},
	{
		args:  []string{"-days", "all"},
		title: " (all data: 101 days, UTC)\n",
		lines: []string{
			"VERSION  INSTANCES   SHARE",
			"19               2   40.0%",
			"18               1   20.0%",
			"2.0              1   20.0%",
			"master           1   20.0%",
			"(total)          5  100.0%",
		},
	},
	{
		args:  []string{"-days", "30", "-min-days", "2"},
		title: " (30 days, UTC), seen on at least 2 days\n",
		lines: []string{
			"VERSION  INSTANCES   SHARE",
			"19               1   50.0%",
			"2.0              1   50.0%",
			"(total)          2  100.0%",
		},
	},
}

func TestReportSQLite(t *testing.T) {
	path := sqliteDatabase(t, history())
	checkReport(t, "-sqlite", path)
}

func TestReportPostgres(t *testing.T) {
	dsn := postgresDatabase(t, history())
	checkReport(t, "-postgres", dsn)
}

func TestReportCorefile(t *testing.T) {
	path := sqliteDatabase(t, history())
	corefile := filepath.Join(t.TempDir(), "Corefile")
	t.Setenv("TEST_MAILUSTATS_DB", path)
	content := "stats.mailu.io {\n  mailustats {\n    ns ns1.stats.mailu.io 127.0.0.1\n" +
		"    sink file " + filepath.Join(t.TempDir(), "x.csv") + "\n    sink sqlite {$TEST_MAILUSTATS_DB}\n  }\n}\n"
	if err := os.WriteFile(corefile, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	checkReport(t, "-conf", corefile)
}

// checkReport checks the tables and the JSON of the test history in the database named by the
// flag and its value.
func checkReport(t *testing.T, flag, value string) {
	t.Helper()
	for _, tc := range summaryTests {
		got := runCommand(append(append([]string{"report"}, tc.args...), flag, value)...)
		if got.exit != exitOK || got.stderr != "" {
			t.Fatalf("%v: expected exit 0 and no errors, got %d, %q", tc.args, got.exit, got.stderr)
		}
		title, table, _ := strings.Cut(got.stdout, "\n\n")
		if !strings.HasPrefix(title, "Instances from ") || !strings.HasSuffix(title+"\n", tc.title) {
			t.Errorf("%v: expected a title ending with %q, got %q", tc.args, tc.title, title)
		}
		if expected := strings.Join(tc.lines, "\n") + "\n"; table != expected {
			t.Errorf("%v: expected the table\n%s\ngot\n%s", tc.args, expected, table)
		}
	}

	before := report.LastDays(time.Now(), 30)
	got := runCommand("report", "-json", "-min-days", "2", flag, value)
	after := report.LastDays(time.Now(), 30)
	if got.exit != exitOK || got.stderr != "" {
		t.Fatalf("-json: expected exit 0 and no errors, got %d, %q", got.exit, got.stderr)
	}
	var sum report.Summary
	if err := json.Unmarshal([]byte(got.stdout), &sum); err != nil {
		t.Fatalf("-json: %v in %q", err, got.stdout)
	}
	expected := report.Summary{Window: before, MinDays: 2, Instances: 2, Versions: []report.VersionCount{{Version: "19", Instances: 1}, {Version: "2.0", Instances: 1}}}
	if sum.Window == after {
		expected.Window = after // the day changed during the run
	}
	if !reflect.DeepEqual(sum, expected) {
		t.Errorf("-json: expected %+v, got %+v", expected, sum)
	}
	if !regexp.MustCompile(`^\{"from":"[0-9-]{10}","to":"[0-9-]{10}","min_days":2,"instances":2,"versions":\[\{"version":"19","instances":1\},\{"version":"2.0","instances":1\}\]\}\n$`).MatchString(got.stdout) {
		t.Errorf("-json: expected the API's summary on one line, got %q", got.stdout)
	}
}

func TestReportEmpty(t *testing.T) {
	path := sqliteDatabase(t, nil)
	for _, days := range []string{"30", "all"} {
		got := runCommand("report", "-days", days, "-sqlite", path)
		if got.exit != exitOK || got.stderr != "" || !strings.HasPrefix(got.stdout, "no data from ") || strings.Count(got.stdout, "\n") != 1 {
			t.Errorf("-days %s: expected exit 0 and one line of no data, got %d, %q, %q", days, got.exit, got.stdout, got.stderr)
		}
	}
	got := runCommand("report", "-json", "-sqlite", path)
	var sum report.Summary
	if err := json.Unmarshal([]byte(got.stdout), &sum); err != nil || got.exit != exitOK || sum.Instances != 0 || sum.Versions == nil {
		t.Errorf("-json: expected exit 0 and no instances, with an empty list of versions, got %d, %q (%v)", got.exit, got.stdout, err)
	}
}

// TestReportMigrates checks that the report brings a database of an older schema up to date
// before it reads it, as the server would.
func TestReportMigrates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stats.db")
	// An empty database of no schema at all: a reader alone would find no tables.
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	got := runCommand("report", "-sqlite", path)
	if got.exit != exitOK || !strings.HasPrefix(got.stdout, "no data") {
		t.Errorf("expected exit 0 and no data, got %d, %q, %q", got.exit, got.stdout, got.stderr)
	}
}

func TestReportFailures(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no", "such.db")
	corefile := filepath.Join(t.TempDir(), "Corefile")
	if err := os.WriteFile(corefile, []byte("stats.mailu.io {\n  whoami\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args   []string
		stderr string
	}{
		{args: []string{"-sqlite", missing}, stderr: "mailustats report: sink sqlite:" + missing + ": no such file\n"},
		{args: []string{"-conf", corefile}, stderr: "mailustats report: " + corefile + ": no mailustats block\n"},
		{args: []string{"-conf", corefile + ".missing"}, stderr: "mailustats report: open " + corefile + ".missing: no such file or directory\n"},
		{args: []string{"-postgres", "postgres://localhost:1/x?connect_timeout=5"}, stderr: "mailustats report: sink postgres:localhost:1/x: migrate: "},
	}
	for _, tc := range tests {
		got := runCommand(append([]string{"report"}, tc.args...)...)
		if got.exit != exitFailure || !strings.HasPrefix(got.stderr, tc.stderr) || strings.Count(got.stderr, "\n") != 1 {
			t.Errorf("%v: expected exit 1 and one line %q, got %d, %q", tc.args, tc.stderr, got.exit, got.stderr)
		}
	}
	if _, err := os.Stat(filepath.Dir(missing)); !os.IsNotExist(err) {
		t.Errorf("expected the report to create nothing, got %v", err)
	}
}
