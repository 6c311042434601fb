package history

import (
	"cmp"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// memStore keeps rows and aggregates in memory the way a SQL sink keeps them in tables, and
// applies plans as a sink does.
type memStore struct {
	rows         map[string]map[DayVersion]Row
	state        map[string]State
	changes      map[string][]Change
	versionFirst map[string]map[string]int32
	everMade     map[Pair]int64 // the instances that ever made each change, kept from Plan.Made
	wrongReplace int            // plans whose Replaces said otherwise than the changes held
	agg          *Delta
}

func newMemStore() *memStore {
	return &memStore{
		rows:         map[string]map[DayVersion]Row{},
		state:        map[string]State{},
		changes:      map[string][]Change{},
		versionFirst: map[string]map[string]int32{},
		everMade:     map[Pair]int64{},
		agg:          NewDelta(),
	}
}

// record is one announcement: an instance reported a version at a time.
type record struct {
	instance, version string
	unix              int64
}

// write stores one batch of records as a sink does: merged into rows per instance, day and
// version, then each instance planned from what the store holds of it.
func (s *memStore) write(records []record) {
	batch := map[string]map[DayVersion]Row{}
	for _, r := range records {
		k := DayVersion{int32(r.unix / 86400), r.version}
		if batch[r.instance] == nil {
			batch[r.instance] = map[DayVersion]Row{}
		}
		row, ok := batch[r.instance][k]
		if !ok {
			row = Row{Day: k.Day, Version: k.Version, FirstSeen: r.unix, LastSeen: r.unix}
		}
		row.Hits++
		row.FirstSeen, row.LastSeen = min(row.FirstSeen, r.unix), max(row.LastSeen, r.unix)
		batch[r.instance][k] = row
	}
	d := NewDelta()
	for inst, rows := range batch {
		plan := d.Plan(s.before(inst, rows), slices.Collect(maps.Values(rows)))
		s.apply(inst, plan)
	}
	s.agg.Add(d)
}

// before loads what a sink loads of an instance before a batch of rows.
func (s *memStore) before(inst string, batch map[DayVersion]Row) Before {
	m := FirstDay(slices.Collect(maps.Values(batch)))
	b := Before{Since: m, VersionFirst: map[string]int32{}}
	st, known := s.state[inst]
	b.Known, b.State = known, st
	for k := range s.rows[inst] {
		if k.Day < m && (b.Since == m || k.Day > b.Since) {
			b.Since = k.Day
		}
	}
	for k, r := range s.rows[inst] {
		if k.Day >= b.Since {
			b.Rows = append(b.Rows, r)
		}
	}
	for k := range batch {
		if day, ok := s.versionFirst[inst][k.Version]; ok {
			b.VersionFirst[k.Version] = day
		}
	}
	return b
}

func (s *memStore) apply(inst string, p Plan) {
	if s.rows[inst] == nil {
		s.rows[inst] = map[DayVersion]Row{}
		s.versionFirst[inst] = map[string]int32{}
	}
	for _, r := range p.Rows {
		s.rows[inst][DayVersion{r.Day, r.Version}] = r
	}
	s.state[inst] = p.State
	for pair, n := range p.Made {
		if !slices.ContainsFunc(s.changes[inst], func(c Change) bool { return c.Day <= p.ChangesAfter && (Pair{c.From, c.To}) == pair }) {
			s.everMade[pair] += n
		}
	}
	if held := slices.ContainsFunc(s.changes[inst], func(c Change) bool { return c.Day > p.ChangesAfter }); held != p.Replaces {
		s.wrongReplace++
	}
	s.changes[inst] = slices.DeleteFunc(s.changes[inst], func(c Change) bool { return c.Day > p.ChangesAfter })
	s.changes[inst] = append(s.changes[inst], p.Changes...)
	maps.Copy(s.versionFirst[inst], p.VersionFirst)
}

// reference works out every aggregate from the rows alone, by the definitions in the package
// documentation, without the package's code.
type reference struct {
	dayVersion map[DayVersion]int64
	day        map[int32]DayCount
	adoption   map[DayVersion]int64
	state      map[string]State
	changes    map[string][]Change
	trend      map[int32]map[int32]map[string]int64 // window, day, version
}

func referenceOf(all map[string]map[DayVersion]Row, lastDay int32) reference {
	ref := reference{dayVersion: map[DayVersion]int64{}, day: map[int32]DayCount{}, adoption: map[DayVersion]int64{},
		state: map[string]State{}, changes: map[string][]Change{}, trend: map[int32]map[int32]map[string]int64{}}
	for inst, rows := range all {
		var list []Row
		firstOfVersion := map[string]int32{}
		dayRows := map[int32][]Row{}
		for k, r := range rows {
			list = append(list, r)
			ref.dayVersion[k]++
			dayRows[k.Day] = append(dayRows[k.Day], r)
			if f, ok := firstOfVersion[k.Version]; !ok || k.Day < f {
				firstOfVersion[k.Version] = k.Day
			}
		}
		for v, day := range firstOfVersion {
			ref.adoption[DayVersion{day, v}]++
		}
		final := map[int32]string{}
		var rowDays []int32
		for day, rs := range dayRows {
			rowDays = append(rowDays, day)
			c := ref.day[day]
			c.Seen++
			ref.day[day] = c
			best := rs[0]
			for _, r := range rs[1:] {
				if r.LastSeen > best.LastSeen || r.LastSeen == best.LastSeen && r.Version > best.Version {
					best = r
				}
			}
			final[day] = best.Version
		}
		slices.Sort(rowDays)
		first, last := rowDays[0], rowDays[len(rowDays)-1]
		c := ref.day[first]
		c.New++
		ref.day[first] = c
		ref.state[inst] = State{FirstDay: first, LastDay: last, Days: int64(len(rowDays)), LastVersion: final[last]}

		slices.SortFunc(list, func(a, b Row) int {
			return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(a.FirstSeen, b.FirstSeen), cmp.Compare(a.Version, b.Version))
		})
		for i := 1; i < len(list); i++ {
			ch := Change{list[i].Day, list[i-1].Version, list[i].Version}
			if ch.From != ch.To && !slices.Contains(ref.changes[inst], ch) {
				ref.changes[inst] = append(ref.changes[inst], ch)
			}
		}

		for _, w := range TrendWindows {
			if ref.trend[w] == nil {
				ref.trend[w] = map[int32]map[string]int64{}
			}
			for day := first; day <= lastDay+w; day++ {
				latest := int32(-1) // the instance's latest day with rows up to day
				for _, d := range rowDays {
					if d <= day {
						latest = d
					}
				}
				if latest >= 0 && day-latest < w {
					if ref.trend[w][day] == nil {
						ref.trend[w][day] = map[string]int64{}
					}
					ref.trend[w][day][final[latest]]++
				}
			}
		}
	}
	return ref
}

// trendCounts sums the trend aggregate of window w up to each day from first to last.
func trendCounts(agg *Delta, w, first, last int32) map[int32]map[string]int64 {
	out := map[int32]map[string]int64{}
	running := map[string]int64{}
	var keys []TrendKey
	for k := range agg.Trend {
		if k.Window == w {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b TrendKey) int { return cmp.Compare(a.Day, b.Day) })
	i := 0
	for day := first; day <= last; day++ {
		for ; i < len(keys) && keys[i].Day <= day; i++ {
			running[keys[i].Version] += agg.Trend[keys[i]]
		}
		for v, n := range running {
			if n != 0 {
				if out[day] == nil {
					out[day] = map[string]int64{}
				}
				out[day][v] = n
			}
		}
	}
	return out
}

// nonZero drops the zero counts an aggregate keeps once what it gained was lost again.
func nonZero[K comparable](m map[K]int64) map[K]int64 {
	out := map[K]int64{}
	for k, n := range m {
		if n != 0 {
			out[k] = n
		}
	}
	return out
}

// generate returns records of instances over days: restarts every 1 to 60 days, several
// versions a day, downgrades, records in the same second, gaps longer than a year.
func generate(rng *rand.Rand, instances int, span int32) []record {
	versions := []string{"1.9", "2.0", "2024.06", "master", "19"}
	var out []record
	for i := range instances {
		inst := fmt.Sprintf("i%02d", i)
		day := rng.Int32N(span / 2)
		v := rng.IntN(len(versions))
		for day < span {
			at := int64(day)*86400 + rng.Int64N(86400)
			switch rng.IntN(10) {
			case 0: // a downgrade, or any other version
				v = rng.IntN(len(versions))
			case 1, 2: // an upgrade
				v = min(v+1, len(versions)-1)
			}
			out = append(out, record{inst, versions[v], at})
			switch rng.IntN(6) {
			case 0: // the same second, maybe another version
				out = append(out, record{inst, versions[rng.IntN(len(versions))], at})
			case 1: // later the same day with another version
				out = append(out, record{inst, versions[rng.IntN(len(versions))], min(at+rng.Int64N(3600), int64(day)*86400+86399)})
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

func TestPlanMatchesDefinitions(t *testing.T) {
	for seed := range uint64(12) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 1))
			const span = 900
			records := generate(rng, 25, span)
			// Half the seeds write in time order, as the server does; the others in any order,
			// as an import of old logs after newer ones does.
			if seed%2 == 0 {
				slices.SortFunc(records, func(a, b record) int { return cmp.Compare(a.unix, b.unix) })
			} else {
				rng.Shuffle(len(records), func(i, j int) { records[i], records[j] = records[j], records[i] })
			}
			s := newMemStore()
			for len(records) > 0 {
				n := min(len(records), 1+rng.IntN(40))
				s.write(records[:n])
				records = records[n:]
			}
			checkAgainstReference(t, s.rows, s.state, s.changes, s.agg, span)
			if s.wrongReplace > 0 {
				t.Errorf("%d plans said wrongly whether the store holds changes to replace", s.wrongReplace)
			}
			everMade := map[Pair]int64{}
			for _, changes := range s.changes {
				pairs := map[Pair]bool{}
				for _, c := range changes {
					pairs[Pair{c.From, c.To}] = true
				}
				for p := range pairs {
					everMade[p]++
				}
			}
			if got := nonZero(s.everMade); !reflect.DeepEqual(got, everMade) {
				t.Errorf("instances that ever made each change: expected %v, got %v", everMade, got)
			}

			rebuilt := NewDelta()
			rebuiltState, rebuiltChanges := map[string]State{}, map[string][]Change{}
			for inst, rows := range s.rows {
				p := rebuilt.Rebuild(slices.Collect(maps.Values(rows)))
				rebuiltState[inst], rebuiltChanges[inst] = p.State, p.Changes
			}
			checkAgainstReference(t, s.rows, rebuiltState, rebuiltChanges, rebuilt, span)
		})
	}
}

func checkAgainstReference(t *testing.T, rows map[string]map[DayVersion]Row, state map[string]State, changes map[string][]Change, agg *Delta, span int32) {
	t.Helper()
	ref := referenceOf(rows, span)
	if got := nonZero(agg.DayVersion); !reflect.DeepEqual(got, ref.dayVersion) {
		t.Errorf("day and version: expected %v, got %v", ref.dayVersion, got)
	}
	days := map[int32]DayCount{}
	for d, c := range agg.Day {
		if c != (DayCount{}) {
			days[d] = c
		}
	}
	if !reflect.DeepEqual(days, ref.day) {
		t.Errorf("days: expected %v, got %v", ref.day, days)
	}
	if got := nonZero(agg.Adoption); !reflect.DeepEqual(got, ref.adoption) {
		t.Errorf("adoption: expected %v, got %v", ref.adoption, got)
	}
	if !reflect.DeepEqual(state, ref.state) {
		t.Errorf("states: expected %v, got %v", ref.state, state)
	}
	perDay := map[Change]int64{}
	for inst := range rows {
		got, want := slices.Clone(changes[inst]), slices.Clone(ref.changes[inst])
		sortChanges(got)
		sortChanges(want)
		if !slices.Equal(got, want) {
			t.Errorf("changes of %s: expected %v, got %v", inst, want, got)
		}
		for _, c := range want {
			perDay[c]++
		}
	}
	if got := nonZero(agg.Changes); !reflect.DeepEqual(got, perDay) {
		t.Errorf("changes per day: expected %v, got %v", perDay, got)
	}
	for _, w := range TrendWindows {
		if got := trendCounts(agg, w, 0, span+w); !reflect.DeepEqual(got, ref.trend[w]) {
			t.Errorf("trend of window %d: expected %v, got %v", w, ref.trend[w], got)
		}
	}
}

func sortChanges(c []Change) {
	slices.SortFunc(c, func(a, b Change) int {
		return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To))
	})
}
