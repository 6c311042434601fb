package history

import (
	"maps"
	"slices"
)

// Filter picks the rows a purge removes: those of the days From to To, both included, of
// Version unless it is "", and with OnlyOnce only those of an instance whose rows are all of
// one day, the shape of a made-up instance announced once.
type Filter struct {
	From, To int32
	Version  string
	OnlyOnce bool
}

// Split divides rows, all the rows of one instance, into those f keeps and those it removes.
func (f Filter) Split(rows []Row) (kept, removed []Row) {
	once := !slices.ContainsFunc(rows, func(r Row) bool { return r.Day != rows[0].Day })
	for _, r := range rows {
		if (once || !f.OnlyOnce) && r.Day >= f.From && r.Day <= f.To && (f.Version == "" || r.Version == f.Version) {
			removed = append(removed, r)
		} else {
			kept = append(kept, r)
		}
	}
	return kept, removed
}

// Loss is what a purge takes from the instance ID: the rows it removes, at least one, and
// those it keeps.
type Loss struct {
	ID            int64
	Kept, Removed []Row
}

// Gone reports whether the instance has no rows left.
func (l Loss) Gone() bool { return len(l.Kept) == 0 }

// Losses splits the rows of each instance of ids, all its rows by id, as Split does, and
// returns in the order of ids the losses of those that lose rows.
func (f Filter) Losses(ids []int64, rows map[int64][]Row) []Loss {
	var out []Loss
	for _, id := range ids {
		if kept, removed := f.Split(rows[id]); len(removed) > 0 {
			out = append(out, Loss{id, kept, removed})
		}
	}
	return out
}

// Removal is what removing some of an instance's rows does to what the store keeps of it.
type Removal struct {
	Gone  bool  // no rows are left: the instance goes, with all the store keeps of it
	State State // the state of the rows left, unless Gone
	// The changes dated after ChangesAfter are to be replaced by Changes; Replaces says whether
	// the store holds any.
	ChangesAfter int32
	Changes      []Change
	Replaces     bool
	// VersionFirst are the versions whose first day moved, with their new day; VersionsGone,
	// sorted, those that no row left reports.
	VersionFirst map[string]int32
	VersionsGone []string
	// Made is what the instances that ever made each change gain (+1) or lose (-1); nil if
	// nothing.
	Made map[Pair]int64
}

// Remove works out what removing the rows removed, at least one, from an instance that keeps
// the rows kept does to it, as if removed had never been written; and adds to d what the
// aggregates gain or lose: the instance's contribution as Rebuild works it out from kept, less
// that from all its rows.
func (d *Delta) Remove(kept, removed []Row) Removal {
	all := slices.Concat(kept, removed)
	// The instance's contribution, worked out apart so that only what changes, around the
	// days removed, is added to d.
	e := NewDelta()
	before := e.Rebuild(all)
	e.negate()
	r := Removal{Gone: len(kept) == 0, ChangesAfter: FirstDay(removed) - 1, VersionFirst: map[string]int32{}}
	var after Plan // of no rows, when none are left
	if !r.Gone {
		after = e.Rebuild(kept)
		r.State = after.State
	}
	d.Add(e)
	// The changes dated up to ChangesAfter are between rows of that day and before, which stay.
	r.Replaces = len(appendChanges(nil, all, r.ChangesAfter)) > 0
	if !r.Gone {
		r.Changes = appendChanges(nil, kept, r.ChangesAfter)
	}
	for v, day := range after.VersionFirst {
		if before.VersionFirst[v] != day {
			r.VersionFirst[v] = day
		}
	}
	for _, v := range slices.Sorted(maps.Keys(before.VersionFirst)) {
		if _, ok := after.VersionFirst[v]; !ok {
			r.VersionsGone = append(r.VersionsGone, v)
		}
	}
	// Rebuild's Made are the changes an instance ever made, each +1.
	r.Made = map[Pair]int64{}
	for p, n := range before.Made {
		r.Made[p] -= n
	}
	for p, n := range after.Made {
		r.Made[p] += n
	}
	maps.DeleteFunc(r.Made, func(_ Pair, n int64) bool { return n == 0 })
	if len(r.Made) == 0 {
		r.Made = nil
	}
	return r
}

// negate turns what d gains into what it loses.
func (d *Delta) negate() {
	for k, n := range d.DayVersion {
		d.DayVersion[k] = -n
	}
	for k, c := range d.Day {
		d.Day[k] = DayCount{-c.Seen, -c.New}
	}
	for k, n := range d.Adoption {
		d.Adoption[k] = -n
	}
	for k, n := range d.Changes {
		d.Changes[k] = -n
	}
	for k, n := range d.Trend {
		d.Trend[k] = -n
	}
}
