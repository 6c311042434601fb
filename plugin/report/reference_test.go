package report_test

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/mailustats/mailustats/internal/testutil/population"
	"github.com/mailustats/mailustats/plugin/report"
	"github.com/mailustats/mailustats/plugin/sink"
)

// TestStoreReference compares every Store method with a brute-force count in Go of the records
// of random populations, written through each backend's sink: over windows of the last days
// (the aggregates), windows that end before the last day (Summary from the sightings), the
// whole history, and beyond its ends; trends of the kept windows and of others.
func TestStoreReference(t *testing.T) {
	for _, b := range storeBackends {
		t.Run(b.name, func(t *testing.T) {
			for seed := range uint64(4) {
				t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
					t.Parallel()
					c := population.Small(seed)
					c.HashIDs = seed%2 == 1
					records := slices.Collect(c.Records())
					ref := newReference(records)
					if ref.ties() == 0 {
						t.Fatal("expected rows of an instance seen last at the same second")
					}
					s := b.open(t, records)
					rng := rand.New(rand.NewPCG(seed, 2))
					checkReference(t, s, ref, rng, dayNumber(c.End()))
				})
			}
		})
	}
}

// checkReference compares each method of s with ref over random windows; last is the last day
// of the records, "today".
func checkReference(t *testing.T, s *report.Store, ref *reference, rng *rand.Rand, last int32) {
	ctx := t.Context()
	first, ok, err := s.FirstDay(ctx)
	if err != nil || !ok || first != dayString(ref.first) {
		t.Fatalf("first day: expected %s, got %q, %v, %v", dayString(ref.first), first, ok, err)
	}
	var filtered, fallbacks int // cases where min_days leaves out some instances but not all; past windows
	var repeated int            // changes an instance made again in the window
	for _, w := range referenceWindows(rng, ref.first, last) {
		all := ref.summary(w, 1).Instances
		for _, minDays := range []int{0, 1, 2, 3, 5} {
			got, err := s.Summary(ctx, w, minDays)
			if err != nil {
				t.Fatalf("summary %v, min_days %d: %v", w, minDays, err)
			}
			expected := ref.summary(w, minDays)
			if !reflect.DeepEqual(got, expected) {
				t.Errorf("summary %v, min_days %d: expected %+v, got %+v", w, minDays, expected, got)
			}
			if 0 < expected.Instances && expected.Instances < all {
				filtered++
			}
		}
		if w.To < dayString(last) && all > 0 {
			fallbacks++
		}
		daily, err := s.Daily(ctx, w)
		if err != nil {
			t.Fatalf("daily %v: %v", w, err)
		}
		if expected := ref.daily(w); !reflect.DeepEqual(daily, expected) {
			t.Errorf("daily %v: expected\n\t%+v\ngot\n\t%+v", w, expected, daily)
		}
		added, err := s.New(ctx, w)
		if err != nil {
			t.Fatalf("new %v: %v", w, err)
		}
		if expected := ref.new(w); !reflect.DeepEqual(added, expected) {
			t.Errorf("new %v: expected\n\t%+v\ngot\n\t%+v", w, expected, added)
		}
		repeated += ref.repeated(w)
		upgrades, err := s.Upgrades(ctx, w)
		if err != nil {
			t.Fatalf("upgrades %v: %v", w, err)
		}
		if expected := ref.upgrades(w); !reflect.DeepEqual(upgrades, expected) {
			t.Errorf("upgrades %v: expected %+v, got %+v", w, expected, upgrades)
		}
	}
	if filtered == 0 || fallbacks == 0 || repeated == 0 {
		t.Errorf("expected cases where min_days leaves out some instances (%d), windows before the last day (%d) "+
			"and changes made again in a window (%d)", filtered, fallbacks, repeated)
	}
	whole := report.Window{From: dayString(ref.first), To: dayString(last)}
	for _, tc := range referenceTrends(rng, ref.first, last, whole) {
		got, err := s.Trend(ctx, tc.w, tc.days, tc.step, tc.minDays)
		if err != nil {
			t.Fatalf("trend %v of %d days every %d, min_days %d: %v", tc.w, tc.days, tc.step, tc.minDays, err)
		}
		if expected := ref.trend(tc.w, tc.days, tc.step, tc.minDays); !reflect.DeepEqual(got, expected) {
			t.Errorf("trend %v of %d days every %d, min_days %d: expected\n\t%+v\ngot\n\t%+v",
				tc.w, tc.days, tc.step, tc.minDays, expected, got)
		}
	}
}

// referenceWindows are the whole history, the last days, past windows of a day to a year, and
// windows beyond both ends of the history.
func referenceWindows(rng *rand.Rand, first, last int32) []report.Window {
	span := func(from, to int32) report.Window { return report.Window{From: dayString(from), To: dayString(to)} }
	windows := []report.Window{
		span(first, last),
		span(first-20, first-1),
		span(last+1, last+10),
		span(first-5, first+5),
		span(last-3, last+3),
	}
	for _, n := range []int32{1, 7, 30, 90, 365} {
		windows = append(windows, span(last-n+1, last))
		to := first + rng.Int32N(last-first)
		windows = append(windows, span(to-n+1, to))
	}
	for range 6 {
		from := first + rng.Int32N(last-first)
		windows = append(windows, span(from, min(from+rng.Int32N(200), last-1)))
	}
	return windows
}

// trendCase is a trend to ask for.
type trendCase struct {
	w                   report.Window
	days, step, minDays int
}

// referenceTrends are trends of the kept windows and others over the whole history and over
// random windows, some starting before the history.
func referenceTrends(rng *rand.Rand, first, last int32, whole report.Window) []trendCase {
	cases := []trendCase{
		{whole, 7, 1, 1}, {whole, 30, 7, 1}, {whole, 90, 1, 1}, {whole, 365, 30, 1}, {whole, 14, 1, 1}, {whole, 1, 3, 1},
		{whole, 30, 1, 2}, {whole, 7, 5, 3},
	}
	for range 6 {
		from := first - 30 + rng.Int32N(last-first+30)
		w := report.Window{From: dayString(from), To: dayString(min(from+rng.Int32N(400), last+5))}
		days := []int{1, 7, 30, 90, 365, 1 + rng.IntN(365)}[rng.IntN(6)]
		cases = append(cases, trendCase{w, days, 1 + rng.IntN(10), []int{1, 1, 2, 4}[rng.IntN(4)]})
	}
	return cases
}

// refRow is a row of the sightings: an instance seen on a day with a version.
type refRow struct {
	day         int32
	version     string
	first, last int64 // seconds after the day's midnight
}

// dayFinal is a day an instance was seen and the version of its final row that day.
type dayFinal struct {
	day     int32
	version string
}

// reference answers each Store question by brute force from the records, after the
// definitions of the aggregates (see package history).
type reference struct {
	rows   map[string][]refRow   // per instance, by day, first sighting and version
	finals map[string][]dayFinal // per instance, its days in order
	first  int32                 // the first day with rows
}

func newReference(records []sink.Record) *reference {
	type key struct {
		instance, version string
		day               int32
	}
	merged := map[key]refRow{}
	for _, r := range records {
		unix := r.Time.Unix()
		k := key{r.Instance, r.Version, int32(unix / 86400)}
		second := unix % 86400
		row, ok := merged[k]
		if !ok {
			row = refRow{day: k.day, version: k.version, first: second, last: second}
		}
		row.first, row.last = min(row.first, second), max(row.last, second)
		merged[k] = row
	}
	ref := &reference{rows: map[string][]refRow{}, finals: map[string][]dayFinal{}, first: 1 << 30}
	for k, row := range merged {
		ref.rows[k.instance] = append(ref.rows[k.instance], row)
		ref.first = min(ref.first, row.day)
	}
	for instance, rows := range ref.rows {
		slices.SortFunc(rows, func(a, b refRow) int {
			return cmp.Or(cmp.Compare(a.day, b.day), cmp.Compare(a.first, b.first), cmp.Compare(a.version, b.version))
		})
		var finals []dayFinal
		for i := 0; i < len(rows); {
			j, final := i, i
			for ; j < len(rows) && rows[j].day == rows[i].day; j++ {
				if later(rows[j], rows[final]) {
					final = j
				}
			}
			finals = append(finals, dayFinal{rows[i].day, rows[final].version})
			i = j
		}
		ref.finals[instance] = finals
	}
	return ref
}

// later reports whether a is a later row than b: a later day, then seen last, then the greater
// version.
func later(a, b refRow) bool {
	return cmp.Or(cmp.Compare(a.day, b.day), cmp.Compare(a.last, b.last), cmp.Compare(a.version, b.version)) > 0
}

// ties counts the rows seen last at the same second as another row of their instance.
func (ref *reference) ties() int {
	type seen struct{ day, last int64 }
	var ties int
	for _, rows := range ref.rows {
		n := map[seen]int{}
		for _, r := range rows {
			n[seen{int64(r.day), r.last}]++
		}
		for _, k := range n {
			if k > 1 {
				ties += k
			}
		}
	}
	return ties
}

// span returns w's first and last day.
func span(w report.Window) (from, to int32) {
	return dayNumber(mustDay(w.From)), dayNumber(mustDay(w.To))
}

// summary counts each instance with rows in w and on at least minDays days under the version
// of its latest row in w.
func (ref *reference) summary(w report.Window, minDays int) report.Summary {
	from, to := span(w)
	perVersion := map[string]int64{}
	sum := report.Summary{Window: w, MinDays: max(minDays, 1), Versions: []report.VersionCount{}}
	for instance, rows := range ref.rows {
		var latest *refRow
		for i, r := range rows {
			if r.day >= from && r.day <= to && (latest == nil || later(r, *latest)) {
				latest = &rows[i]
			}
		}
		if latest != nil && len(ref.finals[instance]) >= minDays {
			perVersion[latest.version]++
			sum.Instances++
		}
	}
	for v, n := range perVersion {
		sum.Versions = append(sum.Versions, count(v, n))
	}
	slices.SortFunc(sum.Versions, func(a, b report.VersionCount) int {
		return cmp.Or(cmp.Compare(b.Instances, a.Instances), cmp.Compare(a.Version, b.Version))
	})
	return sum
}

// emptyDays is every day of w, with no instances.
func emptyDays(w report.Window) []report.Day {
	from, to := span(w)
	var days []report.Day
	for d := from; d <= to; d++ {
		days = append(days, dayOf(dayString(d), 0, perVersion{}))
	}
	return days
}

// daily counts per day of w the instances with rows, and per version.
func (ref *reference) daily(w report.Window) []report.Day {
	from, to := span(w)
	days := emptyDays(w)
	for _, rows := range ref.rows {
		for i, r := range rows {
			if r.day < from || r.day > to {
				continue
			}
			d := &days[r.day-from]
			d.Versions[r.version]++
			if i == 0 || rows[i-1].day != r.day {
				d.Instances++
			}
		}
	}
	return days
}

// new counts per day of w the instances first seen, and per version the instances that
// reported it for the first time.
func (ref *reference) new(w report.Window) []report.Day {
	from, to := span(w)
	days := emptyDays(w)
	for _, rows := range ref.rows {
		if d := rows[0].day; d >= from && d <= to {
			days[d-from].Instances++
		}
		firsts := map[string]int32{}
		for _, r := range rows {
			if _, ok := firsts[r.version]; !ok {
				firsts[r.version] = r.day
			}
		}
		for v, d := range firsts {
			if d >= from && d <= to {
				days[d-from].Versions[v]++
			}
		}
	}
	return days
}

// repeated counts the changes of version that an instance made again on a day of w, after
// making them on an earlier day of w.
func (ref *reference) repeated(w report.Window) int {
	from, to := span(w)
	n := 0
	for _, rows := range ref.rows {
		made := map[report.Upgrade]int32{} // the day each change was last made
		for i := 1; i < len(rows); i++ {
			a, b := rows[i-1], rows[i]
			u := report.Upgrade{From: a.version, To: b.version}
			if a.version == b.version || b.day < from || b.day > to {
				continue
			}
			if day, ok := made[u]; ok && day < b.day {
				n++
			}
			made[u] = b.day
		}
	}
	return n
}

// upgrades counts per change of version the instances that made it on a day of w: two
// consecutive rows of an instance with different versions, dated by the later one.
func (ref *reference) upgrades(w report.Window) []report.Upgrade {
	from, to := span(w)
	counts := map[report.Upgrade]int64{}
	for _, rows := range ref.rows {
		made := map[report.Upgrade]bool{}
		for i := 1; i < len(rows); i++ {
			a, b := rows[i-1], rows[i]
			if a.version != b.version && b.day >= from && b.day <= to {
				made[report.Upgrade{From: a.version, To: b.version}] = true
			}
		}
		for u := range made {
			counts[u]++
		}
	}
	upgrades := []report.Upgrade{}
	for u, n := range counts {
		upgrades = append(upgrades, upgrade(u.From, u.To, n))
	}
	slices.SortFunc(upgrades, func(a, b report.Upgrade) int {
		return cmp.Or(cmp.Compare(b.Instances, a.Instances), cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To))
	})
	return upgrades
}

// trend counts, every step days of w up to its last, the instances seen on minDays days or more whose latest
// day with rows is among the windowDays days ending there, under that day's final version.
func (ref *reference) trend(w report.Window, windowDays, step, minDays int) []report.Day {
	from, to := span(w)
	var days []report.Day
	for d := from + (to-from)%int32(step); d <= to; d += int32(step) {
		day := dayOf(dayString(d), 0, perVersion{})
		for _, finals := range ref.finals {
			if len(finals) < minDays {
				continue
			}
			i := sort.Search(len(finals), func(i int) bool { return finals[i].day > d }) - 1
			if i >= 0 && finals[i].day > d-int32(windowDays) {
				day.Instances++
				day.Versions[finals[i].version]++
			}
		}
		days = append(days, day)
	}
	return days
}

// dayNumber is t's day as days since 1970-01-01.
func dayNumber(t time.Time) int32 { return int32(t.Unix() / 86400) }

// dayString writes a day number as YYYY-MM-DD.
func dayString(day int32) string {
	return time.Unix(int64(day)*86400, 0).UTC().Format(time.DateOnly)
}

// mustDay reads a day of a test's table.
func mustDay(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err) // a typo in a test table
	}
	return t
}
