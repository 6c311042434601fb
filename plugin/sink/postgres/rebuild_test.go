package postgres

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/mailustats/mailustats/plugin/sink"
)

// derivedQueries read every table that Rebuild fills, with keys and version names instead of
// ids, so that two databases compare, and without the counts fallen to 0.
var derivedQueries = []string{
	`SELECT encode(i.key, 'hex'), i.first_day, i.last_day, i.days, v.name
FROM instances AS i JOIN versions AS v ON v.id = i.last_version ORDER BY 1`,
	`SELECT encode(i.key, 'hex'), c.day, f.name, t.name, c.previous_day
FROM changes AS c JOIN instances AS i ON i.id = c.instance
JOIN versions AS f ON f.id = c.from_version JOIN versions AS t ON t.id = c.to_version ORDER BY 1, 2, 3, 4`,
	`SELECT encode(i.key, 'hex'), v.name, iv.first_day
FROM instance_versions AS iv JOIN instances AS i ON i.id = iv.instance JOIN versions AS v ON v.id = iv.version ORDER BY 1, 2`,
	`SELECT d.day, v.name, d.instances FROM day_versions AS d JOIN versions AS v ON v.id = d.version
WHERE d.instances <> 0 ORDER BY 1, 2`,
	`SELECT day, instances, new_instances FROM day_counts WHERE (instances, new_instances) <> (0, 0) ORDER BY 1`,
	`SELECT d.day, v.name, d.instances FROM day_adoption AS d JOIN versions AS v ON v.id = d.version
WHERE d.instances <> 0 ORDER BY 1, 2`,
	`SELECT d.day, f.name, t.name, d.instances FROM day_changes AS d
JOIN versions AS f ON f.id = d.from_version JOIN versions AS t ON t.id = d.to_version
WHERE d.instances <> 0 ORDER BY 1, 2, 3`,
	`SELECT d.window_days, d.day, v.name, d.delta FROM trend_deltas AS d JOIN versions AS v ON v.id = d.version
WHERE d.delta <> 0 ORDER BY 1, 2, 3`,
	`SELECT f.name, t.name, c.instances FROM change_instances AS c
JOIN versions AS f ON f.id = c.from_version JOIN versions AS t ON t.id = c.to_version
WHERE c.instances <> 0 ORDER BY 1, 2`,
}

// derived returns what derivedQueries answer on s's database, a table a line.
func derived(tb testing.TB, s *pgSink) []string {
	tb.Helper()
	out := make([]string, len(derivedQueries))
	for i, sql := range derivedQueries {
		out[i] = strings.Join(rows(tb, s, sql), "\n\t")
	}
	return out
}

// checkDerived fails tb unless got is want, both what derived answers, each named as the
// message of a difference names it.
func checkDerived(tb testing.TB, wantName string, want []string, gotName string, got []string) {
	tb.Helper()
	for i := range want {
		if want[i] != got[i] {
			tb.Errorf("%s:\n%s\n\t%s\n%s\n\t%s", derivedQueries[i], wantName, want[i], gotName, got[i])
		}
	}
}

// checkSameDerived fails tb unless the tables that Rebuild fills hold the same in a and b.
func checkSameDerived(tb testing.TB, a, b *pgSink) {
	tb.Helper()
	checkDerived(tb, "expected", derived(tb, a), "got", derived(tb, b))
}

// checkRebuilt fails tb unless Rebuild leaves the tables it fills as they are on s's database.
func checkRebuilt(tb testing.TB, s *pgSink) {
	tb.Helper()
	before := derived(tb, s)
	ctx := testContext(tb)
	if err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return Rebuild(ctx, tx) }); err != nil {
		tb.Fatalf("rebuild: %v", err)
	}
	after := derived(tb, s)
	if len(strings.Join(after, "")) == 0 {
		tb.Error("expected aggregates, got none")
	}
	checkDerived(tb, "as written", before, "rebuilt", after)
}

// checkRepeats fails tb unless some change on s's database repeats an earlier one, so that
// the checks of previous_day check something.
func checkRepeats(tb testing.TB, s *pgSink) {
	tb.Helper()
	if n := rows(tb, s, `SELECT count(*) FROM changes WHERE previous_day IS NOT NULL`); n[0] == "0" {
		tb.Error("expected changes that repeat earlier ones, got none")
	}
}

// hexOf is the 32 hex digits of a UUID, as its hash_ids digest might be.
func hexOf(id string) string { return strings.ReplaceAll(id, "-", "") }

func atoi(tb testing.TB, s string) int {
	tb.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// randomRecords returns records of instances over span days from 2024-01-01: restarts every 1
// to 60 days, several versions a day, downgrades, records in the same second, gaps longer than
// the largest trend window.
func randomRecords(rng *rand.Rand, instances int, span int) []sink.Record {
	versions := []string{"1.9", "2.0", "2024.06", "master", "19"}
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var out []sink.Record
	for range instances {
		var id uuid.UUID
		for i := range id {
			id[i] = byte(rng.UintN(256))
		}
		inst := id.String()
		day, v := rng.IntN(span/2), rng.IntN(len(versions))
		for day < span {
			at := start.AddDate(0, 0, day).Add(time.Duration(rng.IntN(86400)) * time.Second)
			switch rng.IntN(10) {
			case 0: // a downgrade, or any other version
				v = rng.IntN(len(versions))
			case 1, 2: // an upgrade
				v = min(v+1, len(versions)-1)
			}
			out = append(out, sink.Record{Time: at, Version: versions[v], Instance: inst})
			switch rng.IntN(6) {
			case 0: // the same second, maybe another version
				out = append(out, sink.Record{Time: at, Version: versions[rng.IntN(len(versions))], Instance: inst})
			case 1: // later the same day with another version
				later := minTime(at.Add(time.Duration(rng.IntN(3600))*time.Second), start.AddDate(0, 0, day+1).Add(-time.Second))
				out = append(out, sink.Record{Time: later, Version: versions[rng.IntN(len(versions))], Instance: inst})
			}
			day += 1 + rng.IntN(60)
			if rng.IntN(40) == 0 {
				day += 366 + rng.IntN(100)
			}
		}
	}
	return out
}

// expectedDaily is what the daily view shows of records, sorted.
func expectedDaily(records []sink.Record) []string {
	type key struct{ day, version, instance string }
	type row struct {
		hits        int
		first, last time.Time
	}
	m := map[key]*row{}
	for _, r := range records {
		t := r.Time.UTC()
		k := key{t.Format(time.DateOnly), r.Version, r.Instance}
		if x, ok := m[k]; ok {
			x.hits++
			x.first, x.last = minTime(x.first, t), maxTime(x.last, t)
		} else {
			m[k] = &row{1, t, t}
		}
	}
	var out []string
	for k, r := range m {
		out = append(out, fmt.Sprintf("%s %s %s %d %s %s", k.day, k.version, k.instance, r.hits, r.first.Format(time.RFC3339), r.last.Format(time.RFC3339)))
	}
	slices.Sort(out)
	return out
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// checkDaily fails tb unless the daily view of s's database shows exactly records.
func checkDaily(tb testing.TB, s *pgSink, records []sink.Record) {
	tb.Helper()
	got, want := rows(tb, s, daily), expectedDaily(records)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		tb.Errorf("daily: expected %d rows, got %d", len(want), len(got))
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				tb.Errorf("first difference: expected %s, got %s", want[i], got[i])
				break
			}
		}
	}
}

// batches splits records into batches of 1 to 40 records.
func batches(rng *rand.Rand, prefix string, records []sink.Record) []sink.Batch {
	var out []sink.Batch
	for len(records) > 0 {
		n := min(len(records), 1+rng.IntN(40))
		out = append(out, sink.Batch{ID: fmt.Sprint(prefix, len(out)), Records: records[:n]})
		records = records[n:]
	}
	return out
}

// TestRebuildAfterRandomWrites writes random batches, in time order and shuffled as an import
// of old logs after newer ones is, some of them twice as a retry after a lost acknowledgement:
// the daily view holds every record once, and rebuilding the aggregates changes nothing.
func TestRebuildAfterRandomWrites(t *testing.T) {
	t.Parallel()
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(seed, 2))
			records := randomRecords(rng, 30, 800)
			if seed%2 == 0 {
				slices.SortFunc(records, func(a, b sink.Record) int { return a.Time.Compare(b.Time) })
			} else {
				rng.Shuffle(len(records), func(i, j int) { records[i], records[j] = records[j], records[i] })
			}
			s := open(t, newDatabase(t, server.Get(t)))
			var c newCounts
			s.OnNewInstances(c.add)
			for _, b := range batches(rng, "b", records) {
				write(t, s, b)
				if rng.IntN(5) == 0 {
					write(t, s, b)
				}
			}
			checkDaily(t, s, records)
			checkRepeats(t, s)
			checkRebuilt(t, s)
			if n := c.total(); n != 30 {
				t.Errorf("expected 30 new instances counted, got %d", n)
			}
		})
	}
}

// TestWriteReplicas has two sinks with pools of their own, as two replicas, write batches of the
// same instances at once, each from several goroutines: every record is stored once, the
// aggregates are what rebuilding gives, and each instance is counted new once.
func TestWriteReplicas(t *testing.T) {
	t.Parallel()
	const instances = 120
	rng := rand.New(rand.NewPCG(7, 7))
	records := randomRecords(rng, instances, 500)
	slices.SortFunc(records, func(a, b sink.Record) int {
		return cmp.Or(a.Time.Compare(b.Time), strings.Compare(a.Instance, b.Instance))
	})
	all := batches(rng, "r", records)
	dsn := newDatabase(t, server.Get(t))
	var c newCounts
	var wg sync.WaitGroup
	const replicas, goroutines = 2, 3
	for r := range replicas {
		s := open(t, dsn, "events")
		s.OnNewInstances(c.add)
		for g := range goroutines {
			wg.Go(func() {
				for i := r*goroutines + g; i < len(all); i += replicas * goroutines {
					if err := s.Write(testContext(t), all[i]); err != nil {
						t.Errorf("replica %d: %v", r, err)
					}
				}
			})
		}
	}
	wg.Wait()
	s := open(t, dsn)
	checkDaily(t, s, records)
	checkRows(t, s, `SELECT count(*) FROM events`, fmt.Sprint(len(records)))
	checkRebuilt(t, s)
	if n := c.total(); n != instances {
		t.Errorf("expected %d new instances counted, got %d", instances, n)
	}
}
