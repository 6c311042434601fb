package sqlite

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailustats/mailustats/internal/testutil/sqltest"
	"github.com/mailustats/mailustats/plugin/history"
	"github.com/mailustats/mailustats/plugin/sink"
)

// baseDay is the first day of the generated records: 2024-01-01.
const baseDay = 19723

// generate returns records of instances over span days from baseDay: restarts every 1 to 60
// days, several versions a day, downgrades, records in the same second, gaps longer than a
// year, and now and then an instance ID in upper case, which is the same instance.
func generate(rng *rand.Rand, instances int, span int32) []sink.Record {
	versions := []string{"1.9", "2.0", "2024.06", "master", "19"}
	var out []sink.Record
	add := func(inst, version string, unix int64) {
		if rng.IntN(20) == 0 {
			inst = strings.ToUpper(inst)
		}
		out = append(out, sink.Record{Time: time.Unix(unix, 0), Version: version, Instance: inst})
	}
	for i := range instances {
		inst := numbered(i)
		day := rng.Int32N(span / 2)
		v := rng.IntN(len(versions))
		for day < span {
			midnight := int64(baseDay+day) * 86400
			at := midnight + rng.Int64N(86400)
			switch rng.IntN(10) {
			case 0: // a downgrade, or any other version
				v = rng.IntN(len(versions))
			case 1, 2: // an upgrade
				v = min(v+1, len(versions)-1)
			}
			add(inst, versions[v], at)
			switch rng.IntN(6) {
			case 0: // the same second, maybe another version
				add(inst, versions[rng.IntN(len(versions))], at)
			case 1: // later the same day with another version
				add(inst, versions[rng.IntN(len(versions))], min(at+rng.Int64N(3600), midnight+86399))
			}
			gap := 1 + rng.Int32N(60)
			if rng.IntN(40) == 0 {
				gap = 366 + rng.Int32N(100)
			}
			day += gap
		}
	}
	return out
}

// rowsOf merges records into the rows of the daily view, by instance.
func rowsOf(records []sink.Record) map[string][]viewRow {
	type key struct {
		inst    string
		day     int32
		version string
	}
	merged := map[key]viewRow{}
	for _, r := range records {
		day, _ := history.DayNumber(r.Time)
		k := key{strings.ToLower(r.Instance), day, r.Version}
		row, ok := merged[k]
		if !ok {
			row = viewRow{day: day, version: r.Version, firstSeen: r.Time.Unix(), lastSeen: r.Time.Unix()}
		}
		row.hits++
		row.firstSeen, row.lastSeen = min(row.firstSeen, r.Time.Unix()), max(row.lastSeen, r.Time.Unix())
		merged[k] = row
	}
	out := map[string][]viewRow{}
	for k, r := range merged {
		out[k.inst] = append(out[k.inst], r)
	}
	for _, rows := range out {
		slices.SortFunc(rows, func(a, b viewRow) int { return cmp.Or(cmp.Compare(a.day, b.day), cmp.Compare(a.version, b.version)) })
	}
	return out
}

// TestWriteMatchesDefinitions checks the writes of random histories (checkWrites).
func TestWriteMatchesDefinitions(t *testing.T) {
	for seed := range uint64(6) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 2))
			checkWrites(t, rng, generate(rng, 20, 700), seed%2 == 0)
		})
	}
}

// TestWriteRepeatsMatchDefinitions is TestWriteMatchesDefinitions with every record announced
// again up to three times later the same day, with the same version, as most records are under
// load: batches that only add to the one sighting of an instance's last day, and batches that
// also bring another version or day.
func TestWriteRepeatsMatchDefinitions(t *testing.T) {
	for seed := range uint64(6) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 3))
			var records []sink.Record
			for _, r := range generate(rng, 20, 200) {
				records = append(records, r)
				midnight := r.Time.Truncate(24 * time.Hour)
				for range rng.IntN(4) {
					at := min(r.Time.Unix()+rng.Int64N(4*3600), midnight.Unix()+86399)
					records = append(records, sink.Record{Time: time.Unix(at, 0), Version: r.Version, Instance: r.Instance})
				}
			}
			checkWrites(t, rng, records, seed%2 == 0)
		})
	}
}

// checkWrites writes records in random batches, some retried, in time order or in any order,
// and checks the rows against the records, the aggregates against their definitions, and that
// Rebuild finds them as they are.
func checkWrites(t *testing.T, rng *rand.Rand, records []sink.Record, inOrder bool) {
	t.Helper()
	if inOrder {
		slices.SortFunc(records, func(a, b sink.Record) int { return a.Time.Compare(b.Time) })
	} else {
		rng.Shuffle(len(records), func(i, j int) { records[i], records[j] = records[j], records[i] })
	}
	s := open(t, filepath.Join(t.TempDir(), "stats.db"))
	for i, rest := 0, records; len(rest) > 0; i++ {
		n := min(len(rest), 1+rng.IntN(40))
		b := batch(fmt.Sprint(i), rest[:n]...)
		write(t, s, b)
		if rng.IntN(5) == 0 {
			write(t, s, b) // a retry
		}
		rest = rest[n:]
	}
	if got, want := viewRows(t, s.db), rowsOf(records); !reflect.DeepEqual(got, want) {
		t.Errorf("daily rows: expected\n%v\ngot\n%v", want, got)
	}
	checkAggregates(t, s.db)
	checkRebuild(t, s.db)
}

// TestWriteHistory writes an instance's history out of order: several versions a day, in the
// same second, a downgrade, then a day before all the others.
func TestWriteHistory(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "stats.db"))
	var c newCounts
	s.OnNewInstances(c.add)
	day := func(d string) int32 {
		n, err := history.ParseDay(d)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	write(t, s, batch("1",
		rec("2025-03-02T10:00:00Z", "1.0", instA), rec("2025-03-02T12:00:00Z", "2.0", instA),
		rec("2025-03-02T10:00:00Z", "2.0", instB), rec("2025-03-02T10:00:00Z", "1.0", instB)))
	c.check(t, "two new instances", 2)
	write(t, s, batch("2", rec("2025-03-04T10:00:00Z", "1.0", instA)))
	c.check(t, "a downgrade")
	got := storedAggregates(t, s.db, 0)
	if want := (history.State{FirstDay: day("2025-03-02"), LastDay: day("2025-03-04"), Days: 2, LastVersion: "1.0"}); got.states[instA] != want {
		t.Errorf("state of A after a downgrade: expected %+v, got %+v", want, got.states[instA])
	}
	// In the same second, the greater version is the last.
	if want := (history.State{FirstDay: day("2025-03-02"), LastDay: day("2025-03-02"), Days: 1, LastVersion: "2.0"}); got.states[instB] != want {
		t.Errorf("state of B: expected %+v, got %+v", want, got.states[instB])
	}
	checkAggregates(t, s.db)

	before := tableContents(t, s.db)
	write(t, s, batch("2", rec("2025-03-04T10:00:00Z", "1.0", instA)))
	c.check(t, "a retried batch")
	if after := tableContents(t, s.db); !reflect.DeepEqual(after, before) {
		t.Errorf("a retried batch changed the tables: expected\n%v\ngot\n%v", before, after)
	}

	write(t, s, batch("3", rec("2025-03-01T23:00:00Z", "0.9", instA), rec("2025-03-03T01:00:00Z", "0.9", instB)))
	c.check(t, "old days of known instances")
	got = storedAggregates(t, s.db, 0)
	if want := []history.Change{
		{Day: day("2025-03-02"), From: "0.9", To: "1.0"},
		{Day: day("2025-03-02"), From: "1.0", To: "2.0"},
		{Day: day("2025-03-04"), From: "2.0", To: "1.0"},
	}; !reflect.DeepEqual(got.changes[instA], want) {
		t.Errorf("changes of A: expected %v, got %v", want, got.changes[instA])
	}
	if want := map[int32]history.DayCount{
		day("2025-03-01"): {Seen: 1, New: 1},
		day("2025-03-02"): {Seen: 2, New: 1},
		day("2025-03-03"): {Seen: 1},
		day("2025-03-04"): {Seen: 1},
	}; !reflect.DeepEqual(got.days, want) {
		t.Errorf("day counts: expected %v, got %v", want, got.days)
	}
	checkAggregates(t, s.db)
	checkRebuild(t, s.db)
}

func TestWriteRefusesOtherKind(t *testing.T) {
	const digest = "0b6f5c2e6f0e4d559a435d1e5a3c7a01"
	for _, tc := range []struct {
		first, other, want string
	}{
		{instA, digest, "the database holds raw instance IDs; this server stores hash_ids digests"},
		{digest, instA, "the database holds hash_ids digests; this server stores raw instance IDs"},
	} {
		path := filepath.Join(t.TempDir(), "stats.db")
		s := open(t, path)
		write(t, s, batch("1", rec("2025-03-01T10:00:00Z", "2.0", tc.first)))
		err := s.Write(t.Context(), batch("2", rec("2025-03-01T10:00:00Z", "2.0", tc.other)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("expected %q, got %v", tc.want, err)
		}
		// Another process finds the kind in the database.
		err = open(t, path).Write(t.Context(), batch("3", rec("2025-03-01T10:00:00Z", "2.0", tc.other)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("another sink: expected %q, got %v", tc.want, err)
		}
		write(t, s, batch("4", rec("2025-03-02T10:00:00Z", "3.0", tc.first)))
		checkRows(t, "daily rows", sqltest.Query(t, s.db, `SELECT day, version, instance FROM daily ORDER BY day`),
			[][]any{{"2025-03-01", "2.0", tc.first}, {"2025-03-02", "3.0", tc.first}})
		checkRows(t, "batches", sqltest.Query(t, s.db, `SELECT id FROM batches ORDER BY id`), [][]any{{"1"}, {"4"}})
	}
	s := open(t, filepath.Join(t.TempDir(), "stats.db"))
	err := s.Write(t.Context(), batch("1", rec("2025-03-01T10:00:00Z", "2.0", instA), rec("2025-03-01T10:00:00Z", "2.0", digest)))
	if err == nil || !strings.Contains(err.Error(), "both") {
		t.Errorf("a batch of both kinds: expected an error, got %v", err)
	}
	if err := s.Write(t.Context(), batch("2", rec("2025-03-01T10:00:00Z", "2.0", "not an ID"))); err == nil {
		t.Error("an instance ID of neither kind: expected an error, got none")
	}
}
