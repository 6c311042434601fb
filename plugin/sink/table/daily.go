// Package table holds what the SQL sinks share: the rows a batch adds to the daily table, and
// the options of their sink lines.
package table

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/mailustats/mailustats/plugin/sink"
)

// DayLayout is how a UTC day is written: YYYY-MM-DD.
const DayLayout = time.DateOnly

// Daily is the batch's contribution to one row of the daily table.
type Daily struct {
	Day       string // UTC, YYYY-MM-DD
	Version   string
	Instance  string
	Hits      int64
	FirstSeen time.Time
	LastSeen  time.Time
}

// Aggregator merges batches of records into daily rows. It keeps its memory from one batch to
// the next, so that a sink writing large batches does not make garbage of each; it is not safe
// for concurrent use.
type Aggregator struct {
	keys   []sortKey
	ids    map[dayVersion]int // the batch's (day, version) pairs, numbered as first seen
	groups []dayVersion       // the pairs, in order
	ranks  []int              // by number: the pair's place in groups
	merged []Daily
}

// dayVersion is the part of the key that few rows of a batch differ in.
type dayVersion struct{ day, version string }

// sortKey stands for a record while sorting: small, so that a swap is cheap, and holding enough
// of the key that most comparisons need not read the record.
type sortKey struct {
	group  int    // the rank of the record's (day, version) among the batch's
	prefix uint64 // the first 8 bytes of the instance, big-endian
	record int
}

// Aggregate merges records into one row per (day, version, instance), sorted by that key, so
// that an upsert touches each row once and concurrent writers lock rows in the same order. The
// rows are valid until the next call.
func (a *Aggregator) Aggregate(records []sink.Record) []Daily {
	a.sort(records)
	a.merged = slices.Grow(a.merged[:0], len(records))
	group := -1
	for _, k := range a.keys {
		r := &records[k.record]
		t := r.Time.UTC()
		if n := len(a.merged); n > 0 && k.group == group && a.merged[n-1].Instance == r.Instance {
			last := &a.merged[n-1]
			last.Hits++
			if t.Before(last.FirstSeen) {
				last.FirstSeen = t
			}
			if t.After(last.LastSeen) {
				last.LastSeen = t
			}
			continue
		}
		group = k.group
		g := a.groups[k.group]
		a.merged = append(a.merged, Daily{Day: g.day, Version: g.version, Instance: r.Instance, Hits: 1, FirstSeen: t, LastSeen: t})
	}
	return a.merged
}

// sort fills a.keys with the records' keys in the order of (day, version, instance), and
// a.groups with the (day, version) pairs in that order.
func (a *Aggregator) sort(records []sink.Record) {
	if a.ids == nil {
		a.ids = make(map[dayVersion]int)
	}
	clear(a.ids)
	a.groups = a.groups[:0]
	a.keys = slices.Grow(a.keys[:0], len(records))
	var day dayName
	for i, r := range records {
		g := dayVersion{day.of(r.Time.UTC()), r.Version}
		id, ok := a.ids[g]
		if !ok {
			id = len(a.groups)
			a.ids[g] = id
			a.groups = append(a.groups, g)
		}
		a.keys = append(a.keys, sortKey{group: id, prefix: prefix(r.Instance), record: i})
	}
	// Put the pairs in order, and number the keys' groups by that order.
	slices.SortFunc(a.groups, func(x, y dayVersion) int {
		return cmp.Or(strings.Compare(x.day, y.day), strings.Compare(x.version, y.version))
	})
	a.ranks = slices.Grow(a.ranks[:0], len(a.groups))[:len(a.groups)]
	for rank, g := range a.groups {
		a.ranks[a.ids[g]] = rank
	}
	for i := range a.keys {
		a.keys[i].group = a.ranks[a.keys[i].group]
	}
	slices.SortFunc(a.keys, func(x, y sortKey) int {
		if c := cmp.Compare(x.group, y.group); c != 0 {
			return c
		}
		if c := cmp.Compare(x.prefix, y.prefix); c != 0 {
			return c
		}
		return strings.Compare(records[x.record].Instance, records[y.record].Instance)
	})
}

// prefix packs the first 8 bytes of s, padded with zeros, so that prefixes order as s does.
func prefix(s string) uint64 {
	var p uint64
	for i := range 8 {
		p <<= 8
		if i < len(s) {
			p |= uint64(s[i])
		}
	}
	return p
}

// dayName formats UTC days, reusing the last name: a batch seldom spans more than one day.
type dayName struct {
	year, yday int
	name       string
}

func (d *dayName) of(t time.Time) string {
	if year, yday := t.Year(), t.YearDay(); d.name == "" || year != d.year || yday != d.yday {
		d.year, d.yday, d.name = year, yday, t.Format(DayLayout)
	}
	return d.name
}
