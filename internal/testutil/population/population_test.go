package population

import (
	"slices"
	"testing"
	"time"

	"github.com/mailustats/mailustats/plugin/history"
	"github.com/mailustats/mailustats/plugin/sink"
	"github.com/mailustats/mailustats/plugin/sink/table"
)

func TestDeterministic(t *testing.T) {
	a := slices.Collect(Small(3).Records())
	b := slices.Collect(Small(3).Records())
	if !slices.Equal(a, b) {
		t.Error("expected the same records from the same seed")
	}
	if c := slices.Collect(Small(4).Records()); slices.Equal(a, c) {
		t.Error("expected other records from another seed")
	}
}

func TestRecords(t *testing.T) {
	for _, hash := range []bool{false, true} {
		c := Small(1)
		c.HashIDs = hash
		kind := map[bool]string{false: table.KindUUID, true: table.KindHash}[hash]
		var last time.Time
		instances := map[string]bool{}
		for r := range c.Records() {
			if r.Time.Before(last) {
				t.Fatalf("expected records in time order, got %v after %v", r.Time, last)
			}
			last = r.Time
			if r.Time.Before(c.Start) || !r.Time.Before(c.End().AddDate(0, 0, 1)) {
				t.Fatalf("expected records from %v to the end of %v, got %v", c.Start, c.End(), r.Time)
			}
			if _, k, err := table.ParseKey(r.Instance); err != nil || k != kind {
				t.Fatalf("expected an ID of kind %s, got %q (%v)", kind, r.Instance, err)
			}
			instances[r.Instance] = true
		}
		if len(instances) != c.Instances {
			t.Errorf("expected %d instances, got %d", c.Instances, len(instances))
		}
	}
}

func TestBenchmarkSizes(t *testing.T) {
	for _, tc := range []struct{ instances, years int }{{20_000, 3}, {100_000, 5}} {
		c := Benchmark(tc.instances, tc.years)
		if c.Instances != tc.instances || c.Days != 365*tc.years || !c.End().Equal(lastDay) {
			t.Errorf("expected %d instances over %d days to %v, got %+v", tc.instances, 365*tc.years, lastDay, c)
		}
	}
}

// dayRow is what an instance reported on a day: its versions in the order first seen.
type dayRow struct {
	day      int32
	versions []string
	same     bool // two versions in the same second
}

// histories groups records per instance and day.
func histories(records []sink.Record) map[string][]dayRow {
	h := map[string][]dayRow{}
	seen := map[string]map[int32]time.Time{} // per instance and day: the last record's time
	for _, r := range records {
		day, _ := history.DayNumber(r.Time)
		rows := h[r.Instance]
		if n := len(rows); n == 0 || rows[n-1].day != day {
			rows = append(rows, dayRow{day: day})
			if seen[r.Instance] == nil {
				seen[r.Instance] = map[int32]time.Time{}
			}
		}
		last := &rows[len(rows)-1]
		if !slices.Contains(last.versions, r.Version) {
			if len(last.versions) > 0 && seen[r.Instance][day].Equal(r.Time) {
				last.same = true
			}
			last.versions = append(last.versions, r.Version)
		}
		seen[r.Instance][day] = r.Time
		h[r.Instance] = rows
	}
	return h
}

// TestFeatures checks that every small population has what the statistics must get right.
func TestFeatures(t *testing.T) {
	for seed := range uint64(4) {
		features := map[string]int{}
		for _, rows := range histories(slices.Collect(Small(seed).Records())) {
			had := map[string]bool{}
			versions := map[string]bool{}
			var previous string
			run := 1
			for i, r := range rows {
				if len(r.versions) > 1 {
					features["several versions a day"]++
				}
				if r.same {
					features["two versions in the same second"]++
				}
				for _, v := range r.versions {
					if v != previous && had[v] {
						features["back to an older version"]++
					}
					had[v], previous = true, v
					versions[v] = true
				}
				if i > 0 {
					gap := r.day - rows[i-1].day
					switch {
					case gap == 1:
						run++
						if run == 30 {
							features["daily for a month"]++
						}
					case gap > 365:
						features["silent for more than a year"]++
					case gap >= 45:
						features["restarts weeks apart"]++
					}
					if gap > 1 {
						run = 1
					}
				}
			}
			if span := rows[len(rows)-1].day - rows[0].day; span > 365 && len(versions) == 1 && !versions[master] {
				features["never upgraded in a year"]++
			}
			if versions[master] {
				features["master"]++
			}
		}
		for _, f := range []string{
			"several versions a day", "two versions in the same second", "back to an older version",
			"daily for a month", "silent for more than a year", "restarts weeks apart",
			"never upgraded in a year", "master",
		} {
			if features[f] == 0 {
				t.Errorf("seed %d: expected an instance %s, got none", seed, f)
			}
		}
	}
}
