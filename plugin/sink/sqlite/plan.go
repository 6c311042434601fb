package sqlite

import (
	"context"
	"database/sql"
	"slices"

	"github.com/mailustats/mailustats/plugin/history"
)

// The statements that store what history plans, shared by the writer and Rebuild. An
// aggregate's upsert adds to what it holds.
const (
	insertChangesHead = `INSERT INTO changes (instance, day, from_version, to_version) VALUES `
	insertChangesTail = ` ON CONFLICT DO NOTHING`

	upsertVersionFirstHead = `INSERT INTO instance_versions (instance, version, first_day) VALUES `
	upsertVersionFirstTail = ` ON CONFLICT (instance, version) DO UPDATE SET first_day = excluded.first_day`

	addDayVersionsHead = `INSERT INTO day_versions (day, version, instances) VALUES `
	addDayVersionsTail = ` ON CONFLICT (day, version) DO UPDATE SET instances = instances + excluded.instances`
	addDayCountsHead   = `INSERT INTO day_counts (day, instances, new_instances) VALUES `
	addDayCountsTail   = ` ON CONFLICT (day) DO UPDATE SET instances = instances + excluded.instances,
		new_instances = new_instances + excluded.new_instances`
	addAdoptionHead   = `INSERT INTO day_adoption (day, version, instances) VALUES `
	addAdoptionTail   = ` ON CONFLICT (day, version) DO UPDATE SET instances = instances + excluded.instances`
	addDayChangesHead = `INSERT INTO day_changes (day, from_version, to_version, instances) VALUES `
	addDayChangesTail = ` ON CONFLICT (day, from_version, to_version) DO UPDATE SET instances = instances + excluded.instances`
	addTrendHead      = `INSERT INTO trend_deltas (window_days, day, version, delta) VALUES `
	addTrendTail      = ` ON CONFLICT (window_days, day, version) DO UPDATE SET delta = delta + excluded.delta`

	row3 = `(?, ?, ?)`
	row4 = `(?, ?, ?, ?)`
	row5 = `(?, ?, ?, ?, ?)`
	row6 = `(?, ?, ?, ?, ?, ?)`
)

// aggregateTables are the tables computed from the sightings, but for instances, whose rows
// stay and whose state is recomputed.
var aggregateTables = []string{"changes", "instance_versions", "day_versions", "day_counts", "day_adoption", "day_changes", "change_instances", "trend_deltas"}

// planStatements store what history plans.
type planStatements struct {
	changes, versionFirst, dayVersions, dayCounts, adoption, dayChanges, trend multiRow
}

func newPlanStatements() *planStatements {
	return &planStatements{
		changes:      multiRow{head: insertChangesHead, row: row4, tail: insertChangesTail},
		versionFirst: multiRow{head: upsertVersionFirstHead, row: row3, tail: upsertVersionFirstTail},
		dayVersions:  multiRow{head: addDayVersionsHead, row: row3, tail: addDayVersionsTail},
		dayCounts:    multiRow{head: addDayCountsHead, row: row3, tail: addDayCountsTail},
		adoption:     multiRow{head: addAdoptionHead, row: row3, tail: addAdoptionTail},
		dayChanges:   multiRow{head: addDayChangesHead, row: row4, tail: addDayChangesTail},
		trend:        multiRow{head: addTrendHead, row: row4, tail: addTrendTail},
	}
}

func (p *planStatements) all() []*multiRow {
	return []*multiRow{&p.changes, &p.versionFirst, &p.dayVersions, &p.dayCounts, &p.adoption, &p.dayChanges, &p.trend}
}

// ints are rows of integers, flattened.
type ints struct {
	width int
	v     []int64
}

func (r *ints) add(row ...int64) { r.v = append(r.v, row...) }

func (r *ints) len() int { return len(r.v) / r.width }

func (r *ints) vars(args []any, i int) []any {
	for _, x := range r.v[i*r.width : (i+1)*r.width] {
		args = append(args, x)
	}
	return args
}

func (r *ints) reset() { r.v = r.v[:0] }

// exec runs m over the rows of r.
func (r *ints) exec(ctx context.Context, tx *sql.Tx, m *multiRow, hurry func() bool) error {
	return m.exec(ctx, tx, r.len(), r.vars, hurry)
}

// planRows are the rows that plans store, but for the sightings.
type planRows struct {
	states       ints // id, first_day, last_day, days, last_version
	changes      ints // instance, day, from_version, to_version
	versionFirst ints // instance, version, first_day
	made         ints // instance, ChangesAfter, from_version, to_version, Made's count
}

func newPlanRows() *planRows {
	return &planRows{states: ints{width: 5}, changes: ints{width: 4}, versionFirst: ints{width: 3}, made: ints{width: 5}}
}

// add adds the rows of the plan of instance id. The versions of the plan are those of its
// instance's rows, which the transaction has met.
func (r *planRows) add(id int64, p history.Plan, versions *versionNames) error {
	last, err := versions.known(p.State.LastVersion)
	if err != nil {
		return err
	}
	r.states.add(id, int64(p.State.FirstDay), int64(p.State.LastDay), p.State.Days, last)
	for _, c := range p.Changes {
		from, to, err := pairIDs(versions, history.Pair{From: c.From, To: c.To})
		if err != nil {
			return err
		}
		r.changes.add(id, int64(c.Day), from, to)
	}
	for pair, n := range p.Made {
		from, to, err := pairIDs(versions, pair)
		if err != nil {
			return err
		}
		r.made.add(id, int64(p.ChangesAfter), from, to, n)
	}
	for name, day := range p.VersionFirst {
		v, err := versions.known(name)
		if err != nil {
			return err
		}
		r.versionFirst.add(id, v, int64(day))
	}
	return nil
}

// pairIDs are the ids of the versions of a change, which the transaction has met.
func pairIDs(versions *versionNames, p history.Pair) (from, to int64, err error) {
	if from, err = versions.known(p.From); err == nil {
		to, err = versions.known(p.To)
	}
	return from, to, err
}

func (r *planRows) reset() {
	r.states.reset()
	r.changes.reset()
	r.versionFirst.reset()
	r.made.reset()
}

// dayVersionRows turns counts by day and version into rows of day, version id and count,
// skipping zeros.
func dayVersionRows(counts map[history.DayVersion]int64, versions *versionNames) ([][]int64, error) {
	var rows [][]int64
	for k, n := range counts {
		if n == 0 {
			continue
		}
		v, err := versions.known(k.Version)
		if err != nil {
			return nil, err
		}
		rows = append(rows, []int64{int64(k.Day), v, n})
	}
	return rows, nil
}

// writeDelta adds d to the aggregate tables, in the order of their keys, skipping zeros.
func (p *planStatements) writeDelta(ctx context.Context, tx *sql.Tx, d *history.Delta, versions *versionNames, hurry func() bool) error {
	dayVersions, err := dayVersionRows(d.DayVersion, versions)
	if err != nil {
		return err
	}
	adoption, err := dayVersionRows(d.Adoption, versions)
	if err != nil {
		return err
	}
	var trend, days, dayChanges [][]int64
	for c, n := range d.Changes {
		if n != 0 {
			from, to, err := pairIDs(versions, history.Pair{From: c.From, To: c.To})
			if err != nil {
				return err
			}
			dayChanges = append(dayChanges, []int64{int64(c.Day), from, to, n})
		}
	}
	for k, n := range d.Trend {
		if n != 0 {
			v, err := versions.known(k.Version)
			if err != nil {
				return err
			}
			trend = append(trend, []int64{int64(k.Window), int64(k.Day), v, n})
		}
	}
	for day, c := range d.Day {
		if c != (history.DayCount{}) {
			days = append(days, []int64{int64(day), c.Seen, c.New})
		}
	}
	for _, t := range []struct {
		m     *multiRow
		width int
		rows  [][]int64
	}{{&p.dayVersions, 3, dayVersions}, {&p.dayCounts, 3, days}, {&p.adoption, 3, adoption},
		{&p.dayChanges, 4, dayChanges}, {&p.trend, 4, trend}} {
		slices.SortFunc(t.rows, slices.Compare)
		flat := ints{width: t.width}
		for _, row := range t.rows {
			flat.add(row...)
		}
		if err := flat.exec(ctx, tx, t.m, hurry); err != nil {
			return err
		}
	}
	return nil
}
