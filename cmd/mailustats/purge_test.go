package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mailustats/mailustats/internal/testutil/population"
	"github.com/mailustats/mailustats/internal/testutil/sqltest"
	hist "github.com/mailustats/mailustats/plugin/history"
	"github.com/mailustats/mailustats/plugin/report"
	"github.com/mailustats/mailustats/plugin/sink"
)

func TestPurgeUsage(t *testing.T) {
	db := filepath.Join(t.TempDir(), "stats.db")
	tests := []struct {
		args   []string
		exit   int
		stderr string // substring
	}{
		{[]string{"-h"}, exitOK, "Usage: mailustats purge -from DAY -to DAY [-only-once] [-version V] [-yes] [-json] (-sqlite PATH"},
		{[]string{"-sqlite", db}, exitUsage, "mailustats purge: name the days with -from and -to (-from is missing)\n"},
		{[]string{"-sqlite", db, "-from", "2026-01-01"}, exitUsage, "(-to is missing)\n"},
		{[]string{"-sqlite", db, "-from", "2026-13-01", "-to", "2026-12-31"}, exitUsage, "mailustats purge: -from \"2026-13-01\": want a UTC day as YYYY-MM-DD\n"},
		{[]string{"-sqlite", db, "-from", "2026-01-01", "-to", "1/2/2026"}, exitUsage, "mailustats purge: -to \"1/2/2026\": want a UTC day as YYYY-MM-DD\n"},
		{[]string{"-sqlite", db, "-from", "2026-02-01", "-to", "2026-01-31"}, exitUsage, "mailustats purge: -from 2026-02-01 is after -to 2026-01-31\n"},
		{[]string{"-sqlite", db, "-from", "2026-01-01", "-to", "2026-01-31", "extra"}, exitUsage, "mailustats purge: unexpected argument \"extra\"\n"},
		{[]string{"-from", "2026-01-01", "-to", "2026-01-31"}, exitUsage, "mailustats purge: name the database with exactly one of"},
		{[]string{"-sqlite", db, "-from", "2026-01-01", "-to", "2026-01-31", "-yes=maybe"}, exitUsage, "invalid boolean value \"maybe\" for -yes"},
		{[]string{"-sqlite", db, "-from", "2026-01-01", "-to", "2026-01-31"}, exitFailure, "mailustats purge: sink sqlite:" + db + ": no such file\n"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			got := runCommand(append([]string{"purge"}, tc.args...)...)
			if got.exit != tc.exit || !strings.Contains(got.stderr, tc.stderr) || got.stdout != "" {
				t.Errorf("expected exit %d, %q on stderr and nothing on stdout, got %d, %q, %q", tc.exit, tc.stderr, got.exit, got.stderr, got.stdout)
			}
		})
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Errorf("expected the purge to create nothing, got %v", err)
	}
}

// TestPurgeOutput purges the test history's version 19 of the last 30 days: A's row, whose
// instance keeps its 18 of 40 days ago, and B's, its only one.
func TestPurgeOutput(t *testing.T) {
	path := sqliteDatabase(t, history())
	day := func(ago int) string { return time.Now().UTC().AddDate(0, 0, -ago).Format(time.DateOnly) }
	args := []string{"purge", "-sqlite", path, "-from", day(30), "-to", day(0), "-version", "19"}
	table := "To remove: the sightings from " + day(30) + " to " + day(0) + " (UTC) of version \"19\".\n\n" +
		"VERSION  INSTANCES  ROWS  HITS  FROM        TO\n" +
		"19               2     2     2  " + day(5) + "  " + day(2) + "\n" +
		"(total)          2     2     2  " + day(5) + "  " + day(2) + "\n\n" +
		"2 instances lose sightings; 1 of them keep none and go entirely.\n"
	got := runCommand(args...)
	if want := table + "Dry run: nothing was removed. Run again with -yes to remove them.\n"; got.exit != exitOK || got.stdout != want || got.stderr != "" {
		t.Errorf("dry run: expected exit 0 and\n%s\ngot %d and\n%s%s", want, got.exit, got.stdout, got.stderr)
	}
	got = runCommand(append(args, "-yes")...)
	done := regexp.MustCompile(`^Removed 2 rows \(2 hits\) of 2 instances, 1 of which went entirely, in 1 transaction in [0-9.]+m?s; ` +
		`the longest kept the server's writers waiting [0-9.]+[mµ]?s\.\n$`)
	if rest, ok := strings.CutPrefix(got.stdout, table); got.exit != exitOK || !ok || !done.MatchString(rest) || got.stderr != "" {
		t.Errorf("-yes: expected exit 0, the table and a line matching %s, got %d and\n%s%s", done, got.exit, got.stdout, got.stderr)
	}
	got = runCommand(args...)
	if want := "Nothing to remove: no sightings from " + day(30) + " to " + day(0) + " (UTC) of version \"19\".\n"; got.exit != exitOK || got.stdout != want {
		t.Errorf("again: expected exit 0 and %q, got %d, %q", want, got.exit, got.stdout)
	}
	if sum := (testDB{"-sqlite", path}).report(t); sum.Instances != 4 {
		t.Errorf("expected A, C, D and E left in the whole history, got %+v", sum)
	}
}

func TestPurgeJSON(t *testing.T) {
	path := sqliteDatabase(t, history())
	day := func(ago int) string { return time.Now().UTC().AddDate(0, 0, -ago).Format(time.DateOnly) }
	for _, yes := range []bool{false, true} {
		args := []string{"purge", "-json", "-only-once", "-sqlite", path, "-from", day(60), "-to", day(0)}
		if yes {
			args = append(args, "-yes")
		}
		got := runCommand(args...)
		var sum purgeSummary
		if err := json.Unmarshal([]byte(got.stdout), &sum); err != nil || got.exit != exitOK || strings.Count(got.stdout, "\n") != 1 {
			t.Fatalf("-yes=%t: expected exit 0 and one line of JSON, got %d, %q, %q (%v)", yes, got.exit, got.stdout, got.stderr, err)
		}
		// B, C and D are seen on one day each within the days.
		if sum.Removed != yes || sum.Instances != 3 || sum.Gone != 3 || sum.Rows != 3 || len(sum.Versions) != 3 || (sum.Removal != nil) != yes {
			t.Errorf("-yes=%t: expected 3 instances and rows of 3 versions to go, got %s", yes, got.stdout)
		}
	}
}

// TestPurgeDryRunChangesNothing checks that a dry run leaves a SQLite file as it was, byte for
// byte, and a PostgreSQL database's tables.
func TestPurgeDryRunChangesNothing(t *testing.T) {
	records := flood(rand.New(rand.NewPCG(1, 1)), 500, population.Small(1).Start.AddDate(0, 0, 100), 3)
	path := sqliteDatabase(t, records)
	before := readBytes(t, path)
	from, to := hist.DayString(dayOf(records[0].Time)), hist.DayString(dayOf(records[0].Time)+2)
	for _, args := range [][]string{{"-only-once"}, {}, {"-version", "master"}, {"-json"}} {
		got := runCommand(append([]string{"purge", "-sqlite", path, "-from", from, "-to", to}, args...)...)
		if got.exit != exitOK || !strings.Contains(got.stdout, "instances") {
			t.Errorf("%v: expected exit 0 and what would go, got %d, %q, %q", args, got.exit, got.stdout, got.stderr)
		}
	}
	if after := readBytes(t, path); !bytes.Equal(after, before) {
		t.Error("a dry run changed the SQLite file")
	}
	if _, err := os.Stat(path + "-wal"); !os.IsNotExist(err) {
		t.Errorf("expected no WAL left, got %v", err)
	}

	pg := testDB{"-postgres", postgresDatabase(t, records)}
	tables := dumpTables(t, pg)
	if got := runCommand(pg.command("purge", "-only-once", "-from", from, "-to", to)...); got.exit != exitOK {
		t.Errorf("postgres: expected exit 0, got %d, %q", got.exit, got.stderr)
	}
	if after := dumpTables(t, pg); !slices.Equal(after, tables) {
		t.Error("a dry run changed the PostgreSQL tables")
	}
}

// TestPurgeFlood mixes a flood of instances announced once each into a real population, and
// purges it with -only-once: every statistic of the population is as before the flood, over
// windows across and around the flood, with min_days 1 and 2.
func TestPurgeFlood(t *testing.T) {
	for _, newDB := range []func(*testing.T, []sink.Record) testDB{
		func(t *testing.T, r []sink.Record) testDB { return testDB{"-sqlite", sqliteDatabase(t, r)} },
		func(t *testing.T, r []sink.Record) testDB { return testDB{"-postgres", postgresDatabase(t, r)} },
	} {
		c := population.Small(4)
		real := slices.Collect(c.Records())
		floodStart := c.Start.AddDate(0, 0, 500)
		fake := flood(rand.New(rand.NewPCG(4, 4)), 3000, floodStart, 4)
		clean, flooded := newDB(t, real), newDB(t, append(slices.Clone(real), fake...))
		t.Run(clean.flag, func(t *testing.T) {
			from, to := floodStart.Format(time.DateOnly), floodStart.AddDate(0, 0, 3).Format(time.DateOnly)
			if got := runCommand(clean.command("purge", "-only-once", "-from", from, "-to", to)...); !strings.HasPrefix(got.stdout, "Nothing to remove") {
				t.Fatalf("expected no instance of the population seen once in the flood's days, got %q", got.stdout)
			}
			windows := []report.Window{
				{From: c.Start.Format(time.DateOnly), To: c.End().Format(time.DateOnly)},
				{From: floodStart.AddDate(0, 0, -10).Format(time.DateOnly), To: floodStart.AddDate(0, 0, 10).Format(time.DateOnly)},
				{From: from, To: to},
				{From: floodStart.AddDate(0, 0, 2).Format(time.DateOnly), To: floodStart.AddDate(0, 0, 400).Format(time.DateOnly)},
			}
			want := answers(t, clean, windows)
			if got := answers(t, flooded, windows); slices.Equal(got, want) {
				t.Fatal("expected the flood to change the statistics, got the same")
			}
			got := runCommand(flooded.command("purge", "-only-once", "-yes", "-json", "-from", from, "-to", to)...)
			var sum purgeSummary
			if err := json.Unmarshal([]byte(got.stdout), &sum); err != nil || got.exit != exitOK {
				t.Fatalf("purge: expected exit 0 and JSON, got %d, %q, %q (%v)", got.exit, got.stdout, got.stderr, err)
			}
			if sum.Gone != 3000 || sum.Instances != 3000 || sum.Removal.Transactions != 3 {
				t.Errorf("expected the 3000 instances of the flood removed in 3 transactions, got %s", got.stdout)
			}
			for i, a := range answers(t, flooded, windows) {
				if a != want[i] {
					t.Errorf("after the purge: expected\n%s\ngot\n%s", want[i], a)
				}
			}
		})
	}
}

// TestPurgeInterrupted interrupts a purge after its first transaction: it fails saying the
// database is consistent, and the same command then finishes, with the same outcome as one
// uninterrupted purge.
func TestPurgeInterrupted(t *testing.T) {
	c := population.Small(5)
	start := c.Start.AddDate(0, 0, 300)
	records := append(slices.Collect(c.Records()), flood(rand.New(rand.NewPCG(5, 5)), 2500, start, 2)...)
	once, twice := testDB{"-sqlite", sqliteDatabase(t, records)}, testDB{"-sqlite", sqliteDatabase(t, records)}
	f := hist.Filter{From: dayOf(start), To: dayOf(start) + 1, OnlyOnce: true}
	args := []string{"-only-once", "-yes", "-from", hist.DayString(f.From), "-to", hist.DayString(f.To)}
	if got := runCommand(once.command("purge", args...)...); got.exit != exitOK {
		t.Fatalf("expected exit 0, got %d, %q", got.exit, got.stderr)
	}

	p, err := openPurger(t.Context(), twice.database(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var stdout, stderr bytes.Buffer
	err = purge(ctx, interrupting{p, cancel}, f, true, false, streams{stdout: &stdout, stderr: &stderr})
	p.Close()
	want := "context canceled, after 1 transactions, which removed 1000 rows of 1000 instances: the database is consistent; run the same command again to remove the rest"
	if err == nil || err.Error() != want {
		t.Errorf("expected the error %q, got %v", want, err)
	}
	if got := runCommand(twice.command("purge", args...)...); got.exit != exitOK || !strings.Contains(got.stdout, "Removed 1500 rows") {
		t.Errorf("again: expected exit 0 and the other 1500 removed, got %d, %q, %q", got.exit, got.stdout, got.stderr)
	}
	if a, b := dumpTables(t, once), dumpTables(t, twice); !slices.Equal(a, b) {
		t.Error("expected an interrupted purge run again to leave the tables of one uninterrupted")
	}
}

// interrupting is a purger that cancels the purge once it removed a chunk.
type interrupting struct {
	purger
	cancel context.CancelFunc
}

func (p interrupting) PurgeChunk(ctx context.Context, f hist.Filter, ids []int64, dry bool,
	removed func(id int64, rows []hist.Row, gone bool)) (time.Duration, error) {
	held, err := p.purger.PurgeChunk(ctx, f, ids, dry, removed)
	if !dry {
		p.cancel()
	}
	return held, err
}

func TestPurgeChunks(t *testing.T) {
	var small, large []candidate
	for i := range int64(2500) {
		small = append(small, candidate{i, 1})
	}
	for i := range int64(10) {
		large = append(large, candidate{i, 1800})
	}
	for _, tc := range []struct {
		name      string
		instances []candidate
		sizes     []int
	}{
		{"none", nil, nil},
		{"instances seen once", small, []int{1000, 1000, 500}},
		{"instances of years", large, []int{2, 2, 2, 2, 2}},
		{"one larger than a chunk", []candidate{{1, 1}, {2, 9000}, {3, 1}}, []int{1, 1, 1}},
	} {
		var sizes []int
		for _, c := range purgeChunks(tc.instances) {
			sizes = append(sizes, len(c))
		}
		if !slices.Equal(sizes, tc.sizes) {
			t.Errorf("%s: expected chunks of %v, got %v", tc.name, tc.sizes, sizes)
		}
	}
}

// flood returns an announcement of each of n made-up instances, on one of the days from start.
func flood(rng *rand.Rand, n int, start time.Time, days int) []sink.Record {
	versions := []string{"master", "2024", "19", "99"}
	var out []sink.Record
	for range n {
		var id uuid.UUID
		for i := range id {
			id[i] = byte(rng.UintN(256))
		}
		id[6], id[8] = id[6]&0x0f|0x40, id[8]&0x3f|0x80 // version 4
		at := start.AddDate(0, 0, rng.IntN(days)).Add(time.Duration(rng.IntN(86400)) * time.Second)
		out = append(out, sink.Record{Time: at, Version: versions[rng.IntN(len(versions))], Instance: id.String()})
	}
	return out
}

func dayOf(t time.Time) int32 {
	day, _ := hist.DayNumber(t)
	return day
}

// readBytes returns the contents of the file at path.
func readBytes(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// answers is what report.Store answers of d over each window, as JSON: the summary with
// min_days 1 and 2, the daily counts, the new instances, the upgrades, and trends.
func answers(t *testing.T, d testDB, windows []report.Window) []string {
	t.Helper()
	s, ctx := d.store(t), t.Context()
	var out []string
	add := func(what string, w report.Window, v any, err error) {
		if err != nil {
			t.Fatalf("%s of %v: %v", what, w, err)
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s %s..%s: %s", what, w.From, w.To, b))
	}
	for _, w := range windows {
		for _, minDays := range []int{1, 2} {
			sum, err := s.Summary(ctx, w, minDays)
			add(fmt.Sprint("summary min_days ", minDays), w, sum, err)
			for _, days := range []int{7, 30} {
				trend, err := s.Trend(ctx, w, days, 1, minDays)
				add(fmt.Sprintf("trend %d min_days %d", days, minDays), w, trend, err)
			}
		}
		daily, err := s.Daily(ctx, w)
		add("daily", w, daily, err)
		added, err := s.New(ctx, w)
		add("new", w, added, err)
		upgrades, err := s.Upgrades(ctx, w)
		add("upgrades", w, upgrades, err)
	}
	return out
}

// dumpTables reads every table of the store, but batches, in key order, a line a table.
func dumpTables(t *testing.T, d testDB) []string {
	t.Helper()
	reader, err := d.database(t).opener.OpenReader()
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	var out []string
	for _, q := range []string{
		`SELECT * FROM sightings ORDER BY instance, day, version`,
		`SELECT * FROM instances ORDER BY id`,
		`SELECT * FROM versions ORDER BY id`,
		`SELECT * FROM instance_versions ORDER BY instance, version`,
		`SELECT * FROM changes ORDER BY instance, day, from_version, to_version`,
		`SELECT * FROM day_versions WHERE instances <> 0 ORDER BY day, version`,
		`SELECT * FROM day_counts WHERE instances <> 0 OR new_instances <> 0 ORDER BY day`,
		`SELECT * FROM day_adoption WHERE instances <> 0 ORDER BY day, version`,
		`SELECT * FROM day_changes WHERE instances <> 0 ORDER BY day, from_version, to_version`,
		`SELECT * FROM change_instances WHERE instances <> 0 ORDER BY from_version, to_version`,
		`SELECT * FROM trend_deltas WHERE delta <> 0 ORDER BY window_days, day, version`,
	} {
		out = append(out, q+": "+fmt.Sprint(sqltest.Query(t, reader, q)))
	}
	return out
}
