package report_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/mailustats/mailustats/internal/testutil/population"
	"github.com/mailustats/mailustats/plugin/report"
	"github.com/mailustats/mailustats/plugin/sink"
	"github.com/mailustats/mailustats/plugin/sink/postgres"
	"github.com/mailustats/mailustats/plugin/sink/sqlite"
)

// benchContent names what the cached benchmark databases hold: change it whenever the
// population generator changes, so that they are built again. A cached database of an older
// schema is brought up to date by the sink's migrations when a benchmark opens it.
const benchContent = "v2.1"

// benchBatch is the records of one batch while building, the most the writer hands a sink.
const benchBatch = 32768

// benchPopulations are the populations the issue benchmarks.
var benchPopulations = []struct{ instances, years int }{{20_000, 3}, {100_000, 5}}

// BenchmarkStore times every Store method on each benchmark population in SQLite and
// PostgreSQL, over the windows of the last 7, 30, 90 and 365 days and the whole history, trends
// over the whole history, windows that end 100 days before the last day (Summary from the
// sightings), and the gauges' refresh. The databases are built through the sinks once and kept
// in os.TempDir(), named by benchContent: the SQLite file, and a pg_dump archive restored into
// the test server on later runs.
func BenchmarkStore(b *testing.B) {
	for _, p := range benchPopulations {
		c := population.Benchmark(p.instances, p.years)
		name := fmt.Sprintf("%dk-%dy", p.instances/1000, p.years)
		b.Run(name+"/sqlite", func(b *testing.B) {
			benchMethods(b, benchSQLite(b, c), c)
		})
		b.Run(name+"/postgres", func(b *testing.B) {
			benchMethods(b, benchPostgres(b, c), c)
		})
	}
}

// benchMethods runs the benchmarks of every method on s, which holds population c.
func benchMethods(b *testing.B, s *report.Store, c population.Config) {
	first, ok, err := s.FirstDay(b.Context())
	if err != nil || !ok {
		b.Fatalf("first day: %v, %v", ok, err)
	}
	end := c.End()
	whole := report.Window{From: first, To: end.Format(time.DateOnly)}
	windows := []struct {
		name string
		w    report.Window
	}{
		{"7", report.LastDays(end, 7)}, {"30", report.LastDays(end, 30)}, {"90", report.LastDays(end, 90)},
		{"365", report.LastDays(end, 365)}, {"all", whole},
	}
	for _, w := range windows {
		benchOne(b, "summary/"+w.name, func(ctx context.Context) error {
			_, err := s.Summary(ctx, w.w, 1)
			return err
		})
		benchOne(b, "summary_min_days/"+w.name, func(ctx context.Context) error {
			_, err := s.Summary(ctx, w.w, 2)
			return err
		})
		benchOne(b, "daily/"+w.name, func(ctx context.Context) error {
			_, err := s.Daily(ctx, w.w)
			return err
		})
		benchOne(b, "new/"+w.name, func(ctx context.Context) error {
			_, err := s.New(ctx, w.w)
			return err
		})
		benchOne(b, "upgrades/"+w.name, func(ctx context.Context) error {
			_, err := s.Upgrades(ctx, w.w)
			return err
		})
	}
	for _, n := range []int{1, 7, 30, 90, 365} {
		past := report.LastDays(end.AddDate(0, 0, -100), n)
		benchOne(b, fmt.Sprint("summary_past/", n), func(ctx context.Context) error {
			_, err := s.Summary(ctx, past, 1)
			return err
		})
	}
	benchOne(b, "first_day", func(ctx context.Context) error {
		_, _, err := s.FirstDay(ctx)
		return err
	})
	for _, n := range []int{7, 30, 90, 365, 14} {
		benchOne(b, fmt.Sprint("trend/", n), func(ctx context.Context) error {
			_, err := s.Trend(ctx, whole, n, 1, 1)
			return err
		})
	}
	// The gauges' refresh: a summary of each window ending today.
	benchOne(b, "gauges", func(ctx context.Context) error {
		for _, n := range []int{1, 7, 30, 90, 365} {
			if _, err := s.Summary(ctx, report.LastDays(end, n), 1); err != nil {
				return err
			}
		}
		return nil
	})
}

// benchOne runs query as the sub-benchmark name.
func benchOne(b *testing.B, name string, query func(context.Context) error) {
	b.Run(name, func(b *testing.B) {
		for b.Loop() {
			if err := query(b.Context()); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// benchPath is the name in os.TempDir() of a benchmark database of population c.
func benchPath(c population.Config, ext string) string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("mailustats-report-bench-%s-%d-%dd.%s", benchContent, c.Instances, c.Days, ext))
}

// benchSQLite opens a read-only Store on population c in SQLite, building the database
// through the sqlite sink unless a previous run left it in os.TempDir(), which the sink then
// migrates.
func benchSQLite(b *testing.B, c population.Config) *report.Store {
	b.Helper()
	path := benchPath(c, "db")
	start := time.Now()
	if _, err := os.Stat(path); err != nil {
		records, err := buildSQLite(b.Context(), path, c)
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("built %s: %d records in %v", path, records, time.Since(start).Round(time.Second))
	} else {
		o, err := sqlite.Parse([]string{path})
		if err != nil {
			b.Fatal(err)
		}
		migrateCached(b, o.Open, path, start)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		b.Fatal(err)
	}
	s := report.NewStore(db, report.SQLite)
	b.Cleanup(func() { s.Close() })
	return s
}

// buildSQLite writes population c through the sqlite sink, in batches in time order, to a new
// file that becomes path once complete, and returns how many records it wrote.
func buildSQLite(ctx context.Context, path string, c population.Config) (int, error) {
	tmp := path + ".building"
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(tmp + suffix); err != nil && !os.IsNotExist(err) {
			return 0, err
		}
	}
	o, err := sqlite.Parse([]string{tmp})
	if err != nil {
		return 0, err
	}
	sk, err := o.Open()
	if err != nil {
		return 0, err
	}
	n, err := writeAll(ctx, sk, c)
	if cerr := sk.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, err
	}
	if _, err := os.Stat(tmp + "-wal"); err == nil {
		return n, fmt.Errorf("%s-wal is left after closing the sink", tmp)
	}
	return n, os.Rename(tmp, path)
}

// benchPostgres opens a Store on population c in a new database of the test server: restored
// from the archive a previous run left in os.TempDir(), or else built through the postgres
// sink and archived. Either way it is vacuumed and analyzed, as autovacuum would in time, so
// that index-only scans need not visit the table.
func benchPostgres(b *testing.B, c population.Config) *report.Store {
	b.Helper()
	dsn := pgServer.Get(b).CreateDatabase(b, fmt.Sprintf("bench_%d_%d", c.Instances, pgDatabases.Add(1)))
	archive := benchPath(c, "pgdump")
	start := time.Now()
	if _, err := os.Stat(archive); err == nil {
		if out, err := exec.CommandContext(b.Context(), "pg_restore", "--no-owner", "-d", dsn, archive).CombinedOutput(); err != nil {
			b.Fatalf("pg_restore: %v: %s", err, out)
		}
		b.Logf("restored %s in %v", archive, time.Since(start).Round(time.Second))
		o, err := postgres.Parse([]string{dsn})
		if err != nil {
			b.Fatal(err)
		}
		migrateCached(b, o.Open, archive, time.Now())
	} else {
		records, err := buildPostgres(b.Context(), dsn, archive, c)
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("built %s: %d records in %v", archive, records, time.Since(start).Round(time.Second))
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		b.Fatal(err)
	}
	s := report.NewStore(db, report.Postgres)
	b.Cleanup(func() { s.Close() })
	if _, err := db.ExecContext(b.Context(), "VACUUM ANALYZE"); err != nil {
		b.Fatal(err)
	}
	return s
}

// migrateCached opens the sink on a cached database, which applies the migrations it lacks,
// and closes it.
func migrateCached(b *testing.B, open func() (sink.Sink, error), name string, start time.Time) {
	b.Helper()
	sk, err := open()
	if err != nil {
		b.Fatal(err)
	}
	if p, ok := sk.(sink.Preparer); ok {
		err = p.Prepare(b.Context())
	}
	if err := errors.Join(err, sk.Close()); err != nil {
		b.Fatalf("migrating %s: %v", name, err)
	}
	b.Logf("opened %s through the sink (migrations) in %v", name, time.Since(start).Round(time.Millisecond))
}

// buildPostgres writes population c through the postgres sink to the database of dsn, then
// archives it with pg_dump to a file that becomes archive once complete, and returns how many
// records it wrote.
func buildPostgres(ctx context.Context, dsn, archive string, c population.Config) (int, error) {
	o, err := postgres.Parse([]string{dsn})
	if err != nil {
		return 0, err
	}
	sk, err := o.Open()
	if err != nil {
		return 0, err
	}
	n, err := 0, sk.(sink.Preparer).Prepare(ctx)
	if err == nil {
		n, err = writeAll(ctx, sk, c)
	}
	if cerr := sk.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, err
	}
	tmp := archive + ".building"
	if out, err := exec.CommandContext(ctx, "pg_dump", "-Fc", "-f", tmp, dsn).CombinedOutput(); err != nil {
		return n, fmt.Errorf("pg_dump: %v: %s", err, out)
	}
	return n, os.Rename(tmp, archive)
}

// writeAll writes the records of c to sk in batches of benchBatch and returns how many.
func writeAll(ctx context.Context, sk sink.Sink, c population.Config) (int, error) {
	batch := make([]sink.Record, 0, benchBatch)
	n, batches := 0, 0
	flush := func() error {
		batches++
		err := sk.Write(ctx, sink.Batch{ID: fmt.Sprint("bench ", batches), Records: batch})
		n += len(batch)
		batch = batch[:0]
		return err
	}
	for r := range c.Records() {
		if batch = append(batch, r); len(batch) == benchBatch {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	if len(batch) > 0 {
		return n, flush()
	}
	return n, nil
}
