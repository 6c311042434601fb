package postgres

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/mailustats/mailustats/plugin/sink"
	"github.com/mailustats/mailustats/plugin/sink/table"
)

// Bounds of TestPruneBacklog: the timeout of one write, as the worker sets it (plugin/sink), and
// the longest a write may take, far above a chunk's tens of milliseconds.
const (
	writeTimeout = 30 * time.Second
	longestWrite = 5 * time.Second
)

// backlog is how many expired events TestPruneBacklog starts with: years of events kept before
// a retention was set, 20 chunks by default; the README's figures come from
// -args -backlog 2000000.
var backlog = flag.Int("backlog", 200_000, "the expired events of TestPruneBacklog")

// eventTime is the time of event i of n that spreadEvents spreads from from to to.
func eventTime(i, n int, from, to time.Time) time.Time {
	return time.Unix(from.Unix()+int64(i)*int64(to.Sub(from)/time.Second)/int64(n), 0)
}

// spreadEvents inserts n events directly, at the times of eventTime, over 50,000 instances.
func spreadEvents(t testing.TB, s *pgSink, n int, from, to time.Time) {
	t.Helper()
	_, err := s.pool.Exec(testContext(t), `INSERT INTO events (time, version, instance)
		SELECT to_timestamp($1::bigint + i * $2::bigint / $3::bigint), '2024.06',
			lpad((i % 50000)::text, 8, '0') || '-1111-4222-8333-444455556666'
		FROM generate_series(0, $3::bigint - 1) AS i`,
		from.Unix(), int64(to.Sub(from)/time.Second), n)
	if err != nil {
		t.Fatal(err)
	}
}

// TestPruneBacklog sets a retention on a database with a large backlog of expired events and
// keeps writing live batches: each write deletes the oldest chunk of the backlog and no more,
// so none takes long, until the backlog is gone; the recent events stay.
func TestPruneBacklog(t *testing.T) {
	const (
		retention = 90 * 24 * time.Hour
		recent    = 10_000 // events within the retention, inserted directly
		live      = 100    // records in each live batch
	)
	old := *backlog
	s := open(t, newDatabase(t, server.Get(t)), "events", "retention", "90d")
	prepare(t, s)
	now := time.Now()
	cutoff := now.Add(-retention)
	from, to := now.AddDate(-3, 0, 0), now.Add(-retention-24*time.Hour)
	spreadEvents(t, s, old, from, to)
	spreadEvents(t, s, recent, now.Add(-retention+24*time.Hour), now)

	var took []time.Duration // of each write
	writes := 0
	for left := true; left; {
		if limit := old/table.PruneChunk + 1; writes == limit {
			t.Fatalf("expected no expired events after %d writes, got %s", limit,
				rows(t, s, fmt.Sprintf(`SELECT count(*) FROM events WHERE time < to_timestamp(%d)`, cutoff.Unix())))
		}
		records := make([]sink.Record, live)
		for i := range records {
			records[i] = sink.Record{Time: time.Now(), Version: "2024.06", Instance: fmt.Sprintf("%08d-1111-4222-8333-444455556666", i)}
		}
		ctx, cancel := context.WithTimeout(t.Context(), writeTimeout)
		start := time.Now()
		err := s.Write(ctx, sink.Batch{ID: fmt.Sprint("live-", writes), Records: records})
		took = append(took, time.Since(start))
		cancel()
		if err != nil {
			t.Fatalf("write %d: expected no error, got %v after %s", writes, err, took[writes])
		}
		writes++
		var oldest time.Time
		if err := s.pool.QueryRow(testContext(t), `SELECT min(time) FROM events`).Scan(&oldest); err != nil {
			t.Fatal(err)
		}
		if most := writes * table.PruneChunk; most < old && oldest.After(eventTime(most, old, from, to)) {
			t.Fatalf("write %d: expected at most %d events deleted, the oldest left at %s, got the oldest at %s",
				writes, most, eventTime(most, old, from, to), oldest)
		}
		left = oldest.Before(cutoff)
	}
	slices.Sort(took)
	longest := took[len(took)-1]
	t.Logf("%d expired events pruned in %d writes; longest write %s, median %s", old, writes, longest, took[len(took)/2])
	if longest > longestWrite {
		t.Errorf("expected every write within %s, got one of %s", longestWrite, longest)
	}
	checkRows(t, s, `SELECT count(*) FROM events`, fmt.Sprint(recent+writes*live))
}
