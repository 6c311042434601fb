package postgres

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mailustats/mailustats/plugin/history"
	"github.com/mailustats/mailustats/plugin/sink"
)

// spanStart is the first day of randomRecords, 2024-01-01, as days since 1970-01-01.
const spanStart = 19723

// purged is what a purge removed: rows and hits, of how many instances, and how many went.
type purged struct{ rows, hits, instances, gone int }

// purgeAll purges the rows f picks from s as the tool does: the candidates, then chunks of at
// most chunk of them.
func purgeAll(tb testing.TB, s *pgSink, f history.Filter, chunk int, dry bool) purged {
	tb.Helper()
	var ids []int64
	if err := s.PurgeCandidates(testContext(tb), f, func(id, _ int64) { ids = append(ids, id) }); err != nil {
		tb.Fatalf("candidates: %v", err)
	}
	if !slices.IsSorted(ids) {
		tb.Errorf("expected the candidates in id order, got %v", ids)
	}
	var got purged
	for c := range slices.Chunk(ids, chunk) {
		_, err := s.PurgeChunk(testContext(tb), f, c, dry, func(_ int64, rows []history.Row, gone bool) {
			got.instances++
			got.rows += len(rows)
			for _, r := range rows {
				got.hits += int(r.Hits)
			}
			if gone {
				got.gone++
			}
		})
		if err != nil {
			tb.Fatalf("purge of %v: %v", c, err)
		}
	}
	return got
}

// purgedRecords is records without those of the rows a purge by f removes, by the filter's
// definition, and what it removes.
func purgedRecords(records []sink.Record, f history.Filter) ([]sink.Record, purged) {
	type row struct {
		instance string
		day      int32
		version  string
	}
	days := map[string]map[int32]bool{}
	rows := map[row]int{} // records
	for _, r := range records {
		day, _ := history.DayNumber(r.Time)
		if days[r.Instance] == nil {
			days[r.Instance] = map[int32]bool{}
		}
		days[r.Instance][day] = true
		rows[row{r.Instance, day, r.Version}]++
	}
	removes := func(k row) bool {
		return k.day >= f.From && k.day <= f.To && (f.Version == "" || k.version == f.Version) && (!f.OnlyOnce || len(days[k.instance]) == 1)
	}
	var gone purged
	lost, kept := map[string]bool{}, map[string]bool{}
	for k, n := range rows {
		if removes(k) {
			gone.rows++
			gone.hits += n
			lost[k.instance] = true
		} else {
			kept[k.instance] = true
		}
	}
	for inst := range lost {
		gone.instances++
		if !kept[inst] {
			gone.gone++
		}
	}
	var out []sink.Record
	for _, r := range records {
		day, _ := history.DayNumber(r.Time)
		if !removes(row{r.Instance, day, r.Version}) {
			out = append(out, r)
		}
	}
	return out, gone
}

// onceOnly returns records of instances seen on one day each within span days from
// 2024-01-01: one to three versions, some in the same second.
func onceOnly(rng *rand.Rand, instances, span int) []sink.Record {
	versions := []string{"2.0", "master", "99"}
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var out []sink.Record
	for range instances {
		var id uuid.UUID
		for i := range id {
			id[i] = byte(rng.UintN(256))
		}
		at := start.AddDate(0, 0, rng.IntN(span)).Add(time.Duration(rng.IntN(86399)) * time.Second)
		for range 1 + rng.IntN(3) {
			out = append(out, sink.Record{Time: at.Add(time.Duration(rng.IntN(2)) * time.Second), Version: versions[rng.IntN(len(versions))], Instance: id.String()})
		}
	}
	return out
}

// randomFilter picks days within span days from 2024-01-01, and maybe a version and OnlyOnce.
func randomFilter(rng *rand.Rand, span int32) history.Filter {
	f := history.Filter{From: spanStart + rng.Int32N(span)}
	f.To = f.From + rng.Int32N(span/8)
	if rng.IntN(2) == 0 {
		f.Version = []string{"2.0", "master", "99", "19", "nosuch"}[rng.IntN(5)]
	}
	f.OnlyOnce = rng.IntN(3) == 0
	return f
}

// TestPurgeMatchesRebuild writes random histories with instances seen once, purging by random
// filters between batches in chunks of random size: after each purge the daily view holds
// exactly the records not purged, and at the end rebuilding the aggregates changes nothing.
func TestPurgeMatchesRebuild(t *testing.T) {
	t.Parallel()
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(seed, 8))
			const span = 700
			records := append(randomRecords(rng, 20, span), onceOnly(rng, 40, span)...)
			slices.SortFunc(records, func(a, b sink.Record) int { return a.Time.Compare(b.Time) })
			s := open(t, newDatabase(t, server.Get(t)))
			var stored []sink.Record
			all := batches(rng, "b", records)
			purges := 0
			for i, b := range all {
				write(t, s, b)
				stored = append(stored, b.Records...)
				if rng.IntN(3) > 0 && i < len(all)-1 {
					continue
				}
				f := randomFilter(rng, span)
				var want purged
				stored, want = purgedRecords(stored, f)
				if got := purgeAll(t, s, f, 1+rng.IntN(8), false); got != want {
					t.Errorf("purge by %+v: expected to remove %+v, got %+v", f, want, got)
				}
				checkDaily(t, s, stored)
				purges++
			}
			if purges < 3 {
				t.Errorf("expected at least 3 purges, got %d", purges)
			}
			checkRebuilt(t, s)
		})
	}
}

// TestPurgeDryRun reads what a purge would remove, the same as the purge then removes, and
// changes nothing.
func TestPurgeDryRun(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 9))
	s := open(t, newDatabase(t, server.Get(t)))
	write(t, s, sink.Batch{ID: "1", Records: append(randomRecords(rng, 20, 300), onceOnly(rng, 30, 300)...)})
	f := history.Filter{From: spanStart, To: spanStart + 299, OnlyOnce: true}
	before := append(derived(t, s), rows(t, s, daily)...)
	dry := purgeAll(t, s, f, 7, true)
	if after := append(derived(t, s), rows(t, s, daily)...); !slices.Equal(after, before) {
		t.Errorf("a dry run changed the tables: expected\n%v\ngot\n%v", before, after)
	}
	if dry.gone != 30 {
		t.Errorf("expected the 30 instances seen once to go, got %d", dry.gone)
	}
	if got := purgeAll(t, s, f, 7, false); got != dry {
		t.Errorf("expected the purge to remove what the dry run found, %+v, got %+v", dry, got)
	}
	if got := purgeAll(t, s, f, 7, true); got != (purged{}) {
		t.Errorf("expected nothing left to purge, got %+v", got)
	}
}

// TestPurgeWhileWriting purges instances seen once while another sink, as a replica, writes to
// them and to others: no write fails, the others keep every row, and rebuilding the aggregates
// changes nothing.
func TestPurgeWhileWriting(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(2, 10))
	dsn := newDatabase(t, server.Get(t))
	s, replica := open(t, dsn), open(t, dsn)
	prepare(t, s)
	const span = 200
	past := append(randomRecords(rng, 40, span), onceOnly(rng, 400, span)...)
	write(t, s, sink.Batch{ID: "past", Records: past})
	// The live records of the same instances: those seen once before may be seen again, on
	// another day, before or after the purge reaches them.
	var live []sink.Record
	for _, r := range past {
		if rng.IntN(4) == 0 {
			live = append(live, sink.Record{Time: r.Time.AddDate(0, 0, 1+rng.IntN(30)), Version: r.Version, Instance: r.Instance})
		}
	}
	var wg sync.WaitGroup
	var writeErr error
	wg.Go(func() {
		for i, rest := 0, live; len(rest) > 0 && writeErr == nil; i++ {
			n := min(len(rest), 20)
			writeErr = replica.Write(testContext(t), sink.Batch{ID: fmt.Sprint("live", i), Records: rest[:n]})
			rest = rest[n:]
		}
	})
	f := history.Filter{From: spanStart, To: spanStart + span - 1, OnlyOnce: true}
	removed := purgeAll(t, s, f, 16, false)
	wg.Wait()
	if writeErr != nil {
		t.Fatalf("the replica: %v", writeErr)
	}
	if removed.gone == 0 {
		t.Error("expected instances seen once to go, got none")
	}
	several := map[string]bool{}
	for _, r := range randomRecords(rand.New(rand.NewPCG(2, 10)), 40, span) {
		several[r.Instance] = true
	}
	var want []sink.Record
	for _, r := range append(past, live...) {
		if several[r.Instance] {
			want = append(want, r)
		}
	}
	got := rows(t, s, daily)
	expected := expectedDaily(want)
	for _, row := range expected {
		if !slices.Contains(got, row) {
			t.Errorf("expected the row %s of an instance seen on several days, got none", row)
		}
	}
	checkRebuilt(t, s)
}

// TestPurgeWaitsForWriter checks that a purge waits for a writer's long transaction without
// holding back the other writers meanwhile, and then purges.
func TestPurgeWaitsForWriter(t *testing.T) {
	t.Parallel()
	dsn := newDatabase(t, server.Get(t))
	s, replica := open(t, dsn), open(t, dsn)
	write(t, s, sink.Batch{ID: "1", Records: []sink.Record{rec(t, "2025-03-01T10:00:00Z", "2.0", instA)}})
	long, err := s.pool.Begin(testContext(t)) // as a writer's transaction: it holds instances' writers' lock
	if err != nil {
		t.Fatal(err)
	}
	defer long.Rollback(testContext(t))
	if _, err := long.Exec(testContext(t), `LOCK TABLE instances IN ROW EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	day, _ := history.ParseDay("2025-03-01")
	done := make(chan purged)
	go func() { done <- purgeAll(t, s, history.Filter{From: day, To: day}, 10, false) }()
	time.Sleep(200 * time.Millisecond) // the purge waits in the queue
	start := time.Now()
	write(t, replica, sink.Batch{ID: "2", Records: []sink.Record{rec(t, "2025-03-02T10:00:00Z", "2.0", instB)}})
	if waited := time.Since(start); waited > 2*time.Second {
		t.Errorf("expected the other writer to wait at most a lock timeout, got %v", waited)
	}
	select {
	case got := <-done:
		t.Fatalf("expected the purge to wait for the long transaction, got it done: %+v", got)
	case <-time.After(time.Second):
	}
	if err := long.Rollback(testContext(t)); err != nil {
		t.Fatal(err)
	}
	if got := <-done; got != (purged{rows: 1, hits: 1, instances: 1, gone: 1}) {
		t.Errorf("expected A's one row removed, got %+v", got)
	}
	checkRows(t, s, `SELECT day::text, version, instance FROM daily`, "2025-03-02 2.0 "+instB)
	checkRebuilt(t, s)
}
