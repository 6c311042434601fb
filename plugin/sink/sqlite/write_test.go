package sqlite

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailustats/mailustats/internal/testutil/sqltest"
	"github.com/mailustats/mailustats/plugin/sink"
	"github.com/mailustats/mailustats/plugin/sink/table"
)

const (
	instA = "0b6f5c2e-6f0e-4d55-9a43-5d1e5a3c7a01"
	instB = "7d3e9b84-2c1f-4a8e-b0d6-93f1c4e2a502"
	instC = "c0000000-0000-4000-8000-00000000000c"
	instD = "d0000000-0000-4000-8000-00000000000d"
	instE = "e0000000-0000-4000-8000-00000000000e"
)

// numbered is the UUID of instance i of many, which sort as their numbers do.
func numbered(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", i) }

// rec is a record at an RFC 3339 time.
func rec(at, version, instance string) sink.Record {
	t, err := time.Parse(time.RFC3339, at)
	if err != nil {
		panic(err)
	}
	return sink.Record{Time: t, Version: version, Instance: instance}
}

func batch(id string, records ...sink.Record) sink.Batch {
	return sink.Batch{ID: id, Records: records}
}

// unix is the unix time of an RFC 3339 time.
func unix(at string) int64 { return rec(at, "", "").Time.Unix() }

func dailyRows(t testing.TB, s *store) [][]any {
	t.Helper()
	return sqltest.Query(t, s.db, `SELECT day, version, instance, hits, first_seen, last_seen FROM daily ORDER BY day, version, instance`)
}

func eventRows(t testing.TB, s *store) [][]any {
	t.Helper()
	return sqltest.Query(t, s.db, `SELECT time, version, instance FROM events ORDER BY rowid`)
}

func count(t testing.TB, s *store, table string) int64 {
	t.Helper()
	return sqltest.Query(t, s.db, `SELECT count(*) FROM `+table)[0][0].(int64)
}

func write(t testing.TB, s *store, b sink.Batch) {
	t.Helper()
	if err := s.Write(t.Context(), b); err != nil {
		t.Fatalf("Write(%s): %v", b.ID, err)
	}
}

func checkRows(t *testing.T, what string, got, want [][]any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("expected %s\n%v\ngot\n%v", what, want, got)
	}
}

// first is a batch across the midnight of 2025-03-01 UTC, with repeats.
var first = batch("first",
	rec("2025-03-01T23:59:59Z", "2024.06", instA),
	rec("2025-03-02T00:00:00Z", "2024.06", instA),
	rec("2025-03-01T12:00:00Z", "2024.06", instA),
	rec("2025-03-02T01:00:00+02:00", "2024.06", instB), // 23:00 UTC, the day before
	rec("2025-03-01T08:00:00Z", "master", instA),
	rec("2025-03-02T00:00:00Z", "2024.06", instA),
)

func TestWriteDaily(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "stats.db"))
	write(t, s, first)
	checkRows(t, "daily rows", dailyRows(t, s), [][]any{
		{"2025-03-01", "2024.06", instA, int64(2), unix("2025-03-01T12:00:00Z"), unix("2025-03-01T23:59:59Z")},
		{"2025-03-01", "2024.06", instB, int64(1), unix("2025-03-01T23:00:00Z"), unix("2025-03-01T23:00:00Z")},
		{"2025-03-01", "master", instA, int64(1), unix("2025-03-01T08:00:00Z"), unix("2025-03-01T08:00:00Z")},
		{"2025-03-02", "2024.06", instA, int64(2), unix("2025-03-02T00:00:00Z"), unix("2025-03-02T00:00:00Z")},
	})

	write(t, s, batch("second",
		rec("2025-03-01T06:00:00Z", "2024.06", instA),
		rec("2025-03-02T10:00:00Z", "2024.06", instA),
		rec("2025-03-01T09:00:00Z", "master", instA),
		rec("2025-03-02T23:59:59Z", "2024.09", instB),
	))
	checkRows(t, "daily rows after a second batch", dailyRows(t, s), [][]any{
		{"2025-03-01", "2024.06", instA, int64(3), unix("2025-03-01T06:00:00Z"), unix("2025-03-01T23:59:59Z")},
		{"2025-03-01", "2024.06", instB, int64(1), unix("2025-03-01T23:00:00Z"), unix("2025-03-01T23:00:00Z")},
		{"2025-03-01", "master", instA, int64(2), unix("2025-03-01T08:00:00Z"), unix("2025-03-01T09:00:00Z")},
		{"2025-03-02", "2024.06", instA, int64(3), unix("2025-03-02T00:00:00Z"), unix("2025-03-02T10:00:00Z")},
		{"2025-03-02", "2024.09", instB, int64(1), unix("2025-03-02T23:59:59Z"), unix("2025-03-02T23:59:59Z")},
	})
	checkRows(t, "events", eventRows(t, s), nil)
}

func TestWriteRetryCountsOnce(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "stats.db"), "events")
	write(t, s, first)
	write(t, s, first)
	checkRows(t, "daily hits", sqltest.Query(t, s.db, `SELECT sum(hits) FROM daily`), [][]any{{int64(6)}})
	if got := count(t, s, "events"); got != 6 {
		t.Errorf("expected 6 events, got %d", got)
	}
	checkRows(t, "batches", sqltest.Query(t, s.db, `SELECT id FROM batches`), [][]any{{"first"}})
}

func TestWriteWithoutIDAlwaysCounts(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "stats.db"))
	b := batch("", rec("2025-03-01T10:00:00Z", "2024.06", instA))
	write(t, s, b)
	write(t, s, b)
	checkRows(t, "daily hits", sqltest.Query(t, s.db, `SELECT sum(hits) FROM daily`), [][]any{{int64(2)}})
	if got := count(t, s, "batches"); got != 0 {
		t.Errorf("expected no batch IDs, got %d", got)
	}
}

func TestWriteEvents(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "stats.db"), "events")
	write(t, s, first)
	checkRows(t, "events", eventRows(t, s), [][]any{
		{unix("2025-03-01T23:59:59Z"), "2024.06", instA},
		{unix("2025-03-02T00:00:00Z"), "2024.06", instA},
		{unix("2025-03-01T12:00:00Z"), "2024.06", instA},
		{unix("2025-03-01T23:00:00Z"), "2024.06", instB},
		{unix("2025-03-01T08:00:00Z"), "master", instA},
		{unix("2025-03-02T00:00:00Z"), "2024.06", instA},
	})
}

// TestWriteLargeBatch writes more rows than one statement carries.
func TestWriteLargeBatch(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "stats.db"), "events")
	n := 2*chunkRows + 7
	records := make([]sink.Record, n)
	for i := range records {
		records[i] = rec("2025-03-01T10:00:00Z", "2024.06", numbered(i))
	}
	write(t, s, batch("large", records...))
	checkRows(t, "daily totals", sqltest.Query(t, s.db, `SELECT count(*), sum(hits), min(instance), max(instance) FROM daily`),
		[][]any{{int64(n), int64(n), numbered(0), numbered(n - 1)}})
	if got := count(t, s, "events"); got != int64(n) {
		t.Errorf("expected %d events, got %d", n, got)
	}
}

// TestWriteUnhurried writes a batch that has time to spare, which rests between statements
// and asks before each rest whether it is still not in a hurry, and then one in a hurry: both
// are stored whole.
func TestWriteUnhurried(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "stats.db"), "events")
	n := 3*chunkRows + 1
	records := make([]sink.Record, n)
	for i := range records {
		records[i] = rec("2025-03-01T10:00:00Z", "19", numbered(i))
	}
	var counted []int
	s.OnNewInstances(func(n int) { counted = append(counted, n) })
	var asked int
	spare := batch("spare", records...)
	spare.Behind = func() bool { asked++; return false }
	write(t, s, spare)
	// Once after each full chunk, but the last statement, of the lookup of the instances, the
	// sightings, the instances, the first days of their versions and the events.
	if want := 5 * (n / chunkRows); asked != want {
		t.Errorf("expected the sink to ask %d times whether it was behind, got %d", want, asked)
	}
	hurried := batch("hurried", records...)
	hurried.Behind = func() bool { return true }
	write(t, s, hurried)
	if want := []int{n}; !reflect.DeepEqual(counted, want) {
		t.Errorf("expected new instances %v, got %v", want, counted)
	}
	checkRows(t, "daily totals", sqltest.Query(t, s.db, `SELECT count(*), sum(hits) FROM daily`), [][]any{{int64(n), int64(2 * n)}})
	if got := count(t, s, "events"); got != int64(2*n) {
		t.Errorf("expected %d events, got %d", 2*n, got)
	}
}

func TestWritePrunes(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "stats.db"), "events", "retention", "48h")
	now := time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	event := func(age time.Duration) sink.Record {
		return sink.Record{Time: now.Add(-age), Version: "2024.06", Instance: instA}
	}
	write(t, s, batch("b1", event(time.Hour), event(30*time.Hour)))
	now = now.Add(30 * time.Minute)       // too soon to prune again
	imported := table.ImportPrefix + "b2" // kept for ever
	write(t, s, batch(imported, event(50*time.Hour)))
	if got := count(t, s, "events"); got != 3 {
		t.Errorf("expected 3 events before the next prune, got %d", got)
	}

	now = now.Add(20 * time.Hour) // events before now-48h go: those 30h and 50h old at writing
	write(t, s, batch("b3", event(0)))
	t0 := time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)
	checkRows(t, "events after pruning", eventRows(t, s), [][]any{
		{t0.Add(-time.Hour).Unix(), "2024.06", instA},
		{now.Unix(), "2024.06", instA},
	})
	checkRows(t, "batches", sqltest.Query(t, s.db, `SELECT id FROM batches ORDER BY at`), [][]any{{"b1"}, {imported}, {"b3"}})

	now = now.Add(5 * time.Hour) // b1 and the import's batch are now more than 24 hours old
	write(t, s, batch("b4", event(0)))
	checkRows(t, "batches after pruning", sqltest.Query(t, s.db, `SELECT id FROM batches ORDER BY at`), [][]any{{imported}, {"b3"}, {"b4"}})
	checkRows(t, "events after pruning again", eventRows(t, s), [][]any{
		{t0.Add(-time.Hour).Unix(), "2024.06", instA},
		{now.Add(-5 * time.Hour).Unix(), "2024.06", instA},
		{now.Unix(), "2024.06", instA},
	})
}

// TestWriteConcurrently writes through two sinks on one file, as the old and new instance do
// during a reload.
func TestWriteConcurrently(t *testing.T) {
	const batches, size = 40, 25
	path := filepath.Join(t.TempDir(), "stats.db")
	sinks := []*store{open(t, path, "events"), open(t, path, "events")}
	var wg sync.WaitGroup
	errs := make([]error, len(sinks))
	for i, s := range sinks {
		wg.Go(func() {
			for j := range batches {
				records := make([]sink.Record, size)
				for k := range records {
					records[k] = rec("2025-03-01T10:00:00Z", "2024.06", numbered(k))
				}
				if err := s.Write(t.Context(), batch(fmt.Sprintf("%d-%d", i, j), records...)); err != nil {
					errs[i] = err
					return
				}
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("sink %d: %v", i, err)
		}
	}
	checkRows(t, "daily totals", sqltest.Query(t, sinks[0].db, `SELECT count(*), sum(hits) FROM daily`),
		[][]any{{int64(size), int64(len(sinks) * batches * size)}})
	if got := count(t, sinks[1], "events"); got != int64(len(sinks)*batches*size) {
		t.Errorf("expected %d events, got %d", len(sinks)*batches*size, got)
	}
}

// TestWriteSearchesKeys checks that the writer's statements over the rows of a batch search
// the tables' keys for each row instead of reading the tables.
func TestWriteSearchesKeys(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "stats.db"))
	write(t, s, first)
	for _, tc := range []struct {
		m    *multiRow
		args []any
		want []string
	}{
		{&s.findKeys, []any{0, []byte("0123456789abcdef")}, []string{"SEARCH i USING INDEX sqlite_autoindex_instances_1 (key=?)",
			"SEARCH s USING PRIMARY KEY (instance=? AND day=?)"}},
		{&s.findSightings, []any{1, 20000}, []string{"SEARCH s USING PRIMARY KEY (instance=? AND day>?)",
			"SEARCH p USING PRIMARY KEY (instance=? AND day<?)"}},
		{&s.findVersionFirst, []any{1, 1}, []string{"SEARCH iv USING PRIMARY KEY (instance=? AND version=?)"}},
		{&s.deleteChanges, []any{1, 20000}, []string{"SEARCH changes USING PRIMARY KEY (instance=?)"}},
	} {
		p := strings.Join(queryPlan(t, s, tc.m.query(1), tc.args...), "\n")
		for _, w := range tc.want {
			if !strings.Contains(p, w) {
				t.Errorf("%s: expected %q in the plan, got\n%s", tc.m.head, w, p)
			}
		}
		for _, table := range []string{"instances", "sightings", "instance_versions", "changes"} {
			if strings.Contains(p, "SCAN "+table) {
				t.Errorf("%s: expected no scan of %s, got\n%s", tc.m.head, table, p)
			}
		}
	}
}

func queryPlan(t *testing.T, s *store, q string, args ...any) []string {
	t.Helper()
	var plan []string
	for _, r := range sqltest.Query(t, s.db, "EXPLAIN QUERY PLAN "+q, args...) {
		plan = append(plan, r[3].(string))
	}
	return plan
}

// newCounts records what a sink reports through OnNewInstances.
type newCounts struct{ calls []int }

func (c *newCounts) add(n int) { c.calls = append(c.calls, n) }

// check fails t unless the calls since the last check are want, and starts again.
func (c *newCounts) check(t *testing.T, what string, want ...int) {
	t.Helper()
	if !reflect.DeepEqual(c.calls, want) {
		t.Errorf("%s: expected new-instance calls %v, got %v", what, want, c.calls)
	}
	c.calls = nil
}

func TestWriteCountsNewInstances(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "stats.db"))
	var c newCounts
	s.OnNewInstances(c.add)

	write(t, s, batch("1", rec("2025-03-01T10:00:00Z", "2024.06", instA), rec("2025-03-01T11:00:00Z", "2024.06", instA)))
	c.check(t, "a new instance", 1)
	write(t, s, batch("2", rec("2025-03-02T10:00:00Z", "2024.06", instA)))
	c.check(t, "an instance seen on an earlier day")
	write(t, s, batch("3", rec("2025-03-02T12:00:00Z", "master", instA)))
	c.check(t, "an instance seen with another version")
	write(t, s, batch("4", rec("2025-02-01T12:00:00Z", "2.0", instA)))
	c.check(t, "an instance seen on a later day")

	several := batch("5",
		rec("2025-03-02T10:00:00Z", "2024.06", instB),
		rec("2025-03-03T10:00:00Z", "master", instB),  // the same new instance on two rows
		rec("2025-03-02T10:00:00Z", "2024.06", instA), // known
		rec("2025-03-02T10:00:00Z", "2024.06", instC),
		rec("2025-03-02T10:00:00Z", "2024.06", instD),
		rec("2025-03-02T10:00:00Z", "2024.06", instC),
	)
	write(t, s, several)
	c.check(t, "several new instances in a batch", 3)
	write(t, s, several)
	c.check(t, "a retried batch")

	// A batch whose ID is stored is skipped and counts nothing. Here its rows are not stored,
	// so a count would show even where the instance lookup finds nothing known.
	if _, err := s.db.Exec(`INSERT INTO batches (id, at) VALUES ('6', 0)`); err != nil {
		t.Fatal(err)
	}
	write(t, s, batch("6", rec("2025-03-02T10:00:00Z", "2024.06", instE)))
	c.check(t, "a batch already stored")
	checkRows(t, "daily rows of e", sqltest.Query(t, s.db, `SELECT count(*) FROM daily WHERE instance = ?`, instE), [][]any{{int64(0)}})

	write(t, s, batch("", rec("2025-03-02T10:00:00Z", "2024.06", instE)))
	c.check(t, "a batch without an ID", 1)
}

// TestWriteCountsNewInstancesInChunks counts across several statements, with duplicates and
// known instances spread over them.
func TestWriteCountsNewInstancesInChunks(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "stats.db"))
	var c newCounts
	s.OnNewInstances(c.add)
	var known []sink.Record
	for i := range chunkRows {
		known = append(known, rec("2025-03-01T10:00:00Z", "2024.06", numbered(3*i)))
	}
	write(t, s, batch("known", known...))
	c.check(t, "the first batch", chunkRows)

	const n = 3*chunkRows + 5
	var records []sink.Record
	for i := range n { // instances 0 to n-1, each on two days and two versions
		in := numbered(i)
		records = append(records,
			rec("2025-03-02T10:00:00Z", "2024.06", in), rec("2025-03-02T10:00:00Z", "master", in),
			rec("2025-03-03T10:00:00Z", "2024.06", in))
	}
	write(t, s, batch("mixed", records...))
	c.check(t, "a batch of many statements", n-chunkRows)
}

func TestWriteWithoutNewInstanceCounter(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "stats.db"))
	s.OnNewInstances(nil)
	write(t, s, first)
	checkRows(t, "daily count", sqltest.Query(t, s.db, `SELECT count(*) FROM daily`), [][]any{{int64(4)}})
}

// The sink that the root package tells of new instances.
var _ interface{ OnNewInstances(func(int)) } = (*store)(nil)
