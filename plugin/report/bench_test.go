package report_test

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailustats/mailustats/plugin/report"
	"github.com/mailustats/mailustats/plugin/sink/sqlite"
)

// The benchmark database: benchInstances instances, each reporting on each of benchDays days,
// about a million instance-days, over the versions of benchVersions, oldest first.
const (
	benchInstances = 33_334
	benchDays      = 30
	benchUpgrade   = 0.3 // the share of instances that upgrade once within the days
	benchChunk     = 100 // rows an INSERT statement carries while building
)

var (
	benchVersions = []string{"1.9", "2.0", "2024.06", "2024.06.1", "2024.06.2", "2024.12", "2025.03", "master"}
	benchFirstDay = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	benchWindow   = report.Window{From: "2026-01-01", To: "2026-01-30"}
)

// benchData is the benchmark database, built on first use and removed by TestMain.
var benchData benchDB

type benchDB struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// get returns the path of the database, building it on first use.
func (d *benchDB) get(b *testing.B) string {
	b.Helper()
	d.once.Do(func() {
		start := time.Now()
		if d.dir, d.err = os.MkdirTemp("", "report-bench-"); d.err != nil {
			return
		}
		d.path = filepath.Join(d.dir, "stats.db")
		var rows int
		rows, d.err = buildBenchDB(d.path)
		b.Logf("built %d instance-days in %v", rows, time.Since(start).Round(time.Millisecond))
	})
	if d.err != nil {
		b.Fatal(d.err)
	}
	return d.path
}

// remove deletes the database, if it was built.
func (d *benchDB) remove() error {
	if d.dir == "" {
		return nil
	}
	return os.RemoveAll(d.dir)
}

// benchRow is one row of the daily table, with times in Unix seconds.
type benchRow struct {
	version, instance string
	first, last       int64
}

// buildBenchDB creates the schema at path through the sqlite sink, then inserts the rows in one
// transaction, in key order, and returns how many.
func buildBenchDB(path string) (int, error) {
	o, err := sqlite.Parse([]string{path})
	if err != nil {
		return 0, err
	}
	sk, err := o.Open()
	if err != nil {
		return 0, err
	}
	if err := sk.Close(); err != nil {
		return 0, err
	}
	// A cache that holds the index on (instance, day), which the rows, inserted in key order,
	// update all over.
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=synchronous(OFF)&_pragma=cache_size(-262144)")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	insert, err := tx.PrepareContext(ctx, benchInsert(benchChunk))
	if err != nil {
		return 0, err
	}
	instances, starts, upgrades := benchInstancesPlan()
	rows := make([]benchRow, len(instances))
	var args []any
	for d := range benchDays {
		date := benchFirstDay.AddDate(0, 0, d)
		for i, instance := range instances {
			v := starts[i]
			if upgrades[i] >= 0 && d >= upgrades[i] {
				v++
			}
			at := date.Unix() + int64(i%86_000)
			rows[i] = benchRow{version: benchVersions[v], instance: instance, first: at, last: at + 300}
		}
		slices.SortFunc(rows, func(a, b benchRow) int {
			return cmp.Or(strings.Compare(a.version, b.version), strings.Compare(a.instance, b.instance))
		})
		day := date.Format(time.DateOnly)
		args = args[:0]
		for _, r := range rows {
			args = append(args, day, r.version, r.instance, r.first, r.last)
		}
		for len(args) > 0 {
			n := min(len(args), benchChunk*5)
			if n == benchChunk*5 {
				_, err = insert.ExecContext(ctx, args[:n]...)
			} else {
				_, err = tx.ExecContext(ctx, benchInsert(n/5), args[:n]...)
			}
			if err != nil {
				return 0, err
			}
			args = args[n:]
		}
	}
	return benchDays * len(instances), tx.Commit()
}

// benchInsert is an INSERT of n daily rows of one hit.
func benchInsert(n int) string {
	return "INSERT INTO daily (day, version, instance, hits, first_seen, last_seen) VALUES " +
		strings.TrimSuffix(strings.Repeat("(?, ?, ?, 1, ?, ?), ", n), ", ")
}

// benchInstancesPlan returns the benchmark's instances with the index in benchVersions of each
// one's first version, skewed towards the recent ones, and the day it upgrades to the next,
// or -1.
func benchInstancesPlan() (instances []string, starts, upgrades []int) {
	rng := rand.New(rand.NewChaCha8([32]byte{1}))
	for range benchInstances {
		instances = append(instances, fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x",
			rng.Uint32(), rng.IntN(1<<16), rng.IntN(1<<12), 0x8000|rng.IntN(1<<14), rng.Int64N(1<<48)))
		start := len(benchVersions) - 2 - min(rng.IntN(len(benchVersions)), rng.IntN(len(benchVersions)))
		start = max(start, 0)
		upgradeDay := -1
		if rng.Float64() < benchUpgrade {
			upgradeDay = 1 + rng.IntN(benchDays-1)
		}
		starts, upgrades = append(starts, start), append(upgrades, upgradeDay)
	}
	return instances, starts, upgrades
}

// benchStore opens a read-only Store on the benchmark database.
func benchStore(b *testing.B) *report.Store {
	b.Helper()
	db, err := sql.Open("sqlite", "file:"+benchData.get(b)+"?mode=ro")
	if err != nil {
		b.Fatal(err)
	}
	s := report.NewStore(db, report.SQLite)
	b.Cleanup(func() { s.Close() })
	return s
}

func BenchmarkSummary(b *testing.B) {
	s := benchStore(b)
	for b.Loop() {
		sum, err := s.Summary(b.Context(), benchWindow, 1)
		if err != nil {
			b.Fatal(err)
		}
		if sum.Instances != benchInstances {
			b.Fatalf("expected %d instances, got %d", benchInstances, sum.Instances)
		}
	}
}

// BenchmarkSummaryMinDays counts only the instances seen on at least 2 days, which every
// instance of the data is: the cost of looking up each one's days.
func BenchmarkSummaryMinDays(b *testing.B) {
	s := benchStore(b)
	for b.Loop() {
		sum, err := s.Summary(b.Context(), benchWindow, 2)
		if err != nil {
			b.Fatal(err)
		}
		if sum.Instances != benchInstances {
			b.Fatalf("expected %d instances, got %d", benchInstances, sum.Instances)
		}
	}
}

func BenchmarkDaily(b *testing.B) {
	s := benchStore(b)
	for b.Loop() {
		days, err := s.Daily(b.Context(), benchWindow)
		if err != nil {
			b.Fatal(err)
		}
		if days[0].Instances != benchInstances {
			b.Fatalf("expected %d instances, got %d", benchInstances, days[0].Instances)
		}
	}
}

func BenchmarkNew(b *testing.B) {
	s := benchStore(b)
	for b.Loop() {
		if _, err := s.New(b.Context(), benchWindow); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUpgrades(b *testing.B) {
	s := benchStore(b)
	for b.Loop() {
		upgrades, err := s.Upgrades(b.Context(), benchWindow)
		if err != nil {
			b.Fatal(err)
		}
		if len(upgrades) == 0 {
			b.Fatal("expected upgrades")
		}
	}
}

// BenchmarkSummaryDays times Summary over windows of the last days of the data.
func BenchmarkSummaryDays(b *testing.B) {
	s := benchStore(b)
	last := benchFirstDay.AddDate(0, 0, benchDays-1)
	for _, n := range []int{1, 7} {
		b.Run(fmt.Sprintf("days=%d", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := s.Summary(b.Context(), report.LastDays(last, n), 1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
