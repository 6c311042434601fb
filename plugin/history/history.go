// Package history keeps the aggregates of the daily rows in step with them. For each instance a
// batch touches, Plan takes what the store held of the instance before the batch and the rows
// the batch brings, and works out the rows to store, the instance's new state and what each
// aggregate gains or loses; a SQL sink applies that in the batch's transaction. Rebuild works
// the same out from an instance's rows alone, which is how the aggregates are checked.
//
// The aggregates, for every instance i and its rows (day, version, hits, first and last seen):
//   - the instance's state: first day, last day, the number of days with rows, and its last
//     version, that of its last day's final row: the row seen last, then the greatest version
//     in byte order;
//   - per day and version, the instances with a row (DayVersion); per day, the instances with a
//     row and those first seen that day (Day); per day and version, the instances that reported
//     the version for the first time that day (Adoption);
//   - the changes of version: i's rows ordered by day, first sighting and version, two
//     consecutive rows with different versions make a change dated by the later row's day;
//     per day, change and version, the instances that made the change that day (Changes);
//   - for each window W of TrendWindows, Trend: i counts on day D under version v when its
//     latest day with rows up to D is within the W days ending at D and its final row that day
//     has version v. Each day d with rows adds +1 under its final version at d and -1 at the
//     earlier of d+W and i's next day with rows; the counts of day D are the sums up to D.
package history

import (
	"cmp"
	"maps"
	"math"
	"slices"
)

// TrendWindows are the windows, in days, whose trends are kept as aggregates.
var TrendWindows = []int32{7, 30, 90, 365}

// Row is one row of the daily table: an instance seen on a UTC day with a version.
type Row struct {
	Day       int32 // days since 1970-01-01
	Version   string
	Hits      int64
	FirstSeen int64 // unix seconds
	LastSeen  int64 // unix seconds
}

// Merge adds o, a row of the same instance, day and version, to r.
func (r *Row) Merge(o Row) {
	r.Hits += o.Hits
	r.FirstSeen, r.LastSeen = min(r.FirstSeen, o.FirstSeen), max(r.LastSeen, o.LastSeen)
}

// State is what the store keeps of one instance.
type State struct {
	FirstDay, LastDay int32
	Days              int64  // the days with rows
	LastVersion       string // the version of the last day's final row
}

// Before is what the store held of an instance before a batch whose first day is m.
type Before struct {
	Known bool // the instance had rows
	State State
	// Since is the last day before m on which the instance had rows, or m when there is none;
	// Rows are all the instance's rows from Since on, in any order.
	Since int32
	Rows  []Row
	// VersionFirst is, for each version of the batch the instance reported before, the first
	// day it did.
	VersionFirst map[string]int32
}

// Change is a change of version, dated by the day of the later row.
type Change struct {
	Day      int32
	From, To string
}

// Plan is what a batch does to one instance.
type Plan struct {
	Rows  []Row // the rows to store, whole: those the batch adds or adds to
	State State
	// The instance's changes dated after ChangesAfter are to be replaced by Changes; Replaces
	// says whether the store holds any, to delete first.
	ChangesAfter int32
	Changes      []Change
	Replaces     bool
	// VersionFirst are the versions whose first day is new or earlier, with that day.
	VersionFirst map[string]int32
	// Made are the changes the instance makes after ChangesAfter now but did not before (+1),
	// or made then but no longer does (-1), whatever their days. Those the instance did not
	// make by ChangesAfter are what the instances that ever made each change gain or lose.
	Made map[Pair]int64
}

// Pair is a change of version, whatever its day.
type Pair struct{ From, To string }

// DayVersion keys an aggregate by day and version.
type DayVersion struct {
	Day     int32
	Version string
}

// DayCount is what an aggregate holds of one day: instances with rows, and first seen.
type DayCount struct{ Seen, New int64 }

// TrendKey keys the trend aggregate by window, day and version.
type TrendKey struct {
	Window, Day int32
	Version     string
}

// Delta is what the aggregates gain, or lose where negative, summed over the instances planned.
type Delta struct {
	DayVersion map[DayVersion]int64
	Day        map[int32]DayCount
	Adoption   map[DayVersion]int64
	Changes    map[Change]int64
	Trend      map[TrendKey]int64
}

// NewDelta returns an empty Delta.
func NewDelta() *Delta {
	return &Delta{
		DayVersion: map[DayVersion]int64{},
		Day:        map[int32]DayCount{},
		Adoption:   map[DayVersion]int64{},
		Changes:    map[Change]int64{},
		Trend:      map[TrendKey]int64{},
	}
}

// FirstDay is the first day of batch, the m that Before.Since is found from.
func FirstDay(batch []Row) int32 {
	m := int32(math.MaxInt32)
	for _, r := range batch {
		m = min(m, r.Day)
	}
	return m
}

// Plan works out what batch, rows of one instance with distinct (day, version), does to it
// given before, and adds the aggregates' changes to d.
func (d *Delta) Plan(before Before, batch []Row) Plan {
	m := FirstDay(batch)
	old := before.Rows
	byKey := make(map[DayVersion]int, len(old))
	for i, r := range old {
		byKey[DayVersion{r.Day, r.Version}] = i
	}
	// The buffers keep the work of a small instance, as most are, off the heap.
	var afterBuf [4]Row
	after := append(afterBuf[:0], old...)
	p := Plan{Rows: make([]Row, 0, len(batch)), VersionFirst: make(map[string]int32, len(batch))}
	for _, b := range batch {
		if i, ok := byKey[DayVersion{b.Day, b.Version}]; ok {
			after[i].Merge(b)
			p.Rows = append(p.Rows, after[i])
		} else {
			after = append(after, b)
			p.Rows = append(p.Rows, b)
			d.DayVersion[DayVersion{b.Day, b.Version}]++
		}
		if first, ok := before.VersionFirst[b.Version]; !ok || b.Day < first {
			if f, planned := p.VersionFirst[b.Version]; !planned || b.Day < f {
				p.VersionFirst[b.Version] = b.Day
			}
		}
	}
	for v, day := range p.VersionFirst {
		if first, ok := before.VersionFirst[v]; ok {
			d.Adoption[DayVersion{first, v}]--
		}
		d.Adoption[DayVersion{day, v}]++
	}

	var oldBuf, afterDaysBuf [4]dayFinal
	oldDays, afterDays := appendDays(oldBuf[:0], old), appendDays(afterDaysBuf[:0], after)
	d.addSeen(oldDays, afterDays)
	p.State = d.state(before, after, m, int64(len(afterDays)-len(oldDays)))
	d.trend(oldDays, -1)
	d.trend(afterDays, +1)
	p.ChangesAfter = m - 1
	if before.Since < m {
		p.ChangesAfter = before.Since // the rows of that day and before are as they were
	}
	var storedBuf [4]Change
	stored := appendChanges(storedBuf[:0], old, p.ChangesAfter) // those the store holds after ChangesAfter
	for _, c := range stored {
		d.Changes[c]--
	}
	p.Replaces = len(stored) > 0
	p.Changes = appendChanges(nil, after, p.ChangesAfter)
	for _, c := range p.Changes {
		d.Changes[c]++
	}
	p.Made = made(stored, p.Changes)
	return p
}

// addSeen counts the days of after that old lacks as days with rows. Both are in order, and
// old's days are after's too.
func (d *Delta) addSeen(old, after []dayFinal) {
	for _, df := range after {
		if len(old) > 0 && old[0].day == df.day {
			old = old[1:]
			continue
		}
		c := d.Day[df.day]
		c.Seen++
		d.Day[df.day] = c
	}
}

// state works out the instance's state after the batch, and counts a first sighting that
// moved.
func (d *Delta) state(before Before, after []Row, m int32, newDays int64) State {
	s := before.State
	switch {
	case !before.Known:
		s = State{FirstDay: m, LastDay: m}
		d.addNew(m, +1)
	case m < s.FirstDay:
		d.addNew(s.FirstDay, -1)
		d.addNew(m, +1)
		s.FirstDay = m
	}
	s.Days += newDays
	for _, r := range after {
		s.LastDay = max(s.LastDay, r.Day)
	}
	s.LastVersion = finalVersion(after, s.LastDay)
	return s
}

func (d *Delta) addNew(day int32, n int64) {
	c := d.Day[day]
	c.New += n
	d.Day[day] = c
}

// dayFinal is a day with rows and the version of its final row.
type dayFinal struct {
	day     int32
	version string
}

// appendDays appends to dst the days of rows, in order, each with its final version.
func appendDays(dst []dayFinal, rows []Row) []dayFinal {
	final := map[int32]int{} // the index of each day's final row
	for i := range rows {
		if f, ok := final[rows[i].Day]; !ok || later(&rows[i], &rows[f]) {
			final[rows[i].Day] = i
		}
	}
	start := len(dst)
	for day, i := range final {
		dst = append(dst, dayFinal{day, rows[i].Version})
	}
	slices.SortFunc(dst[start:], func(a, b dayFinal) int { return cmp.Compare(a.day, b.day) })
	return dst
}

// later reports whether a is a later final row than b: seen last, then the greater version.
func later(a, b *Row) bool {
	return cmp.Or(cmp.Compare(a.LastSeen, b.LastSeen), cmp.Compare(a.Version, b.Version)) > 0
}

// finalVersion is the version of the final row of day among rows.
func finalVersion(rows []Row, day int32) string {
	var final *Row
	for i := range rows {
		if r := &rows[i]; r.Day == day && (final == nil || later(r, final)) {
			final = r
		}
	}
	if final == nil {
		return ""
	}
	return final.Version
}

// trend adds sign times the trend contributions of the days, in order, for every window.
func (d *Delta) trend(days []dayFinal, sign int64) {
	for i, df := range days {
		next := int32(math.MaxInt32)
		if i+1 < len(days) {
			next = days[i+1].day
		}
		for _, w := range TrendWindows {
			d.Trend[TrendKey{w, df.day, df.version}] += sign
			d.Trend[TrendKey{w, min(df.day+w, next), df.version}] -= sign
		}
	}
}

// appendChanges appends to dst the changes of version between consecutive rows, in the order
// of day, first sighting and version, that are dated after day, each once.
func appendChanges(dst []Change, rows []Row, after int32) []Change {
	var buf [4]Row
	sorted := append(buf[:0], rows...)
	slices.SortFunc(sorted, func(a, b Row) int {
		return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(a.FirstSeen, b.FirstSeen), cmp.Compare(a.Version, b.Version))
	})
	start := len(dst)
	for i := 1; i < len(sorted); i++ {
		a, b := sorted[i-1], sorted[i]
		c := Change{Day: b.Day, From: a.Version, To: b.Version}
		if b.Day > after && a.Version != b.Version && !slices.Contains(dst[start:], c) {
			dst = append(dst, c)
		}
	}
	return dst
}

// made returns the pairs of the changes in now but not in before (+1), and in before but not
// in now (-1); nil if there are none.
func made(before, now []Change) map[Pair]int64 {
	if len(before) == 0 && len(now) == 0 {
		return nil
	}
	out, gained := map[Pair]int64{}, map[Pair]bool{}
	for _, c := range before {
		out[Pair{c.From, c.To}] = -1
	}
	for _, c := range now {
		gained[Pair{c.From, c.To}] = true
	}
	for p := range gained {
		out[p]++
	}
	maps.DeleteFunc(out, func(_ Pair, n int64) bool { return n == 0 })
	if len(out) == 0 {
		return nil
	}
	return out
}

// Rebuild works out an instance's aggregates from all its rows, as if one batch brought them
// to an empty store, and adds them to d.
func (d *Delta) Rebuild(rows []Row) Plan {
	return d.Plan(Before{Since: FirstDay(rows)}, rows)
}

// Add adds e to d, leaving out what e holds as zeros.
func (d *Delta) Add(e *Delta) {
	for k, n := range e.DayVersion {
		if n != 0 {
			d.DayVersion[k] += n
		}
	}
	for k, c := range e.Day {
		if c != (DayCount{}) {
			s := d.Day[k]
			d.Day[k] = DayCount{s.Seen + c.Seen, s.New + c.New}
		}
	}
	for k, n := range e.Adoption {
		if n != 0 {
			d.Adoption[k] += n
		}
	}
	for k, n := range e.Changes {
		if n != 0 {
			d.Changes[k] += n
		}
	}
	for k, n := range e.Trend {
		if n != 0 {
			d.Trend[k] += n
		}
	}
}
