package postgres

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mailustats/mailustats/plugin/sink"
	"github.com/mailustats/mailustats/plugin/sink/table"
)

const (
	instA = "0b7c3d3e-1111-4222-8333-444455556666"
	instB = "9f00aa01-2222-4333-8444-555566667777"
)

func TestWriteDaily(t *testing.T) {
	t.Parallel()
	s := open(t, newDatabase(t, server.Get(t)))
	write(t, s, sink.Batch{ID: "1", Records: []sink.Record{
		rec(t, "2024-06-30T23:59:59Z", "2024.06", instA),
		rec(t, "2024-07-01T00:00:00Z", "2024.06", instA),
		rec(t, "2024-06-30T12:00:00Z", "2024.06", instA),
		rec(t, "2024-07-01T01:30:00+02:00", "2024.06", instA), // 23:30 UTC the day before
		rec(t, "2024-06-30T10:00:00Z", "master", instA),
		rec(t, "2024-07-01T00:00:00Z", "2024.06", instB),
		rec(t, "2024-07-01T00:00:00Z", "2024.06", instB),
	}})
	checkRows(t, s, daily,
		"2024-06-30 2024.06 "+instA+" 3 2024-06-30T12:00:00Z 2024-06-30T23:59:59Z",
		"2024-06-30 master "+instA+" 1 2024-06-30T10:00:00Z 2024-06-30T10:00:00Z",
		"2024-07-01 2024.06 "+instA+" 1 2024-07-01T00:00:00Z 2024-07-01T00:00:00Z",
		"2024-07-01 2024.06 "+instB+" 2 2024-07-01T00:00:00Z 2024-07-01T00:00:00Z",
	)
	checkRows(t, s, events) // none without the events option
}

func TestWriteAccumulates(t *testing.T) {
	t.Parallel()
	s := open(t, newDatabase(t, server.Get(t)))
	write(t, s, sink.Batch{ID: "1", Records: []sink.Record{
		rec(t, "2024-06-30T10:00:00Z", "2024.06", instA),
		rec(t, "2024-06-30T11:00:00Z", "2024.06", instA),
	}})
	write(t, s, sink.Batch{ID: "2", Records: []sink.Record{
		rec(t, "2024-06-30T12:00:00Z", "2024.06", instA),
		rec(t, "2024-06-30T09:00:00Z", "2024.06", instA),
		rec(t, "2024-06-30T10:30:00Z", "2024.06", instB),
	}})
	write(t, s, sink.Batch{ID: "3", Records: []sink.Record{
		rec(t, "2024-06-30T10:30:00Z", "2024.06", instA), // neither first nor last
	}})
	checkRows(t, s, daily,
		"2024-06-30 2024.06 "+instA+" 5 2024-06-30T09:00:00Z 2024-06-30T12:00:00Z",
		"2024-06-30 2024.06 "+instB+" 1 2024-06-30T10:30:00Z 2024-06-30T10:30:00Z",
	)
}

func TestWriteRetriedBatch(t *testing.T) {
	t.Parallel()
	s := open(t, newDatabase(t, server.Get(t)), "events")
	records := []sink.Record{
		rec(t, "2024-06-30T10:00:00Z", "2024.06", instA),
		rec(t, "2024-06-30T11:00:00Z", "2024.06", instA),
	}
	write(t, s, sink.Batch{ID: "1", Records: records})
	write(t, s, sink.Batch{ID: "1", Records: records}) // a retry after a lost acknowledgement
	checkRows(t, s, daily, "2024-06-30 2024.06 "+instA+" 2 2024-06-30T10:00:00Z 2024-06-30T11:00:00Z")
	checkRows(t, s, events,
		"2024-06-30T10:00:00Z 2024.06 "+instA,
		"2024-06-30T11:00:00Z 2024.06 "+instA,
	)
	write(t, s, sink.Batch{ID: "2", Records: records}) // the same records again, as a new batch
	checkRows(t, s, daily, "2024-06-30 2024.06 "+instA+" 4 2024-06-30T10:00:00Z 2024-06-30T11:00:00Z")
	checkRows(t, s, `SELECT id FROM batches ORDER BY id`, "1", "2")
}

func TestWriteEvents(t *testing.T) {
	t.Parallel()
	s := open(t, newDatabase(t, server.Get(t)), "events")
	write(t, s, sink.Batch{ID: "1", Records: []sink.Record{
		rec(t, "2024-07-01T00:00:00Z", "2024.06", instB),
		rec(t, "2024-06-30T23:59:59Z", "2024.06", instA),
		rec(t, "2024-07-01T00:00:00Z", "2024.06", instB),
		rec(t, "2024-07-01T02:00:00+02:00", "master", instA),
	}})
	checkRows(t, s, events,
		"2024-06-30T23:59:59Z 2024.06 "+instA,
		"2024-07-01T00:00:00Z 2024.06 "+instB,
		"2024-07-01T00:00:00Z 2024.06 "+instB,
		"2024-07-01T00:00:00Z master "+instA,
	)
	checkRows(t, s, daily,
		"2024-06-30 2024.06 "+instA+" 1 2024-06-30T23:59:59Z 2024-06-30T23:59:59Z",
		"2024-07-01 2024.06 "+instB+" 2 2024-07-01T00:00:00Z 2024-07-01T00:00:00Z",
		"2024-07-01 master "+instA+" 1 2024-07-01T00:00:00Z 2024-07-01T00:00:00Z",
	)
}

func TestWritePrunes(t *testing.T) {
	t.Parallel()
	s := open(t, newDatabase(t, server.Get(t)), "events", "retention", "48h")
	now, _ := time.Parse(time.RFC3339, "2024-07-10T12:00:00Z")
	s.now = func() time.Time { return now }

	// The first write prunes: the event 72 hours old goes, the daily row stays.
	write(t, s, sink.Batch{ID: "1", Records: []sink.Record{
		rec(t, "2024-07-07T12:00:00Z", "2024.06", instA),
		rec(t, "2024-07-10T11:00:00Z", "2024.06", instA),
	}})
	checkRows(t, s, events, "2024-07-10T11:00:00Z 2024.06 "+instA)

	// Within the hour nothing is pruned.
	now = now.Add(30 * time.Minute)
	write(t, s, sink.Batch{ID: "2", Records: []sink.Record{rec(t, "2024-07-08T10:00:00Z", "2024.06", instB)}})
	checkRows(t, s, events,
		"2024-07-08T10:00:00Z 2024.06 "+instB,
		"2024-07-10T11:00:00Z 2024.06 "+instA,
	)

	// An hour later, events from before 2024-07-08T14:00 go.
	now = now.Add(90 * time.Minute)
	write(t, s, sink.Batch{ID: "3", Records: []sink.Record{rec(t, "2024-07-10T13:00:00Z", "2024.06", instB)}})
	checkRows(t, s, events,
		"2024-07-10T11:00:00Z 2024.06 "+instA,
		"2024-07-10T13:00:00Z 2024.06 "+instB,
	)
	checkRows(t, s, `SELECT id FROM batches ORDER BY id`, "1", "2", "3")

	// A day later, so do the batch IDs.
	now = now.Add(25 * time.Hour)
	write(t, s, sink.Batch{ID: "4", Records: []sink.Record{rec(t, "2024-07-11T13:00:00Z", "2024.06", instA)}})
	checkRows(t, s, `SELECT id FROM batches ORDER BY id`, "4")
	checkRows(t, s, daily,
		"2024-07-07 2024.06 "+instA+" 1 2024-07-07T12:00:00Z 2024-07-07T12:00:00Z",
		"2024-07-08 2024.06 "+instB+" 1 2024-07-08T10:00:00Z 2024-07-08T10:00:00Z",
		"2024-07-10 2024.06 "+instA+" 1 2024-07-10T11:00:00Z 2024-07-10T11:00:00Z",
		"2024-07-10 2024.06 "+instB+" 1 2024-07-10T13:00:00Z 2024-07-10T13:00:00Z",
		"2024-07-11 2024.06 "+instA+" 1 2024-07-11T13:00:00Z 2024-07-11T13:00:00Z",
	)
}

func TestWriteWithoutRetentionKeepsEvents(t *testing.T) {
	t.Parallel()
	s := open(t, newDatabase(t, server.Get(t)), "events")
	now, _ := time.Parse(time.RFC3339, "2024-07-10T12:00:00Z")
	s.now = func() time.Time { return now }
	write(t, s, sink.Batch{ID: "1", Records: []sink.Record{rec(t, "2020-01-01T00:00:00Z", "1.9", instA)}})
	now = now.Add(48 * time.Hour)
	write(t, s, sink.Batch{ID: "2", Records: []sink.Record{rec(t, "2024-07-12T12:00:00Z", "2024.06", instA)}})
	checkRows(t, s, events,
		"2020-01-01T00:00:00Z 1.9 "+instA,
		"2024-07-12T12:00:00Z 2024.06 "+instA,
	)
	checkRows(t, s, `SELECT id FROM batches ORDER BY id`, "2")
}

func TestWriteConcurrent(t *testing.T) {
	t.Parallel()
	const (
		sinks      = 2
		goroutines = 3 // per sink
		batches    = 20
		size       = 60 // records a batch
	)
	dsn := newDatabase(t, server.Get(t))
	var wg sync.WaitGroup
	errs := make(chan error, sinks*goroutines*batches)
	for i := range sinks {
		s := open(t, dsn, "events")
		prepare(t, s)
		for g := range goroutines {
			wg.Go(func() {
				for b := range batches {
					if err := s.Write(testContext(t), overlapping(fmt.Sprintf("%d-%d-%d", i, g, b), size, g%2 == 1)); err != nil {
						errs <- err
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// overlapping spreads each batch evenly over 12 keys, 5 records each.
	total := sinks * goroutines * batches * size
	s := open(t, dsn)
	checkRows(t, s, `SELECT count(*), sum(hits)::bigint, min(hits), max(hits) FROM daily`, fmt.Sprintf("12 %d %d %d", total, total/12, total/12))
	checkRows(t, s, `SELECT count(*) FROM events`, fmt.Sprint(total))
}

// overlapping is a batch of n records over 2 days, 2 versions and 3 instances, in key order or
// its reverse, so that writers touch the same rows in opposite orders unless sorted.
func overlapping(id string, n int, reverse bool) sink.Batch {
	day := time.Date(2024, 6, 30, 23, 0, 0, 0, time.UTC)
	records := make([]sink.Record, n)
	for i := range records {
		k := i % 12
		if reverse {
			k = 11 - k
		}
		records[i] = sink.Record{
			Time:     day.Add(time.Duration(k/6) * time.Hour),
			Version:  []string{"2024.06", "master"}[k/3%2],
			Instance: []string{instA, instB, "c"}[k%3],
		}
	}
	return sink.Batch{ID: id, Records: records}
}

// newCounts records what a sink reports through OnNewInstances; writes may report at once.
type newCounts struct {
	mu    sync.Mutex
	calls []int
}

func (c *newCounts) add(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, n)
}

// check fails t unless the calls since the last check are want, and starts again.
func (c *newCounts) check(t *testing.T, what string, want ...int) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !reflect.DeepEqual(c.calls, want) {
		t.Errorf("%s: expected new-instance calls %v, got %v", what, want, c.calls)
	}
	c.calls = nil
}

func TestWriteCountsNewInstances(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{nil, {"events"}} {
		t.Run(fmt.Sprint(args), func(t *testing.T) {
			t.Parallel()
			s := open(t, newDatabase(t, server.Get(t)), args...)
			var c newCounts
			s.OnNewInstances(c.add)
			batch := func(id string, records ...sink.Record) sink.Batch { return sink.Batch{ID: id, Records: records} }

			write(t, s, batch("1", rec(t, "2024-06-30T10:00:00Z", "2024.06", instA), rec(t, "2024-06-30T11:00:00Z", "2024.06", instA)))
			c.check(t, "a new instance", 1)
			write(t, s, batch("2", rec(t, "2024-07-01T10:00:00Z", "2024.06", instA)))
			c.check(t, "an instance seen on an earlier day")
			write(t, s, batch("3", rec(t, "2024-07-01T12:00:00Z", "master", instA)))
			c.check(t, "an instance seen with another version")
			write(t, s, batch("4", rec(t, "2024-06-01T12:00:00Z", "2.0", instA)))
			c.check(t, "an instance seen on a later day")

			several := batch("5",
				rec(t, "2024-07-01T10:00:00Z", "2024.06", instB),
				rec(t, "2024-07-02T10:00:00Z", "master", instB),  // the same new instance on two rows
				rec(t, "2024-07-01T10:00:00Z", "2024.06", instA), // known
				rec(t, "2024-07-01T10:00:00Z", "2024.06", "c"),
				rec(t, "2024-07-01T10:00:00Z", "2024.06", "d"),
				rec(t, "2024-07-01T10:00:00Z", "2024.06", "c"),
			)
			write(t, s, several)
			c.check(t, "several new instances in a batch", 3)
			write(t, s, several)
			c.check(t, "a retried batch")

			// Only the skip shows here: the ID is stored, but not the rows of its batch.
			if _, err := s.pool.Exec(testContext(t), `INSERT INTO batches (id) VALUES ('6')`); err != nil {
				t.Fatal(err)
			}
			write(t, s, batch("6", rec(t, "2024-07-01T10:00:00Z", "2024.06", "e")))
			c.check(t, "a batch already stored")
			checkRows(t, s, `SELECT count(*) FROM daily WHERE instance = 'e'`, "0")

			var many []sink.Record
			for i := range 1000 {
				in := fmt.Sprintf("instance-%04d", i%500)
				many = append(many, rec(t, "2024-07-01T10:00:00Z", "2024.06", in), rec(t, "2024-07-02T10:00:00Z", "master", in))
			}
			many = append(many, rec(t, "2024-07-03T10:00:00Z", "2024.06", instB))
			write(t, s, batch("7", many...))
			c.check(t, "a large batch", 500)
			checkRows(t, s, `SELECT count(DISTINCT instance) FROM daily`, "504")
		})
	}
}

func TestWriteWithoutNewInstanceCounter(t *testing.T) {
	t.Parallel()
	s := open(t, newDatabase(t, server.Get(t)))
	s.OnNewInstances(nil)
	write(t, s, sink.Batch{ID: "1", Records: []sink.Record{rec(t, "2024-06-30T10:00:00Z", "2024.06", instA)}})
	checkRows(t, s, daily, "2024-06-30 2024.06 "+instA+" 1 2024-06-30T10:00:00Z 2024-06-30T10:00:00Z")
}

// The sink that the root package tells of new instances.
var _ interface{ OnNewInstances(func(int)) } = (*pgSink)(nil)

// TestWriteCountUsesIndex checks that the lookup of new instances probes the index on
// (instance, day) once an instance, instead of reading the whole table.
func TestWriteCountUsesIndex(t *testing.T) {
	t.Parallel()
	s := open(t, newDatabase(t, server.Get(t)))
	day := time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC)
	records := make([]sink.Record, 10000)
	for i := range records {
		records[i] = sink.Record{Time: day, Version: "2024.06", Instance: fmt.Sprintf("%08d-1111-4222-8333-444455556666", i)}
	}
	write(t, s, sink.Batch{ID: "1", Records: records})
	for _, size := range []int{1, 100, 1000} {
		var agg table.Aggregator
		args := append([]any{fmt.Sprint("plan ", size), day}, dailyColumns(agg.Aggregate(records[:size]))...)
		r, err := s.pool.Query(testContext(t), "EXPLAIN (COSTS off) "+writeDailyCount, args...)
		if err != nil {
			t.Fatal(err)
		}
		lines, err := pgx.CollectRows(r, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		plan := strings.Join(lines, "\n")
		if !strings.Contains(plan, "Index Only Scan using daily_instance_day on daily") || strings.Contains(plan, "Seq Scan on daily") {
			t.Errorf("%d instances: expected a lookup through daily_instance_day, got\n%s", size, plan)
		}
	}
}
