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
	instC = "5ca1ab1e-3333-4444-8555-666677778888"
	instD = "d0d0cafe-4444-4555-8666-777788889999"
	instE = "e0e0beef-5555-4666-8777-88889999aaaa"
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
	imported := table.ImportPrefix + "2" // kept for ever
	write(t, s, sink.Batch{ID: imported, Records: []sink.Record{rec(t, "2024-07-08T10:00:00Z", "2024.06", instB)}})
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
	checkRows(t, s, `SELECT id FROM batches ORDER BY id`, "1", "3", imported)

	// A day later, so do the batch IDs, but for the import's.
	now = now.Add(25 * time.Hour)
	write(t, s, sink.Batch{ID: "4", Records: []sink.Record{rec(t, "2024-07-11T13:00:00Z", "2024.06", instA)}})
	checkRows(t, s, `SELECT id FROM batches ORDER BY id`, "4", imported)
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
			Instance: []string{instA, instB, instC}[k%3],
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

// total is the sum of the counts reported.
func (c *newCounts) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, k := range c.calls {
		n += k
	}
	return n
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
				rec(t, "2024-07-01T10:00:00Z", "2024.06", instC),
				rec(t, "2024-07-01T10:00:00Z", "2024.06", instD),
				rec(t, "2024-07-01T10:00:00Z", "2024.06", instC),
			)
			write(t, s, several)
			c.check(t, "several new instances in a batch", 3)
			write(t, s, several)
			c.check(t, "a retried batch")

			// Only the skip shows here: the ID is stored, but not the rows of its batch.
			if _, err := s.pool.Exec(testContext(t), `INSERT INTO batches (id) VALUES ('6')`); err != nil {
				t.Fatal(err)
			}
			write(t, s, batch("6", rec(t, "2024-07-01T10:00:00Z", "2024.06", instE)))
			c.check(t, "a batch already stored")
			checkRows(t, s, `SELECT count(*) FROM daily WHERE instance = '`+instE+`'`, "0")
			checkRows(t, s, `SELECT count(*) FROM instances WHERE days = 0`, "0") // rolled back

			var many []sink.Record
			for i := range 1000 {
				in := fmt.Sprintf("%08d-1111-4222-8333-444455556666", i%500)
				many = append(many, rec(t, "2024-07-01T10:00:00Z", "2024.06", in), rec(t, "2024-07-02T10:00:00Z", "master", in))
			}
			many = append(many, rec(t, "2024-07-03T10:00:00Z", "2024.06", instB))
			write(t, s, batch("7", many...))
			c.check(t, "a large batch", 500)
			checkRows(t, s, `SELECT count(DISTINCT instance) FROM daily`, "504")
			checkRows(t, s, `SELECT count(*) FROM instances WHERE days > 0`, "504")
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

// TestWriteHistory follows one instance through several versions a day, a downgrade, a batch
// of an earlier day and records in the same second, and checks its state and changes.
func TestWriteHistory(t *testing.T) {
	t.Parallel()
	s := open(t, newDatabase(t, server.Get(t)))
	const state = `SELECT i.first_day, i.last_day, i.days, v.name FROM instances AS i JOIN versions AS v ON v.id = i.last_version WHERE key = decode($$` + "0b7c3d3e111142228333444455556666" + `$$, 'hex')`
	const changes = `SELECT c.day, f.name, t.name FROM changes AS c JOIN versions AS f ON f.id = c.from_version JOIN versions AS t ON t.id = c.to_version ORDER BY 1, 2`
	// 2024-06-30 is day 19904.
	write(t, s, sink.Batch{ID: "1", Records: []sink.Record{
		rec(t, "2024-06-30T12:00:00Z", "master", instA),
		rec(t, "2024-06-30T10:00:00Z", "2024.06", instA),
	}})
	checkRows(t, s, state, "19904 19904 1 master")
	checkRows(t, s, changes, "19904 2024.06 master")

	write(t, s, sink.Batch{ID: "2", Records: []sink.Record{rec(t, "2024-07-02T09:00:00Z", "2024.06", instA)}}) // a downgrade
	checkRows(t, s, state, "19904 19906 2 2024.06")
	checkRows(t, s, changes, "19904 2024.06 master", "19906 master 2024.06")

	write(t, s, sink.Batch{ID: "3", Records: []sink.Record{rec(t, "2024-07-01T08:00:00Z", "1.9", instA)}}) // a day in between, late
	checkRows(t, s, state, "19904 19906 3 2024.06")
	checkRows(t, s, changes, "19904 2024.06 master", "19905 master 1.9", "19906 1.9 2024.06")

	// The same second: the greater version is the final one, and the change goes from the
	// smaller to the greater.
	write(t, s, sink.Batch{ID: "4", Records: []sink.Record{
		rec(t, "2024-07-03T10:00:00Z", "19", instA),
		rec(t, "2024-07-03T10:00:00Z", "18", instA),
	}})
	checkRows(t, s, state, "19904 19907 4 19")
	checkRows(t, s, changes, "19904 2024.06 master", "19905 master 1.9", "19906 1.9 2024.06", "19907 18 19", "19907 2024.06 18")

	write(t, s, sink.Batch{ID: "5", Records: []sink.Record{rec(t, "2024-06-29T23:00:00Z", "master", instA)}}) // a first day earlier
	checkRows(t, s, state, "19903 19907 5 19")
	checkRows(t, s, `SELECT day, instances, new_instances FROM day_counts WHERE (instances, new_instances) <> (0, 0) ORDER BY day`,
		"19903 1 1", "19904 1 0", "19905 1 0", "19906 1 0", "19907 1 0")
	checkRows(t, s, derivedQueries[2], // the first day of each version
		hexOf(instA)+" 1.9 19905", hexOf(instA)+" 18 19907", hexOf(instA)+" 19 19907", hexOf(instA)+" 2024.06 19904", hexOf(instA)+" master 19903")

	// Changes made again name the day they were made before.
	write(t, s, sink.Batch{ID: "6", Records: []sink.Record{
		rec(t, "2024-07-05T10:00:00Z", "master", instA),
		rec(t, "2024-07-06T10:00:00Z", "1.9", instA),
		rec(t, "2024-07-07T10:00:00Z", "2024.06", instA),
	}})
	const previous = `SELECT c.day, f.name, t.name, c.previous_day FROM changes AS c
JOIN versions AS f ON f.id = c.from_version JOIN versions AS t ON t.id = c.to_version WHERE c.previous_day IS NOT NULL ORDER BY 1, 2`
	checkRows(t, s, previous, "19910 master 1.9 19905", "19911 1.9 2024.06 19906")

	// A day in between, late, makes a change before one that now repeats it.
	write(t, s, sink.Batch{ID: "7", Records: []sink.Record{
		rec(t, "2024-07-04T10:00:00Z", "master", instA),
		rec(t, "2024-07-04T11:00:00Z", "1.9", instA),
	}})
	checkRows(t, s, previous, "19908 master 1.9 19905", "19910 master 1.9 19908", "19911 1.9 2024.06 19906")
	checkRows(t, s, derivedQueries[6], // day_changes
		"19904 2024.06 master 1", "19904 master 2024.06 1", "19905 master 1.9 1", "19906 1.9 2024.06 1",
		"19907 18 19 1", "19907 2024.06 18 1", "19908 19 master 1", "19908 master 1.9 1", "19909 1.9 master 1",
		"19910 master 1.9 1", "19911 1.9 2024.06 1")
	checkRebuilt(t, s)
}

// TestWriteRefusesOtherKind refuses a batch whose instance IDs are not of the kind the
// database holds, and a batch of both kinds.
func TestWriteRefusesOtherKind(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ first, then, why string }{
		{instA, hexOf(instB), "the database holds raw instance IDs; this server stores hash_ids digests"},
		{hexOf(instA), instB, "the database holds hash_ids digests; this server stores raw instance IDs"},
	} {
		s := open(t, newDatabase(t, server.Get(t)))
		write(t, s, sink.Batch{ID: "1", Records: []sink.Record{rec(t, "2024-06-30T10:00:00Z", "19", tc.first)}})
		err := s.Write(testContext(t), sink.Batch{ID: "2", Records: []sink.Record{rec(t, "2024-06-30T10:00:00Z", "19", tc.then)}})
		if err == nil || err.Error() != tc.why {
			t.Errorf("%s after %s: expected %q, got %v", tc.then, tc.first, tc.why, err)
		}
		checkRows(t, s, `SELECT instance FROM daily`, tc.first)
		checkRows(t, s, `SELECT id FROM batches`, "1")
		checkRows(t, s, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'`, "0")
		write(t, s, sink.Batch{ID: "3", Records: []sink.Record{rec(t, "2024-06-30T11:00:00Z", "19", tc.first)}})
	}
	s := open(t, newDatabase(t, server.Get(t)))
	err := s.Write(testContext(t), sink.Batch{ID: "1", Records: []sink.Record{
		rec(t, "2024-06-30T10:00:00Z", "19", instA), rec(t, "2024-06-30T10:00:00Z", "19", hexOf(instB)),
	}})
	if err == nil || !strings.Contains(err.Error(), "both raw instance IDs and hash_ids digests") {
		t.Errorf("a batch of both kinds: expected an error, got %v", err)
	}
}

// TestWriteLoadsByIndex checks that loading what the database holds of a batch's instances
// probes the primary keys of sightings and instance_versions once an instance, instead of
// reading the whole tables.
func TestWriteLoadsByIndex(t *testing.T) {
	t.Parallel()
	s := open(t, newDatabase(t, server.Get(t)))
	day := time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC)
	records := make([]sink.Record, 10000)
	for i := range records {
		records[i] = sink.Record{Time: day.AddDate(0, 0, i%3), Version: "2024.06", Instance: fmt.Sprintf("%08d-1111-4222-8333-444455556666", i/3)}
	}
	write(t, s, sink.Batch{ID: "1", Records: records})
	checkRows(t, s, "SHOW plan_cache_mode", "force_custom_plan") // as the sink's statements run
	if _, err := s.pool.Exec(testContext(t), "ANALYZE"); err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{1, 100, 1000} {
		keys, days, versions := make([][]byte, size), make([]int32, size), make([]string, size)
		for i := range keys {
			key, _, err := table.ParseKey(records[3*i].Instance)
			if err != nil {
				t.Fatal(err)
			}
			keys[i], days[i], versions[i] = key[:], 19905, "2024.06"
		}
		for _, q := range []struct {
			sql   string
			args  []any
			index string
		}{
			{loadSightings, []any{keys, days}, "sightings_pkey"},
			{loadVersionFirst, []any{keys, versions}, "instance_versions_pkey"},
		} {
			r, err := s.pool.Query(testContext(t), "EXPLAIN (COSTS off) "+q.sql, q.args...)
			if err != nil {
				t.Fatal(err)
			}
			lines, err := pgx.CollectRows(r, pgx.RowTo[string])
			if err != nil {
				t.Fatal(err)
			}
			plan := strings.Join(lines, "\n")
			if !strings.Contains(plan, "using "+q.index) || strings.Contains(plan, "Seq Scan on sightings") || strings.Contains(plan, "Seq Scan on instance_versions") {
				t.Errorf("%d instances: expected lookups through %s, got\n%s", size, q.index, plan)
			}
		}
	}
}

// TestWriteSameKeyWrittenOtherwise merges the rows of an instance ID written in upper and lower
// case, which are one key.
func TestWriteSameKeyWrittenOtherwise(t *testing.T) {
	t.Parallel()
	s := open(t, newDatabase(t, server.Get(t)))
	upper := strings.ToUpper(instA)
	write(t, s, sink.Batch{ID: "1", Records: []sink.Record{
		rec(t, "2024-06-30T10:00:00Z", "19", instA),
		rec(t, "2024-06-30T11:00:00Z", "19", upper),
		rec(t, "2024-07-01T09:00:00Z", "19", upper),
		rec(t, "2024-07-01T08:00:00Z", "19", instA),
	}})
	checkRows(t, s, daily,
		"2024-06-30 19 "+instA+" 2 2024-06-30T10:00:00Z 2024-06-30T11:00:00Z",
		"2024-07-01 19 "+instA+" 2 2024-07-01T08:00:00Z 2024-07-01T09:00:00Z",
	)
	checkRebuilt(t, s)
}
