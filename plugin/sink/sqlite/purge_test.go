package sqlite

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mailustats/mailustats/internal/testutil/sqltest"
	"github.com/mailustats/mailustats/plugin/history"
	"github.com/mailustats/mailustats/plugin/sink"
)

// purged is what a purge removed: rows and hits, of how many instances, and how many went.
type purged struct{ rows, hits, instances, gone int }

// purgeAll purges the rows f picks from s as the tool does: the candidates, then chunks of at
// most chunk of them.
func purgeAll(t testing.TB, s *store, f history.Filter, chunk int, dry bool) purged {
	t.Helper()
	var ids []int64
	if err := s.PurgeCandidates(t.Context(), f, func(id, _ int64) { ids = append(ids, id) }); err != nil {
		t.Fatalf("candidates: %v", err)
	}
	if !slices.IsSorted(ids) {
		t.Errorf("expected the candidates in id order, got %v", ids)
	}
	var got purged
	for c := range slices.Chunk(ids, chunk) {
		_, err := s.PurgeChunk(t.Context(), f, c, dry, func(_ int64, rows []history.Row, gone bool) {
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
			t.Fatalf("purge of %v: %v", c, err)
		}
	}
	return got
}

// purgedView is rows without those a purge by f removes, by the filter's definition.
func purgedView(rows map[string][]viewRow, f history.Filter) (map[string][]viewRow, purged) {
	out := map[string][]viewRow{}
	var gone purged
	for inst, rs := range rows {
		once := !slices.ContainsFunc(rs, func(r viewRow) bool { return r.day != rs[0].day })
		lost := 0
		for _, r := range rs {
			if r.day >= f.From && r.day <= f.To && (f.Version == "" || r.version == f.Version) && (once || !f.OnlyOnce) {
				lost++
				gone.rows++
				gone.hits += int(r.hits)
				continue
			}
			out[inst] = append(out[inst], r)
		}
		if lost > 0 {
			gone.instances++
		}
		if lost == len(rs) {
			gone.gone++
		}
	}
	return out, gone
}

// onceOnly returns records of instances seen on one day each, numbered from 10000: one to
// three versions, some in the same second.
func onceOnly(rng *rand.Rand, instances int, span int32) []sink.Record {
	versions := []string{"2.0", "master", "99"}
	var out []sink.Record
	for i := range instances {
		at := int64(baseDay+rng.Int32N(span))*86400 + rng.Int64N(86399)
		for range 1 + rng.IntN(3) {
			out = append(out, sink.Record{Time: time.Unix(at+rng.Int64N(2), 0), Version: versions[rng.IntN(len(versions))], Instance: numbered(10000 + i)})
		}
	}
	return out
}

// randomFilter picks days within span from baseDay, and maybe a version and OnlyOnce.
func randomFilter(rng *rand.Rand, span int32) history.Filter {
	f := history.Filter{From: baseDay + rng.Int32N(span)}
	f.To = f.From + rng.Int32N(span/8)
	if rng.IntN(2) == 0 {
		f.Version = []string{"2.0", "master", "99", "19", "nosuch"}[rng.IntN(5)]
	}
	f.OnlyOnce = rng.IntN(3) == 0
	return f
}

// TestPurgeMatchesDefinitions writes random histories with instances seen once, purging by
// random filters between batches in chunks of random size, and checks after each purge the rows
// left and what it said it removed, and at the end every aggregate against its definition and
// against Rebuild.
func TestPurgeMatchesDefinitions(t *testing.T) {
	for seed := range uint64(6) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 5))
			const span = 700
			records := append(generate(rng, 20, span), onceOnly(rng, 40, span)...)
			slices.SortFunc(records, func(a, b sink.Record) int { return a.Time.Compare(b.Time) })
			s := open(t, filepath.Join(t.TempDir(), "stats.db"))
			purges := 0
			for i := 0; len(records) > 0; i++ {
				n := min(len(records), 1+rng.IntN(40))
				write(t, s, batch(fmt.Sprint(i), records[:n]...))
				records = records[n:]
				if rng.IntN(3) > 0 && len(records) > 0 {
					continue
				}
				f := randomFilter(rng, span)
				want, wantGone := purgedView(viewRows(t, s.db), f)
				if got := purgeAll(t, s, f, 1+rng.IntN(8), false); got != wantGone {
					t.Errorf("purge by %+v: expected to remove %+v, got %+v", f, wantGone, got)
				}
				if got := viewRows(t, s.db); !reflect.DeepEqual(got, want) {
					t.Fatalf("rows after a purge by %+v: expected\n%v\ngot\n%v", f, want, got)
				}
				purges++
			}
			if purges < 3 {
				t.Errorf("expected at least 3 purges, got %d", purges)
			}
			checkAggregates(t, s.db)
			checkRebuild(t, s.db)
		})
	}
}

// TestPurgeDryRun reads what a purge would remove, the same as the purge then removes, and
// changes nothing.
func TestPurgeDryRun(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 6))
	s := open(t, filepath.Join(t.TempDir(), "stats.db"))
	write(t, s, batch("1", append(generate(rng, 20, 300), onceOnly(rng, 30, 300)...)...))
	f := history.Filter{From: baseDay, To: baseDay + 299, OnlyOnce: true}
	before := tableContents(t, s.db)
	rows := viewRows(t, s.db)
	dry := purgeAll(t, s, f, 7, true)
	if after := tableContents(t, s.db); !reflect.DeepEqual(after, before) {
		t.Errorf("a dry run changed the tables: expected\n%v\ngot\n%v", before, after)
	}
	if got := viewRows(t, s.db); !reflect.DeepEqual(got, rows) {
		t.Errorf("a dry run changed the rows: expected\n%v\ngot\n%v", rows, got)
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

// TestPurgeWhileWriting purges instances seen once while another sink on the same file, as
// the server's, writes to them and to others: neither fails, the others keep every row, and
// the aggregates are those of the rows.
func TestPurgeWhileWriting(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 7))
	path := filepath.Join(t.TempDir(), "stats.db")
	s, server := open(t, path), open(t, path)
	const span = 200
	// The same instances in both: the history's seen once may be seen again live, on another
	// day, before or after the purge reaches them.
	past := append(generate(rng, 40, span), onceOnly(rng, 400, span)...)
	write(t, s, batch("past", past...))
	live := append(generate(rng, 40, span), onceOnly(rng, 400, span)...)
	slices.SortFunc(live, func(a, b sink.Record) int { return a.Time.Compare(b.Time) })

	var wg sync.WaitGroup
	var writeErr error
	wg.Go(func() {
		for i, rest := 0, live; len(rest) > 0 && writeErr == nil; i++ {
			n := min(len(rest), 20)
			writeErr = server.Write(t.Context(), batch(fmt.Sprint("live", i), rest[:n]...))
			rest = rest[n:]
		}
	})
	f := history.Filter{From: baseDay, To: baseDay + span - 1, OnlyOnce: true}
	removed := purgeAll(t, s, f, 16, false)
	wg.Wait()
	if writeErr != nil {
		t.Fatalf("the other sink: %v", writeErr)
	}
	if removed.gone == 0 {
		t.Error("expected instances seen once to go, got none")
	}
	pastRows, all, got := rowsOf(past), rowsOf(append(past, live...)), viewRows(t, s.db)
	for inst, rows := range pastRows {
		if rows[0].day != rows[len(rows)-1].day && !reflect.DeepEqual(got[inst], all[inst]) {
			t.Errorf("rows of %s, seen on several days before the purge: expected %v, got %v", inst, all[inst], got[inst])
		}
	}
	checkAggregates(t, s.db)
	checkRebuild(t, s.db)
}

// TestPurgeChunkWaitsForWriter checks that a purge waits for a writer that holds the write
// lock longer than the busy timeout, rather than failing.
func TestPurgeChunkWaitsForWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stats.db")
	s, other := open(t, path), open(t, path)
	write(t, s, batch("1", rec("2025-03-01T10:00:00Z", "2.0", instA), rec("2025-03-02T10:00:00Z", "2.0", instB)))
	tx, err := other.db.BeginTx(t.Context(), nil) // takes the write lock
	if err != nil {
		t.Fatal(err)
	}
	day, _ := history.ParseDay("2025-03-01")
	done := make(chan purged)
	go func() { done <- purgeAll(t, s, history.Filter{From: day, To: day}, 10, false) }()
	time.Sleep(busyTimeout + time.Second) // longer than one busy timeout
	select {
	case got := <-done:
		t.Fatalf("expected the purge to wait for the lock, got it done: %+v", got)
	default:
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if got := <-done; got != (purged{rows: 1, hits: 1, instances: 1, gone: 1}) {
		t.Errorf("expected A's one row removed, got %+v", got)
	}
	checkRows(t, "daily rows", sqltest.Query(t, s.db, `SELECT day, version, instance FROM daily ORDER BY day`),
		[][]any{{"2025-03-02", "2.0", instB}})
	checkAggregates(t, s.db)
	checkRebuild(t, s.db)
}
