package sqlite

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mailustats/mailustats/internal/testutil/sqltest"
	"github.com/mailustats/mailustats/plugin/sink"
	"github.com/mailustats/mailustats/plugin/sink/table"
)

// Bounds of TestPruneBacklog: the timeout of one write, as the worker sets it (plugin/sink), and
// the longest a write may take, the busy timeout, so that a second writer on the file, waiting
// for this one's lock, never gives up.
const (
	writeTimeout = 30 * time.Second
	longestWrite = busyTimeout
)

// backlog is how many expired events TestPruneBacklog starts with: years of events kept before
// a retention was set, 20 chunks by default; the README's figures come from
// -args -backlog 2000000.
var backlog = flag.Int("backlog", 200_000, "the expired events of TestPruneBacklog")

// eventTime is the time of event i of n that spreadEvents spreads from from to to.
func eventTime(i, n int, from, to time.Time) int64 {
	return from.Unix() + int64(i)*int64(to.Sub(from)/time.Second)/int64(n)
}

// spreadEvents inserts n events directly, at the times of eventTime, over 50,000 instances.
func spreadEvents(t testing.TB, db *sql.DB, n int, from, to time.Time) {
	t.Helper()
	_, err := db.Exec(`WITH RECURSIVE i (n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM i WHERE n + 1 < ?)
		INSERT INTO events (time, version, instance)
		SELECT ? + n * ? / ?, '2024.06', printf('00000000-0000-4000-8000-%012d', n % 50000) FROM i`,
		n, from.Unix(), int64(to.Sub(from)/time.Second), n)
	if err != nil {
		t.Fatal(err)
	}
}

// TestPruneBacklog sets a retention on a database with a large backlog of expired events and
// keeps writing live batches: each write deletes the oldest chunk of the backlog and no more,
// so none holds the write lock for long, until the backlog is gone; the recent events stay.
func TestPruneBacklog(t *testing.T) {
	const (
		retention = 90 * 24 * time.Hour
		recent    = 10_000 // events within the retention, inserted directly
		live      = 100    // records in each live batch
	)
	old := *backlog
	s := open(t, filepath.Join(t.TempDir(), "stats.db"), "events", "retention", "90d")
	now := time.Now()
	cutoff := now.Add(-retention).Unix()
	from, to := now.AddDate(-3, 0, 0), now.Add(-retention-24*time.Hour)
	spreadEvents(t, s.db, old, from, to)
	spreadEvents(t, s.db, recent, now.Add(-retention+24*time.Hour), now)

	var took []time.Duration // of each write
	writes := 0
	for left := true; left; {
		if limit := old/table.PruneChunk + 1; writes == limit {
			t.Fatalf("expected no expired events after %d writes, got %d", limit,
				sqltest.Query(t, s.db, `SELECT count(*) FROM events WHERE time < ?`, cutoff)[0][0])
		}
		records := make([]sink.Record, live)
		for i := range records {
			records[i] = sink.Record{Time: time.Now(), Version: "2024.06", Instance: numbered(i)}
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
		oldest := sqltest.Query(t, s.db, `SELECT min(time) FROM events`)[0][0].(int64)
		if most := writes * table.PruneChunk; most < old && oldest > eventTime(most, old, from, to) {
			t.Fatalf("write %d: expected at most %d events deleted, the oldest left at %d, got the oldest at %d",
				writes, most, eventTime(most, old, from, to), oldest)
		}
		left = oldest < cutoff
	}
	slices.Sort(took)
	longest := took[len(took)-1]
	t.Logf("%d expired events pruned in %d writes; longest write %s, median %s", old, writes, longest, took[len(took)/2])
	if longest > longestWrite {
		t.Errorf("expected every write within %s, got one of %s", longestWrite, longest)
	}
	if got, want := count(t, s, "events"), int64(recent+writes*live); got != want {
		t.Errorf("expected %d recent events kept, got %d", want, got)
	}
}
