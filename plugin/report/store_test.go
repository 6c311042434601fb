package report_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailustats/mailustats/plugin/report"
	"github.com/mailustats/mailustats/plugin/sink"
	"github.com/mailustats/mailustats/plugin/sink/sqlite"
)

// storeBackends are the databases every case runs on: each opens a fresh one holding records.
var storeBackends = []struct {
	name string
	open func(tb testing.TB, records []sink.Record) *report.Store
}{
	{"sqlite", openSQLite},
	{"postgres", openPostgres},
}

// openSQLite writes records through the sqlite sink to a new database file and returns a Store
// reading it, read-only, closed when tb ends.
func openSQLite(tb testing.TB, records []sink.Record) *report.Store {
	tb.Helper()
	return report.NewStore(openSQLiteDB(tb, records), report.SQLite)
}

// openSQLiteDB writes records through the sqlite sink to a new database file and opens it
// read-only until tb ends.
func openSQLiteDB(tb testing.TB, records []sink.Record) *sql.DB {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "stats.db")
	o, err := sqlite.Parse([]string{path})
	if err != nil {
		tb.Fatal(err)
	}
	fillSink(tb, o, records)
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// fillSink opens the sink o configures, which creates the schema, writes records and closes it.
func fillSink(tb testing.TB, o sink.Opener, records []sink.Record) {
	tb.Helper()
	sk, err := o.Open()
	if err != nil {
		tb.Fatal(err)
	}
	defer sk.Close()
	if p, ok := sk.(sink.Preparer); ok {
		if err := p.Prepare(tb.Context()); err != nil {
			tb.Fatal(err)
		}
	}
	if err := writeBatches(tb.Context(), sk, records, int64(len(records))); err != nil {
		tb.Fatal(err)
	}
}

// writeBatches writes records to sk in batches of random sizes, a quarter of them held back
// and written after the next one or two, so that some batches go back in time. It is
// deterministic by seed.
func writeBatches(ctx context.Context, sk sink.Sink, records []sink.Record, seed int64) error {
	rng := rand.New(rand.NewPCG(uint64(seed), 3))
	var held [][]sink.Record
	n := 0
	write := func(batch []sink.Record) error {
		n++
		return sk.Write(ctx, sink.Batch{ID: fmt.Sprint("batch ", n), Records: batch})
	}
	for len(records) > 0 {
		size := min(len(records), 1+rng.IntN(max(len(records)/4, 8)))
		batch := records[:size:size]
		records = records[size:]
		if rng.IntN(4) == 0 {
			held = append(held, batch)
			continue
		}
		if err := write(batch); err != nil {
			return err
		}
		for len(held) > 0 && rng.IntN(2) == 0 {
			if err := write(held[0]); err != nil {
				return err
			}
			held = held[1:]
		}
	}
	for _, batch := range held {
		if err := write(batch); err != nil {
			return err
		}
	}
	return nil
}

// record is an announcement at a time given in RFC 3339 of the instance a test names with a
// letter.
func record(at, version, instance string) sink.Record {
	t, err := time.Parse(time.RFC3339, at)
	if err != nil {
		panic(err) // a typo in a test table
	}
	return sink.Record{Time: t, Version: version, Instance: uuidOf(instance)}
}

// uuidOf is the UUID of the instance a test names with a letter.
func uuidOf(letter string) string {
	return fmt.Sprintf("%08x-0000-4000-8000-000000000000", letter[0])
}

// storeHistory is the fixture of the cases. In the window of 2026-03-02 to 2026-03-05:
//
//	a  18 on 02-20 (before the window), 18 twice on 03-02, 19 on 03-03: upgrade
//	b  18 then 19 on 03-02, 19 on 03-04: two versions in a day, then upgraded
//	c  19 on 03-02, master on 03-05: 19 -> master
//	d  19 on 03-03, master on 03-04: 19 -> master
//	e  master on 03-03, 19 on 03-05: a downgrade
//	f  18 at 03-01 23:59:59 and at 03-02 00:00:00: no change across midnight
//	g  18 at 03-05 23:59:59 (the last day), 19 at 03-06 00:00:00 (after it)
//	j  18 and 19 in the same second on 03-03
//	k  17 at 03-01 23:59:59 only, the day before the window
//	l  18, 19, 18, 19 on 04-01 to 04-04: the same changes twice, far from the rest
//	m  master at 08:00 then 19 at 14:00 on 04-02: a downgrade within a day
var storeHistory = []sink.Record{
	record("2026-02-20T12:00:00Z", "18", "a"),
	record("2026-03-02T10:00:00Z", "18", "a"),
	record("2026-03-02T11:00:00Z", "18", "a"),
	record("2026-03-03T09:00:00Z", "19", "a"),
	record("2026-03-02T08:00:00Z", "18", "b"),
	record("2026-03-02T14:00:00Z", "19", "b"),
	record("2026-03-04T08:00:00Z", "19", "b"),
	record("2026-03-02T12:00:00Z", "19", "c"),
	record("2026-03-05T12:00:00Z", "master", "c"),
	record("2026-03-03T12:00:00Z", "19", "d"),
	record("2026-03-04T12:00:00Z", "master", "d"),
	record("2026-03-03T12:00:00Z", "master", "e"),
	record("2026-03-05T12:00:00Z", "19", "e"),
	record("2026-03-01T23:59:59Z", "18", "f"),
	record("2026-03-02T00:00:00Z", "18", "f"),
	record("2026-03-05T23:59:59Z", "18", "g"),
	record("2026-03-06T00:00:00Z", "19", "g"),
	record("2026-03-03T06:00:00Z", "18", "j"),
	record("2026-03-03T06:00:00Z", "19", "j"),
	record("2026-03-01T23:59:59Z", "17", "k"),
	record("2026-04-01T12:00:00Z", "18", "l"),
	record("2026-04-02T12:00:00Z", "19", "l"),
	record("2026-04-03T12:00:00Z", "18", "l"),
	record("2026-04-04T12:00:00Z", "19", "l"),
	record("2026-04-02T08:00:00Z", "master", "m"),
	record("2026-04-02T14:00:00Z", "19", "m"),
}

// Windows of the cases.
var (
	winMain   = window("2026-03-02", "2026-03-05")
	winPlus1  = window("2026-03-02", "2026-03-06")
	winBefore = window("2026-01-01", "2026-01-03")
)

func window(from, to string) report.Window { return report.Window{From: from, To: to} }

// perVersion is a Day's counts per version.
type perVersion = map[string]int64

func dayOf(d string, instances int64, v perVersion) report.Day {
	return report.Day{Day: d, Instances: instances, Versions: v}
}

func count(version string, instances int64) report.VersionCount {
	return report.VersionCount{Version: version, Instances: instances}
}

func upgrade(from, to string, instances int64) report.Upgrade {
	return report.Upgrade{From: from, To: to, Instances: instances}
}

// allDays is every day of w with no instances, but for the given days.
func allDays(w report.Window, given ...report.Day) []report.Day {
	from, _ := time.Parse(time.DateOnly, w.From)
	to, _ := time.Parse(time.DateOnly, w.To)
	var all []report.Day
	for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
		next := dayOf(d.Format(time.DateOnly), 0, perVersion{})
		for _, g := range given {
			if g.Day == next.Day {
				next = g
			}
		}
		all = append(all, next)
	}
	return all
}

func TestStoreSummary(t *testing.T) {
	// Over the whole history, j, k and m are seen on one day, b to g on two, a on three and
	// l on four: f and a before the window, g after it.
	tests := []struct {
		window    report.Window
		minDays   int
		instances int64
		versions  []report.VersionCount
	}{
		{winMain, 0, 8, []report.VersionCount{count("19", 4), count("18", 2), count("master", 2)}},
		{winMain, 1, 8, []report.VersionCount{count("19", 4), count("18", 2), count("master", 2)}},
		{winMain, -1, 8, []report.VersionCount{count("19", 4), count("18", 2), count("master", 2)}},
		{winMain, 2, 7, []report.VersionCount{count("19", 3), count("18", 2), count("master", 2)}},
		{winMain, 3, 1, []report.VersionCount{count("19", 1)}},
		{winMain, 4, 0, []report.VersionCount{}},
		{winPlus1, 0, 8, []report.VersionCount{count("19", 5), count("master", 2), count("18", 1)}},
		{winPlus1, 2, 7, []report.VersionCount{count("19", 4), count("master", 2), count("18", 1)}},
		{window("2026-03-01", "2026-03-01"), 0, 2, []report.VersionCount{count("17", 1), count("18", 1)}},
		{window("2026-03-01", "2026-03-01"), 2, 1, []report.VersionCount{count("18", 1)}},
		{window("2026-03-06", "2026-03-06"), 0, 1, []report.VersionCount{count("19", 1)}},
		{window("2026-03-06", "2026-03-06"), 2, 1, []report.VersionCount{count("19", 1)}},
		{window("2026-02-20", "2026-02-20"), 0, 1, []report.VersionCount{count("18", 1)}},
		{window("2026-02-20", "2026-02-20"), 3, 1, []report.VersionCount{count("18", 1)}},
		{window("2026-04-01", "2026-04-04"), 0, 2, []report.VersionCount{count("19", 2)}},
		{window("2026-04-01", "2026-04-04"), 2, 1, []report.VersionCount{count("19", 1)}},
		{window("2026-04-01", "2026-04-04"), 4, 1, []report.VersionCount{count("19", 1)}},
		{window("2026-04-01", "2026-04-04"), 5, 0, []report.VersionCount{}},
		{window("2026-04-01", "2026-04-03"), 0, 2, []report.VersionCount{count("18", 1), count("19", 1)}},
		{winBefore, 0, 0, []report.VersionCount{}},
		{winBefore, 2, 0, []report.VersionCount{}},
	}
	for _, b := range storeBackends {
		t.Run(b.name, func(t *testing.T) {
			s := b.open(t, storeHistory)
			for i, tc := range tests {
				got, err := s.Summary(t.Context(), tc.window, tc.minDays)
				if err != nil {
					t.Errorf("test %d: %v, min_days %d: %v", i, tc.window, tc.minDays, err)
					continue
				}
				expected := report.Summary{Window: tc.window, MinDays: max(tc.minDays, 1), Instances: tc.instances, Versions: tc.versions}
				if !reflect.DeepEqual(got, expected) {
					t.Errorf("test %d: expected %+v, got %+v", i, expected, got)
				}
			}
		})
	}
}

func TestStoreDaily(t *testing.T) {
	tests := []struct {
		window report.Window
		days   []report.Day
	}{
		{winMain, []report.Day{
			dayOf("2026-03-02", 4, perVersion{"18": 3, "19": 2}),
			dayOf("2026-03-03", 4, perVersion{"18": 1, "19": 3, "master": 1}),
			dayOf("2026-03-04", 2, perVersion{"19": 1, "master": 1}),
			dayOf("2026-03-05", 3, perVersion{"18": 1, "19": 1, "master": 1}),
		}},
		// Empty days at the end, after a row at 00:00:00.
		{window("2026-03-05", "2026-03-08"), allDays(window("2026-03-05", "2026-03-08"),
			dayOf("2026-03-05", 3, perVersion{"18": 1, "19": 1, "master": 1}),
			dayOf("2026-03-06", 1, perVersion{"19": 1}),
		)},
		// Empty days in the middle and at the start, rows at 23:59:59.
		{window("2026-02-19", "2026-03-01"), allDays(window("2026-02-19", "2026-03-01"),
			dayOf("2026-02-20", 1, perVersion{"18": 1}),
			dayOf("2026-03-01", 2, perVersion{"17": 1, "18": 1}),
		)},
		{winBefore, allDays(winBefore)},
	}
	for _, b := range storeBackends {
		t.Run(b.name, func(t *testing.T) {
			s := b.open(t, storeHistory)
			for i, tc := range tests {
				got, err := s.Daily(t.Context(), tc.window)
				if err != nil {
					t.Errorf("test %d: %v: %v", i, tc.window, err)
					continue
				}
				if !reflect.DeepEqual(got, tc.days) {
					t.Errorf("test %d: %v: expected\n\t%+v\ngot\n\t%+v", i, tc.window, tc.days, got)
				}
			}
		})
	}
}

func TestStoreNew(t *testing.T) {
	tests := []struct {
		window report.Window
		days   []report.Day
	}{
		// a, seen on 02-20, is no new installation on 03-02, and its 18 no new sighting.
		{winMain, []report.Day{
			dayOf("2026-03-02", 2, perVersion{"18": 1, "19": 2}),
			dayOf("2026-03-03", 3, perVersion{"18": 1, "19": 3, "master": 1}),
			dayOf("2026-03-04", 0, perVersion{"master": 1}),
			dayOf("2026-03-05", 1, perVersion{"18": 1, "19": 1, "master": 1}),
		}},
		{window("2026-03-06", "2026-03-07"), allDays(window("2026-03-06", "2026-03-07"),
			dayOf("2026-03-06", 0, perVersion{"19": 1}),
		)},
		{window("2026-02-19", "2026-03-01"), allDays(window("2026-02-19", "2026-03-01"),
			dayOf("2026-02-20", 1, perVersion{"18": 1}),
			dayOf("2026-03-01", 2, perVersion{"17": 1, "18": 1}),
		)},
		// l goes back to versions it had: nothing new after its first two days.
		{window("2026-04-01", "2026-04-04"), allDays(window("2026-04-01", "2026-04-04"),
			dayOf("2026-04-01", 1, perVersion{"18": 1}),
			dayOf("2026-04-02", 1, perVersion{"19": 2, "master": 1}),
		)},
		{winBefore, allDays(winBefore)},
	}
	for _, b := range storeBackends {
		t.Run(b.name, func(t *testing.T) {
			s := b.open(t, storeHistory)
			for i, tc := range tests {
				got, err := s.New(t.Context(), tc.window)
				if err != nil {
					t.Errorf("test %d: %v: %v", i, tc.window, err)
					continue
				}
				if !reflect.DeepEqual(got, tc.days) {
					t.Errorf("test %d: %v: expected\n\t%+v\ngot\n\t%+v", i, tc.window, tc.days, got)
				}
			}
		})
	}
}

func TestStoreUpgrades(t *testing.T) {
	tests := []struct {
		window   report.Window
		upgrades []report.Upgrade
	}{
		{winMain, []report.Upgrade{upgrade("18", "19", 3), upgrade("19", "master", 2), upgrade("master", "19", 1)}},
		{winPlus1, []report.Upgrade{upgrade("18", "19", 4), upgrade("19", "master", 2), upgrade("master", "19", 1)}},
		// a keeps 18 across the window's start, f across midnight; b changes within a day.
		{window("2026-02-20", "2026-03-02"), []report.Upgrade{upgrade("18", "19", 1)}},
		// c, d and e changed from rows before the window.
		{window("2026-03-04", "2026-03-05"), []report.Upgrade{upgrade("19", "master", 2), upgrade("master", "19", 1)}},
		// g, from its row of the day before.
		{window("2026-03-06", "2026-03-06"), []report.Upgrade{upgrade("18", "19", 1)}},
		// l made each change twice and counts once for each; m went back within a day.
		{window("2026-04-01", "2026-04-04"), []report.Upgrade{
			upgrade("18", "19", 1), upgrade("19", "18", 1), upgrade("master", "19", 1),
		}},
		{winBefore, []report.Upgrade{}},
	}
	for _, b := range storeBackends {
		t.Run(b.name, func(t *testing.T) {
			s := b.open(t, storeHistory)
			for i, tc := range tests {
				got, err := s.Upgrades(t.Context(), tc.window)
				if err != nil {
					t.Errorf("test %d: %v: %v", i, tc.window, err)
					continue
				}
				if !reflect.DeepEqual(got, tc.upgrades) {
					t.Errorf("test %d: %v: expected %+v, got %+v", i, tc.window, tc.upgrades, got)
				}
			}
		})
	}
}

func TestStoreEmptyDatabase(t *testing.T) {
	for _, b := range storeBackends {
		t.Run(b.name, func(t *testing.T) {
			s := b.open(t, nil)
			ctx := t.Context()
			for _, minDays := range []int{1, 2} {
				sum, err := s.Summary(ctx, winMain, minDays)
				if err != nil {
					t.Fatal(err)
				}
				expected := report.Summary{Window: winMain, MinDays: minDays, Versions: []report.VersionCount{}}
				if !reflect.DeepEqual(sum, expected) {
					t.Errorf("summary: expected %+v, got %+v", expected, sum)
				}
			}
			for name, query := range map[string]func(context.Context, report.Window) ([]report.Day, error){
				"daily": s.Daily,
				"new":   s.New,
			} {
				got, err := query(ctx, winMain)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if expected := allDays(winMain); !reflect.DeepEqual(got, expected) {
					t.Errorf("%s: expected %+v, got %+v", name, expected, got)
				}
			}
			upgrades, err := s.Upgrades(ctx, winMain)
			if err != nil {
				t.Fatal(err)
			}
			if upgrades == nil || len(upgrades) != 0 {
				t.Errorf("upgrades: expected an empty slice, got %#v", upgrades)
			}
			for _, days := range []int{7, 14} { // kept, and from the sightings
				trend, err := s.Trend(ctx, winMain, days, 2, 1)
				if err != nil {
					t.Fatal(err)
				}
				expected := []report.Day{dayOf("2026-03-03", 0, perVersion{}), dayOf("2026-03-05", 0, perVersion{})}
				if !reflect.DeepEqual(trend, expected) {
					t.Errorf("trend of %d days: expected %+v, got %+v", days, expected, trend)
				}
			}
			if day, ok, err := s.FirstDay(ctx); day != "" || ok || err != nil {
				t.Errorf("first day: expected none, got %q, %v, %v", day, ok, err)
			}
		})
	}
}

// storeQueries run each query of a window, for the cases that only look at the error.
var storeQueries = map[string]func(context.Context, *report.Store, report.Window) error{
	"summary": func(ctx context.Context, s *report.Store, w report.Window) error {
		_, err := s.Summary(ctx, w, 1)
		return err
	},
	"summary min_days": func(ctx context.Context, s *report.Store, w report.Window) error {
		_, err := s.Summary(ctx, w, 2)
		return err
	},
	"daily": func(ctx context.Context, s *report.Store, w report.Window) error {
		_, err := s.Daily(ctx, w)
		return err
	},
	"new": func(ctx context.Context, s *report.Store, w report.Window) error {
		_, err := s.New(ctx, w)
		return err
	},
	"upgrades": func(ctx context.Context, s *report.Store, w report.Window) error {
		_, err := s.Upgrades(ctx, w)
		return err
	},
	"trend": func(ctx context.Context, s *report.Store, w report.Window) error {
		_, err := s.Trend(ctx, w, 7, 1, 1)
		return err
	},
	"trend from the sightings": func(ctx context.Context, s *report.Store, w report.Window) error {
		_, err := s.Trend(ctx, w, 14, 1, 1)
		return err
	},
}

func TestStoreBadTrend(t *testing.T) {
	s := openSQLite(t, nil)
	for _, tc := range []struct{ days, step int }{{0, 1}, {-7, 1}, {366, 1}, {7, 0}, {7, -1}, {14, 0}} {
		if _, err := s.Trend(t.Context(), winMain, tc.days, tc.step, 1); !errors.Is(err, report.ErrWindow) {
			t.Errorf("%d days every %d: expected an error wrapping ErrWindow, got %v", tc.days, tc.step, err)
		}
	}
	for _, tc := range []struct{ days, step int }{{1, 1}, {365, 1}, {7, 1 << 40}} {
		if _, err := s.Trend(t.Context(), winMain, tc.days, tc.step, 1); err != nil {
			t.Errorf("%d days every %d: expected no error, got %v", tc.days, tc.step, err)
		}
	}
}

// TestStoreRowReadsTakeTurns checks that reads of the base rows wait for their turn, up to
// their context's end, while the reads of aggregates go on.
func TestStoreRowReadsTakeTurns(t *testing.T) {
	s := openSQLite(t, storeHistory)
	past := report.Window{From: "2026-02-01", To: "2026-02-20"} // before the last day: from the rows
	rowReads := map[string]func(context.Context) error{
		"trend of 14 days":  func(ctx context.Context) error { _, err := s.Trend(ctx, winMain, 14, 1, 1); return err },
		"trend, min_days 2": func(ctx context.Context) error { _, err := s.Trend(ctx, winMain, 7, 1, 2); return err },
		"past summary":      func(ctx context.Context) error { _, err := s.Summary(ctx, past, 1); return err },
	}
	done := report.TakeRowReadsTurn(s)
	for name, read := range rowReads {
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		if err := read(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s while another read of the rows runs: expected to wait until the deadline, got %v", name, err)
		}
		cancel()
	}
	for _, name := range []string{"daily", "new", "upgrades", "trend"} { // aggregates
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		err := storeQueries[name](ctx, s, winMain)
		cancel()
		if err != nil {
			t.Errorf("%s while a read of the rows runs: expected an answer, got %v", name, err)
		}
	}
	done()
	for name, read := range rowReads {
		if err := read(t.Context()); err != nil {
			t.Errorf("%s after its turn came: expected an answer, got %v", name, err)
		}
	}
}

func TestStoreBadWindow(t *testing.T) {
	end := time.Date(2036, 1, 1, 12, 0, 0, 0, time.UTC)
	bad := []report.Window{
		window("2026-03-05", "2026-03-04"),
		window("2026-02-30", "2026-03-01"),
		window("2026-03-01", "2026-02-29"),
		window("2026-3-1", "2026-03-02"),
		window("2026-03-01", "2026-03-02 "),
		window("2026-03-01T00:00:00Z", "2026-03-02"),
		window("", "2026-03-02"),
		window("2026-03-01", ""),
		window("yesterday", "today"),
		report.LastDays(end, 7321), // one day more than a query takes
		report.LastDays(end, 0),
		window("0001-01-01", "9999-12-31"),
		window("9999-12-31", "0001-01-01"),
	}
	for i, w := range bad {
		if err := w.Validate(); !errors.Is(err, report.ErrWindow) {
			t.Errorf("test %d: %v: expected an error wrapping ErrWindow, got %v", i, w, err)
		}
	}
	good := []report.Window{
		window("2026-03-01", "2026-03-01"),
		window("2028-02-28", "2028-03-01"),
		report.LastDays(end, 7320),
	}
	for i, w := range good {
		if err := w.Validate(); err != nil {
			t.Errorf("test %d: %v: expected no error, got %v", i, w, err)
		}
	}
	for _, b := range storeBackends {
		t.Run(b.name, func(t *testing.T) {
			s := b.open(t, nil)
			for i, w := range bad {
				for name, query := range storeQueries {
					if err := query(t.Context(), s, w); !errors.Is(err, report.ErrWindow) {
						t.Errorf("test %d: %s %v: expected an error wrapping ErrWindow, got %v", i, name, w, err)
					}
				}
			}
		})
	}
}

// TestStoreQueryPlan checks that SQLite reads each statement's rows through a key or an index
// and scans no table, but the ends of day_counts and, for the sightings in key order, the
// instances by id, and that it sorts none of the sightings.
func TestStoreQueryPlan(t *testing.T) {
	db := openSQLiteDB(t, storeHistory)
	queries := report.Queries(report.SQLite)
	from, to := span(winMain)
	tests := []struct {
		name string
		args []any
		want []string
	}{
		{"first_day", nil, []string{"SCAN day_counts"}},
		{"last_day", nil, []string{"SCAN day_counts"}},
		{"summary", []any{from, to, 2}, []string{"SEARCH instances USING COVERING INDEX instances_last_day (last_day>? AND last_day<?)"}},
		{"summary_sightings", []any{from, to, 2}, []string{
			"SEARCH i USING COVERING INDEX instances_last_day (last_day>?)",
			"SEARCH m USING PRIMARY KEY (instance=? AND day>? AND day<?)",
			"SEARCH s USING PRIMARY KEY (instance=? AND day=?)",
		}},
		{"daily", []any{from, to}, []string{
			"SEARCH day_versions USING PRIMARY KEY (day>? AND day<?)",
			"SEARCH day_counts USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)",
		}},
		{"new", []any{from, to}, []string{
			"SEARCH day_adoption USING PRIMARY KEY (day>? AND day<?)",
			"SEARCH day_counts USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)",
		}},
		{"upgrades", []any{from, to}, []string{
			"SEARCH day_changes USING PRIMARY KEY (day>? AND day<?)",
			"SEARCH changes USING COVERING INDEX changes_repeats (day>? AND day<?)",
		}},
		{"upgrades_ever", nil, []string{"SCAN c"}},
		{"trend", []any{7, to}, []string{"SEARCH trend_deltas USING PRIMARY KEY (window_days=? AND day<?)"}},
		{"trend_sightings", []any{from - 13, to, 2}, []string{"SCAN i", "SEARCH s USING PRIMARY KEY (instance=? AND day>? AND day<?)"}},
	}
	tables := []string{"sightings", "instances", "changes", "day_changes", "day_versions", "day_counts", "day_adoption", "trend_deltas", "versions", "i", "s", "m", "v", "d", "a", "f", "t"}
	for _, tc := range tests {
		plan := explainSQLite(t, db, queries[tc.name], tc.args...)
		p := strings.Join(plan, "\n\t")
		for _, want := range tc.want {
			if !slices.Contains(plan, want) {
				t.Errorf("%s: expected %q in the plan, got\n\t%s", tc.name, want, p)
			}
		}
		for _, line := range plan {
			table, scan := strings.CutPrefix(line, "SCAN ")
			if scan && slices.Contains(tables, table) && !slices.Contains(tc.want, line) {
				t.Errorf("%s: expected no scan, got %q in\n\t%s", tc.name, line, p)
			}
			if strings.HasPrefix(tc.name, "trend") && strings.HasPrefix(line, "USE TEMP B-TREE") {
				t.Errorf("%s: expected no sort, got %q in\n\t%s", tc.name, line, p)
			}
		}
	}
}

// explainSQLite returns the lines of SQLite's query plan of query.
func explainSQLite(tb testing.TB, db *sql.DB, query string, args ...any) []string {
	tb.Helper()
	rows, err := db.QueryContext(tb.Context(), "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			tb.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return plan
}
