package report_test

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailustats/mailustats/plugin/report"
	"github.com/mailustats/mailustats/plugin/sink"
)

// TestStoreSummaryReference compares Summary, with and without min_days, with a count in Go of
// random populations, on every backend.
func TestStoreSummaryReference(t *testing.T) {
	for _, b := range storeBackends {
		t.Run(b.name, func(t *testing.T) {
			for seed := range uint64(4) {
				t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
					rng := rand.New(rand.NewPCG(seed, 1))
					records := randomHistory(rng)
					s := b.open(t, records)
					ref := newSummaryRef(records)
					if ties := ref.ties(); ties == 0 {
						t.Fatal("expected rows of an instance seen last at the same second")
					}
					var filtered int // cases where min_days leaves out some instances but not all
					for _, w := range randomWindows(rng) {
						all := ref.summary(w, 1).Instances
						for _, minDays := range []int{0, 1, 2, 3, 5} {
							got, err := s.Summary(t.Context(), w, minDays)
							if err != nil {
								t.Fatalf("%v, min_days %d: %v", w, minDays, err)
							}
							expected := ref.summary(w, minDays)
							if !reflect.DeepEqual(got, expected) {
								t.Errorf("%v, min_days %d: expected %+v, got %+v", w, minDays, expected, got)
							}
							if 0 < expected.Instances && expected.Instances < all {
								filtered++
							}
						}
					}
					if filtered == 0 {
						t.Error("expected cases where min_days leaves out some instances")
					}
				})
			}
		})
	}
}

// refStart is the first day of the random populations, which span refDays days.
var refStart = time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)

const refDays = 40

// refVersions are the versions of the random populations: "1.9" before "10" before "2" in
// byte order, as a ranking by text must not take them.
var refVersions = []string{"1.9", "10", "2", "2024.06", "master"}

// randomHistory is a population of instances: a flood that announces itself on one day only,
// and installations that come back on other days, with gaps, several versions a day, going
// back to older versions, and announcements of two versions in the same second.
func randomHistory(rng *rand.Rand) []sink.Record {
	// The seconds of a day the announcements are made at, few, so that rows of one instance
	// are often seen last at the same second.
	seconds := []int{0, 1, 3600, 43200, 86399}
	var records []sink.Record
	for i := range 150 {
		instance := fmt.Sprintf("%08x-0000-4000-8000-%012x", i, rng.Uint64()>>16)
		days := 1
		if rng.IntN(3) > 0 { // an installation; the rest are the flood
			days = 1 + rng.IntN(6)
		}
		for _, d := range rng.Perm(refDays)[:days] {
			day := refStart.AddDate(0, 0, d)
			for range 1 + rng.IntN(3) {
				at := day.Add(time.Duration(seconds[rng.IntN(len(seconds))]) * time.Second)
				records = append(records, sink.Record{Time: at, Version: refVersions[rng.IntN(len(refVersions))], Instance: instance})
			}
		}
	}
	return records
}

// randomWindows are windows over the populations' days and beyond both ends.
func randomWindows(rng *rand.Rand) []report.Window {
	day := func(d int) string { return refStart.AddDate(0, 0, d).Format(time.DateOnly) }
	windows := []report.Window{window(day(0), day(refDays-1)), window(day(-10), day(-1))}
	for range 8 {
		from := rng.IntN(refDays+10) - 5
		windows = append(windows, window(day(from), day(from+rng.IntN(15))))
	}
	return windows
}

// summaryRef computes Summary from the records: the daily rows they make, and the days each
// instance was seen on.
type summaryRef struct {
	lastSeen map[refKey]int64           // by row: the last announcement, in Unix seconds
	days     map[string]map[string]bool // by instance: the days it was seen on
}

// refKey is the key of a row of the daily table.
type refKey struct{ day, version, instance string }

func newSummaryRef(records []sink.Record) summaryRef {
	ref := summaryRef{lastSeen: map[refKey]int64{}, days: map[string]map[string]bool{}}
	for _, r := range records {
		k := refKey{r.Time.UTC().Format(time.DateOnly), r.Version, r.Instance}
		if last, ok := ref.lastSeen[k]; !ok || r.Time.Unix() > last {
			ref.lastSeen[k] = r.Time.Unix()
		}
		if ref.days[r.Instance] == nil {
			ref.days[r.Instance] = map[string]bool{}
		}
		ref.days[r.Instance][k.day] = true
	}
	return ref
}

// ties counts the rows seen last at the same second as another row of their instance.
func (ref summaryRef) ties() int {
	type sighting struct {
		instance string
		at       int64
	}
	rows := map[sighting]int{}
	for k, at := range ref.lastSeen {
		rows[sighting{k.instance, at}]++
	}
	var ties int
	for _, n := range rows {
		if n > 1 {
			ties += n
		}
	}
	return ties
}

// summary is what Summary answers: each instance of w with at least minDays days under the
// version of its row seen last in w, of rows seen last at the same second the greatest.
func (ref summaryRef) summary(w report.Window, minDays int) report.Summary {
	type latest struct {
		version string
		at      int64
	}
	last := map[string]latest{}
	for k, at := range ref.lastSeen {
		if k.day < w.From || k.day > w.To {
			continue
		}
		if l, ok := last[k.instance]; !ok || at > l.at || at == l.at && k.version > l.version {
			last[k.instance] = latest{k.version, at}
		}
	}
	perVersion := map[string]int64{}
	sum := report.Summary{Window: w, MinDays: max(minDays, 1), Versions: []report.VersionCount{}}
	for instance, l := range last {
		if len(ref.days[instance]) >= minDays {
			perVersion[l.version]++
			sum.Instances++
		}
	}
	for v, n := range perVersion {
		sum.Versions = append(sum.Versions, count(v, n))
	}
	slices.SortFunc(sum.Versions, func(a, b report.VersionCount) int {
		return cmp.Or(cmp.Compare(b.Instances, a.Instances), strings.Compare(a.Version, b.Version))
	})
	return sum
}
