package postgres

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mailustats/mailustats/plugin/history"
	"github.com/mailustats/mailustats/plugin/sink"
)

// The statements that store plans and add a Delta to the aggregates, each from arrays; the
// aggregates' rows come in key order, so concurrent writers lock them in one order.
const (
	upsertSightings = `INSERT INTO sightings (instance, day, version, hits, first_seen, last_seen)
SELECT * FROM unnest($1::bigint[], $2::integer[], $3::bigint[], $4::bigint[], $5::integer[], $6::integer[])
ON CONFLICT (instance, day, version) DO UPDATE SET
	hits = EXCLUDED.hits, first_seen = EXCLUDED.first_seen, last_seen = EXCLUDED.last_seen`
	updateStates = `UPDATE instances AS i
SET first_day = u.first_day, last_day = u.last_day, days = u.days, last_version = u.last_version
FROM unnest($1::bigint[], $2::integer[], $3::integer[], $4::integer[], $5::bigint[]) AS u (id, first_day, last_day, days, last_version)
WHERE i.id = u.id`
	deleteChanges = `DELETE FROM changes AS c
USING unnest($1::bigint[], $2::integer[]) AS d (instance, after)
WHERE c.instance = d.instance AND c.day > d.after`
	// The changes come with the day each last made the same change before, if that is among
	// the changes inserted too, else NULL; then the day is found among the changes stored, by
	// a search of their primary key (the statement does not see the rows it inserts).
	insertChanges = `INSERT INTO changes (instance, day, from_version, to_version, previous_day)
SELECT n.instance, n.day, n.from_version, n.to_version, coalesce(n.previous_day, (
	SELECT max(p.day) FROM changes AS p WHERE p.instance = n.instance AND p.day < n.day
		AND p.from_version = n.from_version AND p.to_version = n.to_version))
FROM unnest($1::bigint[], $2::integer[], $3::bigint[], $4::bigint[], $5::integer[])
	AS n (instance, day, from_version, to_version, previous_day)`
	upsertVersionFirst = `INSERT INTO instance_versions (instance, version, first_day)
SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::integer[])
ON CONFLICT (instance, version) DO UPDATE SET first_day = EXCLUDED.first_day`
	addDayVersions = `INSERT INTO day_versions (day, version, instances)
SELECT * FROM unnest($1::integer[], $2::bigint[], $3::integer[])
ON CONFLICT (day, version) DO UPDATE SET instances = day_versions.instances + EXCLUDED.instances`
	addDayCounts = `INSERT INTO day_counts (day, instances, new_instances)
SELECT * FROM unnest($1::integer[], $2::integer[], $3::integer[])
ON CONFLICT (day) DO UPDATE SET
	instances = day_counts.instances + EXCLUDED.instances,
	new_instances = day_counts.new_instances + EXCLUDED.new_instances`
	addDayAdoption = `INSERT INTO day_adoption (day, version, instances)
SELECT * FROM unnest($1::integer[], $2::bigint[], $3::integer[])
ON CONFLICT (day, version) DO UPDATE SET instances = day_adoption.instances + EXCLUDED.instances`
	addDayChanges = `INSERT INTO day_changes (day, from_version, to_version, instances)
SELECT * FROM unnest($1::integer[], $2::bigint[], $3::bigint[], $4::integer[])
ON CONFLICT (day, from_version, to_version) DO UPDATE SET instances = day_changes.instances + EXCLUDED.instances`
	addTrendDeltas = `INSERT INTO trend_deltas (window_days, day, version, delta)
SELECT * FROM unnest($1::integer[], $2::integer[], $3::bigint[], $4::integer[])
ON CONFLICT (window_days, day, version) DO UPDATE SET delta = trend_deltas.delta + EXCLUDED.delta`
)

// planColumns gathers what plans store, as the arrays of the statements that store it.
type planColumns struct {
	sightings struct {
		instance, version, hits []int64
		day, first, last        []int32
	}
	states struct {
		id, lastVersion         []int64
		firstDay, lastDay, days []int32
	}
	replaced struct { // the changes to replace: those of instance after the day
		instance []int64
		after    []int32
	}
	changes struct {
		instance, from, to []int64
		day                []int32
		previous           []*int32 // the day of the same change before, if the plan has it
	}
	versionFirst struct {
		instance, version []int64
		day               []int32
	}
}

// add adds plan, of instance id, to c; ids are the ids of its versions. The state is stored
// only if it is not the one stored, as when an instance announces itself again on the same
// day. The changes of an instance are replaced where the store holds some after
// plan.ChangesAfter (plan.Replaces), else only added.
func (c *planColumns) add(id int64, stored history.State, plan history.Plan, ids map[string]int64) {
	s := &c.sightings
	for _, r := range plan.Rows {
		s.instance = append(s.instance, id)
		s.day = append(s.day, r.Day)
		s.version = append(s.version, ids[r.Version])
		s.hits = append(s.hits, r.Hits)
		s.first = append(s.first, secondOf(r.FirstSeen))
		s.last = append(s.last, secondOf(r.LastSeen))
	}
	if plan.State != stored {
		st := &c.states
		st.id = append(st.id, id)
		st.firstDay = append(st.firstDay, plan.State.FirstDay)
		st.lastDay = append(st.lastDay, plan.State.LastDay)
		st.days = append(st.days, int32(plan.State.Days))
		st.lastVersion = append(st.lastVersion, ids[plan.State.LastVersion])
	}
	if plan.Replaces {
		c.replaced.instance = append(c.replaced.instance, id)
		c.replaced.after = append(c.replaced.after, plan.ChangesAfter)
	}
	for _, ch := range plan.Changes {
		c.changes.instance = append(c.changes.instance, id)
		c.changes.day = append(c.changes.day, ch.Day)
		c.changes.from = append(c.changes.from, ids[ch.From])
		c.changes.to = append(c.changes.to, ids[ch.To])
		c.changes.previous = append(c.changes.previous, previousDay(plan.Changes, ch))
	}
	for _, v := range slices.Sorted(maps.Keys(plan.VersionFirst)) {
		c.versionFirst.instance = append(c.versionFirst.instance, id)
		c.versionFirst.version = append(c.versionFirst.version, ids[v])
		c.versionFirst.day = append(c.versionFirst.day, plan.VersionFirst[v])
	}
}

// previousDay is the last day before ch's on which changes has the same change, or nil.
func previousDay(changes []history.Change, ch history.Change) *int32 {
	var day *int32
	for _, o := range changes {
		if o.From == ch.From && o.To == ch.To && o.Day < ch.Day && (day == nil || o.Day > *day) {
			day = &o.Day
		}
	}
	return day
}

// len is how many instances c holds the new states of.
func (c *planColumns) len() int { return len(c.states.id) }

// queue queues the statements that store c on b.
func (c *planColumns) queue(b *pgx.Batch) {
	if s := c.sightings; len(s.instance) > 0 {
		b.Queue(upsertSightings, s.instance, s.day, s.version, s.hits, s.first, s.last)
	}
	if st := c.states; len(st.id) > 0 {
		b.Queue(updateStates, st.id, st.firstDay, st.lastDay, st.days, st.lastVersion)
	}
	if r := c.replaced; len(r.instance) > 0 {
		b.Queue(deleteChanges, r.instance, r.after)
	}
	if ch := c.changes; len(ch.instance) > 0 {
		b.Queue(insertChanges, ch.instance, ch.day, ch.from, ch.to, ch.previous)
	}
	if v := c.versionFirst; len(v.instance) > 0 {
		b.Queue(upsertVersionFirst, v.instance, v.version, v.day)
	}
}

// send stores c in tx and empties it.
func (c *planColumns) send(ctx context.Context, tx pgx.Tx) error {
	if c.len() == 0 {
		return nil
	}
	var b pgx.Batch
	c.queue(&b)
	*c = planColumns{}
	return tx.SendBatch(ctx, &b).Close()
}

// queueDelta queues on b the statements that add d to the aggregate tables, each in key order,
// leaving out zeros; ids are the ids of its versions.
func queueDelta(b *pgx.Batch, d *history.Delta, ids map[string]int64) {
	type dayVersion struct {
		day     int32
		version int64
		n       int64
	}
	dayVersions := func(m map[history.DayVersion]int64) (days []int32, versions, counts []int64) {
		var rows []dayVersion
		for k, n := range m {
			if n != 0 {
				rows = append(rows, dayVersion{k.Day, ids[k.Version], n})
			}
		}
		slices.SortFunc(rows, func(a, b dayVersion) int { return cmp.Or(cmp.Compare(a.day, b.day), cmp.Compare(a.version, b.version)) })
		for _, r := range rows {
			days, versions, counts = append(days, r.day), append(versions, r.version), append(counts, r.n)
		}
		return days, versions, counts
	}
	if days, versions, counts := dayVersions(d.DayVersion); len(days) > 0 {
		b.Queue(addDayVersions, days, versions, counts)
	}

	var days []int32
	var seen, added []int64
	for _, day := range slices.Sorted(maps.Keys(d.Day)) {
		if c := d.Day[day]; c != (history.DayCount{}) {
			days, seen, added = append(days, day), append(seen, c.Seen), append(added, c.New)
		}
	}
	if len(days) > 0 {
		b.Queue(addDayCounts, days, seen, added)
	}

	if days, versions, counts := dayVersions(d.Adoption); len(days) > 0 {
		b.Queue(addDayAdoption, days, versions, counts)
	}
	var changes, trend [][4]int64
	for c, n := range d.Changes {
		if n != 0 {
			changes = append(changes, [4]int64{int64(c.Day), ids[c.From], ids[c.To], n})
		}
	}
	queueKeyed(b, addDayChanges, changes)
	for k, n := range d.Trend {
		if n != 0 {
			trend = append(trend, [4]int64{int64(k.Window), int64(k.Day), ids[k.Version], n})
		}
	}
	queueKeyed(b, addTrendDeltas, trend)
}

// queueKeyed queues on b the statement sql over rows of a key of three integers and a count,
// in key order, so that concurrent writers lock them in one order; nothing when there are none.
func queueKeyed(b *pgx.Batch, sql string, rows [][4]int64) {
	if len(rows) == 0 {
		return
	}
	slices.SortFunc(rows, func(a, b [4]int64) int { return slices.Compare(a[:3], b[:3]) })
	var columns [4][]int64
	for c := range columns {
		columns[c] = make([]int64, len(rows))
		for i, r := range rows {
			columns[c][i] = r[c]
		}
	}
	b.Queue(sql, columns[0], columns[1], columns[2], columns[3])
}

// eventColumns turns records into the arrays of insertEvents.
func eventColumns(records []sink.Record) []any {
	times := make([]time.Time, len(records))
	versions := make([]string, len(records))
	instances := make([]string, len(records))
	for i, r := range records {
		times[i], versions[i], instances[i] = r.Time, r.Version, r.Instance
	}
	return []any{times, versions, instances}
}
