package sqlite

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/mailustats/mailustats/plugin/history"
	"github.com/mailustats/mailustats/plugin/sink"
	"github.com/mailustats/mailustats/plugin/sink/table"
)

const (
	insertBatchSQL = `INSERT INTO batches (id, at) VALUES (?, ?) ON CONFLICT DO NOTHING`
	lastIDSQL      = `SELECT coalesce(max(id), 0) FROM instances`

	insertEventsHead = `INSERT INTO events (time, version, instance) VALUES `

	// findInstances reads the rows of instances by key, each with the number it was given and
	// its sightings of its last day: a search of the key, of the id, and of the sightings' key
	// each.
	findInstancesHead = `WITH batch (n, key) AS (VALUES `
	findInstancesTail = `) SELECT batch.n, i.id, i.first_day, i.last_day, i.days, i.last_version,
		s.version, s.hits, s.first_seen, s.last_seen
		FROM batch JOIN instances AS i ON i.key = batch.key
		LEFT JOIN sightings AS s ON s.instance = i.id AND s.day = i.last_day`

	// findSightings reads, for each instance and the first day of its rows in a batch, the
	// instance's sightings from the last day before that with sightings on, or from that day if
	// none: two searches of the key each.
	findSightingsHead = `WITH batch (instance, first_day) AS (VALUES `
	pairRow           = `(?, ?)`
	findSightingsTail = `) SELECT s.instance, s.day, s.version, s.hits, s.first_seen, s.last_seen
		FROM batch CROSS JOIN sightings AS s ON s.instance = batch.instance AND s.day >= coalesce(
			(SELECT max(day) FROM sightings AS p WHERE p.instance = batch.instance AND p.day < batch.first_day),
			batch.first_day)`

	// findVersionFirst reads the first days of some instances' versions.
	findVersionFirstHead = `WITH batch (instance, version) AS (VALUES `
	findVersionFirstTail = `) SELECT iv.instance, iv.version, iv.first_day FROM batch CROSS JOIN instance_versions AS iv
		ON iv.instance = batch.instance AND iv.version = batch.version`

	upsertSightingsHead = `INSERT INTO sightings (instance, day, version, hits, first_seen, last_seen) VALUES `
	upsertSightingsTail = ` ON CONFLICT (instance, day, version) DO UPDATE SET hits = excluded.hits,
		first_seen = excluded.first_seen, last_seen = excluded.last_seen`

	upsertInstancesHead = `INSERT INTO instances (id, key, first_day, last_day, days, last_version) VALUES `
	upsertInstancesTail = ` ON CONFLICT (id) DO UPDATE SET first_day = excluded.first_day, last_day = excluded.last_day,
		days = excluded.days, last_version = excluded.last_version`

	// deleteChanges deletes the changes of instances dated after a day.
	deleteChangesHead = `WITH batch (instance, after) AS (VALUES `
	deleteChangesTail = `) DELETE FROM changes WHERE instance IN (SELECT instance FROM batch)
		AND day > (SELECT after FROM batch WHERE batch.instance = changes.instance)`
)

// OnNewInstances makes every write that stores a batch then call f with the number of its
// distinct instances that the database did not know before, if there are any; a retried batch
// that is skipped calls nothing. Call it once, after Open and before the first Write. The count
// is exact even with several processes on one file, since their writes take turns.
func (s *store) OnNewInstances(f func(n int)) { s.onNew = f }

// Write adds the batch to the sightings and the aggregates, and to the events if kept, in one
// transaction, which also deletes a chunk of the expired rows when pruning is due. A batch whose
// ID is already stored is a retry of a write that committed, and is skipped.
func (s *store) Write(ctx context.Context, batch sink.Batch) (err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	defer func() {
		if err != nil { // what the transaction added is gone
			s.versions, s.kind = versionNames{}, ""
		}
	}()
	now := s.now()
	fresh, err := s.claim(ctx, tx, batch.ID, now)
	if err != nil {
		return fmt.Errorf("batch id: %w", err)
	}
	if !fresh {
		return tx.Commit()
	}
	rows := s.agg.Aggregate(batch.Records)
	defer clear(rows) // the rows are ours until the next batch; let their strings go before
	newInstances, err := s.writeSightings(ctx, tx, rows, batch.Hurry)
	if err != nil {
		return err
	}
	if s.opts.Events {
		if err := s.insertEvents.exec(ctx, tx, len(batch.Records), eventVars(batch.Records), batch.Hurry); err != nil {
			return fmt.Errorf("events: %w", err)
		}
	}
	prune, full := s.prunes.Due(now), false
	if prune {
		if full, err = s.prune(ctx, tx, now); err != nil {
			return fmt.Errorf("prune: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if prune {
		s.prunes.Done(now, full)
	}
	if newInstances > 0 && s.onNew != nil {
		s.onNew(newInstances)
	}
	return nil
}

// batchInstance is an instance of a batch while the batch is planned.
type batchInstance struct {
	id     int64 // 0 until known or numbered
	key    table.Key
	keyVar any            // key as a statement's variable, converted once
	rows   []history.Row  // the batch's, one per day and version
	last   []history.Row  // the sightings of its last day, when known
	last1  [1]history.Row // last's memory while it holds one sighting, as it mostly does
	before history.Before
}

// batchBuffers are the memory writeSightings plans a batch in, kept for the next batch: a
// store has one writer at a time.
type batchBuffers struct {
	keyed     []keyedRow
	rows      []history.Row // the instances' rows, one instance after another
	instances []batchInstance
	pointers  []*batchInstance
	indexes   []any // 0, 1, 2... as statements' variables, converted once for all batches

	sightings    ints
	changesAfter ints // the instances whose changes may be replaced: id, ChangesAfter
	newChanges   ints // the instances with changes to insert: id, ChangesAfter
	out          planRows
}

func newBatchBuffers() *batchBuffers {
	return &batchBuffers{sightings: ints{width: 6}, changesAfter: ints{width: 2},
		newChanges: ints{width: 2}, out: *newPlanRows()}
}

// reset empties the buffers, letting go of what they point to.
func (b *batchBuffers) reset() {
	clear(b.keyed)
	clear(b.rows)
	clear(b.instances)
	clear(b.pointers)
	b.keyed, b.rows, b.instances, b.pointers = b.keyed[:0], b.rows[:0], b.instances[:0], b.pointers[:0]
	b.sightings.reset()
	b.changesAfter.reset()
	b.newChanges.reset()
	b.out.reset()
}

// repeat reports whether the batch only adds to the one sighting of the known instance's last
// day: the batch's rows are that day's, of the version of that sighting. Then no state,
// change or aggregate moves, and the sighting is all there is to store; history need not plan.
func (b *batchInstance) repeat() bool {
	return b.before.Known && len(b.rows) == 1 && len(b.last) == 1 &&
		b.rows[0].Day == b.before.State.LastDay && b.rows[0].Version == b.last[0].Version
}

// addRow adds r to rows, merging it with one of rows[from:] of the same day and version: two
// texts of one key, in hex digits of different case.
func addRow(rows []history.Row, from int, r history.Row) []history.Row {
	for i := from; i < len(rows); i++ {
		if o := &rows[i]; o.Day == r.Day && o.Version == r.Version {
			o.Merge(r)
			return rows
		}
	}
	return append(rows, r)
}

// writeSightings stores the rows of a batch, as "Writing a batch" of the store's specification
// says: each instance's rows planned by history from what the database holds of it, then the
// plans and the aggregates' delta stored. An instance the batch only sees again (repeat), as
// most are under load, costs a read and a write of one sighting: it is not planned. It returns
// the number of instances not known before.
func (s *store) writeSightings(ctx context.Context, tx *sql.Tx, rows []table.Daily, hurry func() bool) (int, error) {
	b := s.buf
	defer b.reset()
	instances, kind, err := b.group(rows)
	if err != nil || len(instances) == 0 {
		return 0, err
	}
	if err := s.checkKind(ctx, tx, kind); err != nil {
		return 0, err
	}
	for i, r := range rows {
		if i == 0 || r.Version != rows[i-1].Version {
			if _, err := s.versions.id(ctx, tx, r.Version); err != nil {
				return 0, err
			}
		}
	}
	if err := s.findInstances(ctx, tx, instances, hurry); err != nil {
		return 0, fmt.Errorf("instances: %w", err)
	}
	known, err := s.number(ctx, tx, instances)
	if err != nil {
		return 0, err
	}
	if err := s.findBefore(ctx, tx, known, hurry); err != nil {
		return 0, err
	}
	// Stored in the order of the keys of the tables, ids first.
	slices.SortFunc(instances, func(a, b *batchInstance) int { return cmp.Compare(a.id, b.id) })

	delta := history.NewDelta()
	out, sightings := &b.out, &b.sightings
	// The instances whose state is new or changed, each with the index of its state in out.
	type changedState struct {
		inst  *batchInstance
		state int
	}
	var changed []changedState
	changesAfter, newChanges := &b.changesAfter, &b.newChanges
	for _, inst := range instances {
		if inst.repeat() {
			r := inst.last[0]
			r.Merge(inst.rows[0])
			addSighting(sightings, inst.id, r, &s.versions)
			continue
		}
		p := delta.Plan(inst.before, inst.rows)
		if err := out.add(inst.id, p, &s.versions); err != nil {
			return 0, err
		}
		slices.SortFunc(p.Rows, func(a, b history.Row) int {
			return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(s.versions.ids[a.Version], s.versions.ids[b.Version]))
		})
		for _, r := range p.Rows {
			addSighting(sightings, inst.id, r, &s.versions)
		}
		if !inst.before.Known || p.State != inst.before.State {
			changed = append(changed, changedState{inst, out.states.len() - 1})
		}
		if p.Replaces {
			changesAfter.add(inst.id, int64(p.ChangesAfter))
		}
		if len(p.Changes) > 0 {
			newChanges.add(inst.id, int64(p.ChangesAfter))
		}
	}

	steps := []struct {
		what string
		run  func() error
	}{
		{"sightings", func() error { return sightings.exec(ctx, tx, &s.upsertSightings, hurry) }},
		{"instances", func() error {
			return s.upsertInstances.exec(ctx, tx, len(changed), func(args []any, i int) []any {
				c := changed[i]
				st := out.states.v[c.state*out.states.width:]
				return append(args, c.inst.id, c.inst.keyVar, st[1], st[2], st[3], st[4])
			}, hurry)
		}},
		{"changes", func() error { return changesAfter.exec(ctx, tx, &s.deleteChanges, hurry) }},
		{"changes", func() error { return out.changes.exec(ctx, tx, &s.plans.changes, hurry) }},
		{"changes", func() error { return newChanges.exec(ctx, tx, &s.markRepeats, hurry) }},
		{"change_instances", func() error { return out.made.exec(ctx, tx, &s.addChangeInstances, hurry) }},
		{"instance_versions", func() error { return out.versionFirst.exec(ctx, tx, &s.plans.versionFirst, hurry) }},
		{"aggregates", func() error { return s.plans.writeDelta(ctx, tx, delta, &s.versions, hurry) }},
	}
	for _, step := range steps {
		if err := step.run(); err != nil {
			return 0, fmt.Errorf("%s: %w", step.what, err)
		}
	}
	return len(instances) - len(known), nil
}

// addSighting adds to out the row of sightings that stores r of instance id, whose version
// the transaction has met.
func addSighting(out *ints, id int64, r history.Row, versions *versionNames) {
	_, first := history.DayNumber(time.Unix(r.FirstSeen, 0))
	_, last := history.DayNumber(time.Unix(r.LastSeen, 0))
	out.add(id, int64(r.Day), versions.ids[r.Version], r.Hits, int64(first), int64(last))
}

// keyedRow is a row of a batch with the key of its instance.
type keyedRow struct {
	key table.Key
	row history.Row
}

// group converts the rows of a batch and groups them by instance, in the order of their keys
// (the order of the lookup), and returns the kind of their instance IDs.
func (b *batchBuffers) group(rows []table.Daily) ([]*batchInstance, string, error) {
	var kind string
	for _, r := range rows {
		key, k, err := table.ParseKey(r.Instance)
		if err != nil {
			return nil, "", err
		}
		if kind == "" {
			kind = k
		} else if k != kind {
			return nil, "", errors.New("the batch holds both raw instance IDs and hash_ids digests")
		}
		day, _ := history.DayNumber(r.FirstSeen)
		b.keyed = append(b.keyed, keyedRow{key, history.Row{Day: day, Version: r.Version, Hits: r.Hits,
			FirstSeen: r.FirstSeen.Unix(), LastSeen: r.LastSeen.Unix()}})
	}
	slices.SortFunc(b.keyed, func(x, y keyedRow) int { return bytes.Compare(x.key[:], y.key[:]) })
	b.rows = slices.Grow(b.rows, len(b.keyed)) // so that the instances' rows share one array
	for i := 0; i < len(b.keyed); {
		key, from := b.keyed[i].key, len(b.rows)
		for ; i < len(b.keyed) && b.keyed[i].key == key; i++ {
			b.rows = addRow(b.rows, from, b.keyed[i].row)
		}
		b.instances = append(b.instances, batchInstance{key: key, rows: b.rows[from:len(b.rows):len(b.rows)]})
	}
	for i := range b.instances {
		inst := &b.instances[i]
		inst.keyVar = inst.key[:]
		b.pointers = append(b.pointers, inst)
	}
	return b.pointers, kind, nil
}

// index returns i as a statement's variable, converted once for all batches.
func (b *batchBuffers) index(i int) any {
	for len(b.indexes) <= i {
		b.indexes = append(b.indexes, int64(len(b.indexes)))
	}
	return b.indexes[i]
}

// kindNames name the kinds of instance IDs in errors.
var kindNames = map[string]string{table.KindUUID: "raw instance IDs", table.KindHash: "hash_ids digests"}

// checkKind refuses a batch whose instance IDs are of another kind than the database holds,
// and records the kind with the first instances stored.
func (s *store) checkKind(ctx context.Context, tx *sql.Tx, kind string) error {
	if s.kind == "" {
		err := tx.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = ?`, settingIDs).Scan(&s.kind)
		if errors.Is(err, sql.ErrNoRows) {
			s.kind = kind
			_, err = tx.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES (?, ?)`, settingIDs, kind)
		}
		if err != nil {
			return fmt.Errorf("settings: %w", err)
		}
	}
	if s.kind != kind {
		return fmt.Errorf("the database holds %s; this server stores %s", kindNames[s.kind], kindNames[kind])
	}
	return nil
}

// findInstances reads what the database holds of the instances: their state, and the
// sightings of their last day.
func (s *store) findInstances(ctx context.Context, tx *sql.Tx, instances []*batchInstance, hurry func() bool) error {
	keys := func(args []any, i int) []any { return append(args, s.buf.index(i), instances[i].keyVar) }
	// The columns of a row, declared once: Scan would move each to the heap. They are int64s,
	// as Scan converts to other types through text.
	var n, id, firstDay, lastDay, days, lastVersion int64
	var version, hits, firstSeen, lastSeen sql.NullInt64
	return s.findKeys.scan(ctx, tx, len(instances), keys, hurry, func(r *sql.Rows) error {
		if err := r.Scan(&n, &id, &firstDay, &lastDay, &days, &lastVersion,
			&version, &hits, &firstSeen, &lastSeen); err != nil {
			return err
		}
		inst := instances[n]
		inst.id = id
		if days == 0 {
			return nil
		}
		if !inst.before.Known { // the first of the instance's rows
			name, err := s.versions.name(ctx, tx, lastVersion)
			if err != nil {
				return err
			}
			st := history.State{FirstDay: int32(firstDay), LastDay: int32(lastDay), Days: days, LastVersion: name}
			inst.before = history.Before{Known: true, State: st}
			inst.last = inst.last1[:0]
		}
		if !version.Valid {
			return nil
		}
		sg := sighting{instance: id, day: lastDay, version: version.Int64, hits: hits.Int64,
			firstSeen: firstSeen.Int64, lastSeen: lastSeen.Int64}
		row, err := sg.row(ctx, tx, &s.versions)
		inst.last = append(inst.last, row)
		return err
	})
}

// number numbers the instances the database has no row of, and returns the known ones.
func (s *store) number(ctx context.Context, tx *sql.Tx, instances []*batchInstance) ([]*batchInstance, error) {
	var known []*batchInstance
	var next int64
	for _, inst := range instances {
		if inst.before.Known {
			known = append(known, inst)
		}
		if inst.id != 0 {
			continue
		}
		if next == 0 {
			if err := tx.StmtContext(ctx, s.lastID).QueryRowContext(ctx).Scan(&next); err != nil {
				return nil, fmt.Errorf("instances: %w", err)
			}
		}
		next++
		inst.id = next
	}
	return known, nil
}

// findBefore reads what history needs of the known instances it is to plan: their sightings
// from the last day before the batch's (Before.Since), and the first days of the batch's
// versions. The sightings of an instance whose batch rows all come after its last day are
// those of its last day, which findInstances read.
func (s *store) findBefore(ctx context.Context, tx *sql.Tx, known []*batchInstance, hurry func() bool) error {
	byID := make(map[int64]*batchInstance, len(known))
	firstDays := ints{width: 2}
	pairs := ints{width: 2} // instance, version
	for _, inst := range known {
		if inst.repeat() {
			continue
		}
		byID[inst.id] = inst
		inst.before.Since = history.FirstDay(inst.rows)
		inst.before.VersionFirst = map[string]int32{}
		if inst.before.Since > inst.before.State.LastDay {
			inst.before.Since, inst.before.Rows = inst.before.State.LastDay, inst.last
		} else {
			firstDays.add(inst.id, int64(inst.before.Since))
		}
		for i, r := range inst.rows {
			if !slices.ContainsFunc(inst.rows[:i], func(o history.Row) bool { return o.Version == r.Version }) {
				pairs.add(inst.id, s.versions.ids[r.Version])
			}
		}
	}
	err := s.findSightings.scan(ctx, tx, firstDays.len(), firstDays.vars, hurry, func(r *sql.Rows) error {
		var sg sighting
		if err := r.Scan(&sg.instance, &sg.day, &sg.version, &sg.hits, &sg.firstSeen, &sg.lastSeen); err != nil {
			return err
		}
		row, err := sg.row(ctx, tx, &s.versions)
		inst := byID[sg.instance]
		inst.before.Rows = append(inst.before.Rows, row)
		inst.before.Since = min(inst.before.Since, int32(sg.day))
		return err
	})
	if err != nil {
		return fmt.Errorf("sightings: %w", err)
	}
	err = s.findVersionFirst.scan(ctx, tx, pairs.len(), pairs.vars, hurry, func(r *sql.Rows) error {
		var id, version, first int64
		if err := r.Scan(&id, &version, &first); err != nil {
			return err
		}
		byID[id].before.VersionFirst[s.versions.names[version]] = int32(first)
		return nil
	})
	if err != nil {
		return fmt.Errorf("instance_versions: %w", err)
	}
	return nil
}

// claim stores the batch ID and reports whether it is new. A batch without an ID cannot be
// recognised, so it always counts as new.
func (s *store) claim(ctx context.Context, tx *sql.Tx, id string, now time.Time) (bool, error) {
	if id == "" {
		return true, nil
	}
	res, err := tx.StmtContext(ctx, s.insertBatch).ExecContext(ctx, id, now.Unix())
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// eventVars gives the variables of insertEvents for records.
func eventVars(records []sink.Record) rowVars {
	return func(args []any, i int) []any {
		r := records[i]
		return append(args, r.Time.Unix(), r.Version, r.Instance)
	}
}

// Pruning deletes at most table.PruneChunk rows of a table, the oldest events first, found
// through the index on their time.
const (
	pruneBatchesSQL = `DELETE FROM batches WHERE id IN
		(SELECT id FROM batches WHERE at < ? AND ` + table.PruneKept + ` LIMIT ?)`
	pruneEventsSQL = `DELETE FROM events WHERE rowid IN
		(SELECT rowid FROM events WHERE time < ? ORDER BY time LIMIT ?)`
)

// prune deletes a chunk of the batch IDs too old to see a retry and, with a retention, of the
// old events; full reports that it deleted a whole chunk of either, so more may be left.
func (s *store) prune(ctx context.Context, tx *sql.Tx, now time.Time) (full bool, err error) {
	full, err = pruneChunk(ctx, tx, pruneBatchesSQL, now.Add(-table.BatchKeep))
	if err != nil || s.opts.Retention == 0 {
		return full, err
	}
	events, err := pruneChunk(ctx, tx, pruneEventsSQL, now.Add(-s.opts.Retention))
	return full || events, err
}

// pruneChunk runs one of the pruning statements on the rows older than before and reports
// whether it deleted a whole chunk.
func pruneChunk(ctx context.Context, tx *sql.Tx, query string, before time.Time) (bool, error) {
	res, err := tx.ExecContext(ctx, query, before.Unix(), table.PruneChunk)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == table.PruneChunk, err
}
