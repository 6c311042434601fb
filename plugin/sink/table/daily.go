// Package table holds what the SQL sinks share: the rows a batch adds to the daily table, and
// the options of their sink lines.
package table

import (
	"cmp"
	"slices"
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

// Aggregate merges records into one row per (day, version, instance), sorted by that key, so
// that an upsert touches each row once and concurrent writers lock rows in the same order.
func Aggregate(records []sink.Record) []Daily {
	rows := make([]Daily, 0, len(records))
	for _, r := range records {
		t := r.Time.UTC()
		rows = append(rows, Daily{Day: t.Format(DayLayout), Version: r.Version, Instance: r.Instance, Hits: 1, FirstSeen: t, LastSeen: t})
	}
	slices.SortFunc(rows, compareKey)
	merged := rows[:0]
	for _, r := range rows {
		if n := len(merged); n > 0 && compareKey(merged[n-1], r) == 0 {
			last := &merged[n-1]
			last.Hits++
			if r.FirstSeen.Before(last.FirstSeen) {
				last.FirstSeen = r.FirstSeen
			}
			if r.LastSeen.After(last.LastSeen) {
				last.LastSeen = r.LastSeen
			}
			continue
		}
		merged = append(merged, r)
	}
	return merged
}

func compareKey(a, b Daily) int {
	return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(a.Version, b.Version), cmp.Compare(a.Instance, b.Instance))
}
