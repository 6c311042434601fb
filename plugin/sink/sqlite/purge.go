package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/mailustats/mailustats/plugin/history"
)

// The statements of a purge, over the instances of a chunk, and the query of the instances
// with rows to remove: those with rows in the days (?1 to ?2), of the version (?3) if one is
// asked for, and whose rows are all of one day if OnlyOnce. Each is a few index searches per
// instance.
const (
	candidatesHead    = `SELECT i.id, i.days FROM instances AS i WHERE `
	candidatesDays    = `i.last_day >= ?1 AND i.first_day <= ?2`
	candidatesOnce    = `i.last_day BETWEEN ?1 AND ?2 AND i.days = 1`
	candidatesRows    = ` AND EXISTS (SELECT 1 FROM sightings AS s WHERE s.instance = i.id AND s.day BETWEEN ?1 AND ?2`
	candidatesVersion = ` AND s.version = ?3`
	candidatesOrdered = `) ORDER BY i.id`
	readInstancesHead = `WITH chunk (instance) AS (VALUES `
	readInstancesTail = `) SELECT s.instance, s.day, s.version, s.hits, s.first_seen, s.last_seen
		FROM chunk CROSS JOIN sightings AS s ON s.instance = chunk.instance`
	deleteSightingsHead = `WITH gone (instance, day, version) AS (VALUES `
	deleteSightingsTail = `) DELETE FROM sightings WHERE (instance, day, version) IN (SELECT instance, day, version FROM gone)`
	deleteFirstDaysHead = `WITH gone (instance, version) AS (VALUES `
	deleteFirstDaysTail = `) DELETE FROM instance_versions WHERE (instance, version) IN (SELECT instance, version FROM gone)`
	deleteInstancesHead = `WITH gone (id) AS (VALUES `
	deleteInstancesTail = `) DELETE FROM instances WHERE id IN (SELECT id FROM gone)`
	addEverMadeHead     = `INSERT INTO change_instances (from_version, to_version, instances) VALUES `
	addEverMadeTail     = ` ON CONFLICT (from_version, to_version) DO UPDATE SET instances = instances + excluded.instances`

	row1 = `(?)`
)

// purgeLockWait is how long a purge's chunk waits for the write lock, which the server's
// writer may hold, before it gives up: busyTimeout at a time.
const purgeLockWait = time.Minute

// PurgeCandidates calls found, in id order, with the id and the days with rows of each
// instance that has rows in f's days, of its version if any, and if f.OnlyOnce on one day
// only: those that may have rows to remove. It reads one snapshot and takes no lock.
func (s *store) PurgeCandidates(ctx context.Context, f history.Filter, found func(id, days int64)) error {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	q, args := candidatesHead+candidatesDays, []any{f.From, f.To}
	if f.OnlyOnce {
		q = candidatesHead + candidatesOnce
	}
	q += candidatesRows
	if f.Version != "" {
		var version int64
		switch err := tx.QueryRowContext(ctx, `SELECT id FROM versions WHERE name = ?`, f.Version).Scan(&version); {
		case errors.Is(err, sql.ErrNoRows):
			return nil // no row has the version
		case err != nil:
			return err
		}
		q, args = q+candidatesVersion, append(args, version)
	}
	rows, err := tx.QueryContext(ctx, q+candidatesOrdered, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id, days int64
		if err := rows.Scan(&id, &days); err != nil {
			return err
		}
		found(id, days)
	}
	return rows.Err()
}

// PurgeChunk removes the rows f picks of the instances ids, in one write transaction, and
// keeps every aggregate as if those rows had never been written (history.Delta.Remove): an
// instance left with no rows goes. Then it calls removed with each instance that lost rows,
// those rows and whether it went, and returns how long it held the write lock. With dry it
// only reads, in a read transaction, and returns 0.
func (s *store) PurgeChunk(ctx context.Context, f history.Filter, ids []int64, dry bool,
	removed func(id int64, rows []history.Row, gone bool)) (time.Duration, error) {
	st, err := preparePurge(ctx, s.db)
	if err != nil {
		return 0, err
	}
	defer st.close()
	tx, err := s.beginChunk(ctx, dry)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	start := time.Now()
	rows, err := st.read(ctx, tx, ids, &s.versions)
	if err != nil {
		return 0, fmt.Errorf("sightings: %w", err)
	}
	losses := f.Losses(ids, rows)
	if !dry {
		delta, out := history.NewDelta(), newPurgeRows()
		for _, l := range losses {
			if err := out.add(l.ID, delta.Remove(l.Kept, l.Removed), l.Removed, &s.versions); err != nil {
				return 0, err
			}
		}
		if err := s.writePurge(ctx, tx, st, out, delta); err != nil {
			return 0, err
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	held := time.Since(start)
	for _, l := range losses {
		removed(l.ID, l.Removed, l.Gone())
	}
	if dry {
		return 0, nil
	}
	return held, nil
}

// beginChunk begins the transaction of a chunk: a read when dry, else a write, which waits for
// the write lock for up to purgeLockWait.
func (s *store) beginChunk(ctx context.Context, dry bool) (*sql.Tx, error) {
	if dry {
		return s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	}
	deadline := time.Now().Add(purgeLockWait)
	for {
		tx, err := s.db.BeginTx(ctx, nil)
		if err == nil || !isBusy(err) || time.Now().After(deadline) {
			return tx, err
		}
		time.Sleep(busyRetry)
	}
}

// writePurge stores what the removals of a chunk do, and adds delta to the aggregates.
func (s *store) writePurge(ctx context.Context, tx *sql.Tx, st *purgeStatements, out *purgeRows, delta *history.Delta) error {
	steps := []struct {
		what string
		run  func() error
	}{
		{"sightings", func() error { return out.sightings.exec(ctx, tx, &st.deleteSightings, inHurry) }},
		{"changes", func() error { return out.replaced.exec(ctx, tx, &s.deleteChanges, inHurry) }},
		{"changes", func() error { return out.changes.exec(ctx, tx, &s.plans.changes, inHurry) }},
		{"changes", func() error { return out.newChanges.exec(ctx, tx, &s.markRepeats, inHurry) }},
		{"instance_versions", func() error { return out.versionsGone.exec(ctx, tx, &st.deleteFirstDays, inHurry) }},
		{"instance_versions", func() error { return out.versionFirst.exec(ctx, tx, &s.plans.versionFirst, inHurry) }},
		{"instances", func() error { return out.states.exec(ctx, tx, &st.updateStates, inHurry) }},
		{"instances", func() error { return out.gone.exec(ctx, tx, &st.deleteInstances, inHurry) }},
		{"change_instances", func() error { return out.everMade().exec(ctx, tx, &st.addEverMade, inHurry) }},
		{"aggregates", func() error { return s.plans.writeDelta(ctx, tx, delta, &s.versions, inHurry) }},
	}
	for _, step := range steps {
		if err := step.run(); err != nil {
			return fmt.Errorf("%s: %w", step.what, err)
		}
	}
	return nil
}

// purgeStatements are the statements of a purge the writer has not prepared.
type purgeStatements struct {
	readInstances, deleteSightings, deleteFirstDays, updateStates, deleteInstances, addEverMade multiRow
}

// preparePurge prepares the statements of a purge on db, outside the transaction, so that the
// write lock is not held meanwhile.
func preparePurge(ctx context.Context, db *sql.DB) (*purgeStatements, error) {
	st := &purgeStatements{
		readInstances:   multiRow{head: readInstancesHead, row: row1, tail: readInstancesTail},
		deleteSightings: multiRow{head: deleteSightingsHead, row: row3, tail: deleteSightingsTail},
		deleteFirstDays: multiRow{head: deleteFirstDaysHead, row: pairRow, tail: deleteFirstDaysTail},
		updateStates:    multiRow{head: updateStatesHead, row: row5, tail: updateStatesTail},
		deleteInstances: multiRow{head: deleteInstancesHead, row: row1, tail: deleteInstancesTail},
		addEverMade:     multiRow{head: addEverMadeHead, row: row3, tail: addEverMadeTail},
	}
	for _, m := range st.all() {
		if err := m.prepare(ctx, db); err != nil {
			return nil, errors.Join(err, st.close())
		}
	}
	return st, nil
}

func (st *purgeStatements) all() []*multiRow {
	return []*multiRow{&st.readInstances, &st.deleteSightings, &st.deleteFirstDays, &st.updateStates, &st.deleteInstances, &st.addEverMade}
}

func (st *purgeStatements) close() error {
	var errs []error
	for _, m := range st.all() {
		errs = append(errs, m.close())
	}
	return errors.Join(errs...)
}

// read reads all the rows of the instances ids, by instance.
func (st *purgeStatements) read(ctx context.Context, tx *sql.Tx, ids []int64, versions *versionNames) (map[int64][]history.Row, error) {
	out := make(map[int64][]history.Row, len(ids))
	vars := func(args []any, i int) []any { return append(args, ids[i]) }
	err := st.readInstances.scan(ctx, tx, len(ids), vars, inHurry, func(r *sql.Rows) error {
		var sg sighting
		if err := r.Scan(&sg.instance, &sg.day, &sg.version, &sg.hits, &sg.firstSeen, &sg.lastSeen); err != nil {
			return err
		}
		row, err := sg.row(ctx, tx, versions)
		out[sg.instance] = append(out[sg.instance], row)
		return err
	})
	return out, err
}

// purgeRows are the rows a chunk's purge writes.
type purgeRows struct {
	sightings    ints // instance, day, version: the rows removed
	replaced     ints // instance, ChangesAfter: the instances whose changes after it go
	changes      ints // instance, day, from_version, to_version
	newChanges   ints // instance, ChangesAfter: those with changes inserted after it
	versionsGone ints // instance, version
	versionFirst ints // instance, version, first_day
	states       ints // id, first_day, last_day, days, last_version
	gone         ints // id
	made         map[[2]int64]int64
}

func newPurgeRows() *purgeRows {
	return &purgeRows{sightings: ints{width: 3}, replaced: ints{width: 2}, changes: ints{width: 4},
		newChanges: ints{width: 2}, versionsGone: ints{width: 2}, versionFirst: ints{width: 3},
		states: ints{width: 5}, gone: ints{width: 1}, made: map[[2]int64]int64{}}
}

// add adds what removing the rows removed does to instance id, r, whose versions the
// transaction has met.
func (p *purgeRows) add(id int64, r history.Removal, removed []history.Row, versions *versionNames) error {
	for _, row := range removed {
		v, err := versions.known(row.Version)
		if err != nil {
			return err
		}
		p.sightings.add(id, int64(row.Day), v)
	}
	if r.Replaces {
		p.replaced.add(id, int64(r.ChangesAfter))
	}
	for _, c := range r.Changes {
		from, to, err := pairIDs(versions, history.Pair{From: c.From, To: c.To})
		if err != nil {
			return err
		}
		p.changes.add(id, int64(c.Day), from, to)
	}
	if len(r.Changes) > 0 {
		p.newChanges.add(id, int64(r.ChangesAfter))
	}
	for _, name := range r.VersionsGone {
		v, err := versions.known(name)
		if err != nil {
			return err
		}
		p.versionsGone.add(id, v)
	}
	for name, day := range r.VersionFirst {
		v, err := versions.known(name)
		if err != nil {
			return err
		}
		p.versionFirst.add(id, v, int64(day))
	}
	for pair, n := range r.Made {
		from, to, err := pairIDs(versions, pair)
		if err != nil {
			return err
		}
		p.made[[2]int64{from, to}] += n
	}
	if r.Gone {
		p.gone.add(id)
		return nil
	}
	last, err := versions.known(r.State.LastVersion)
	if err != nil {
		return err
	}
	p.states.add(id, int64(r.State.FirstDay), int64(r.State.LastDay), r.State.Days, last)
	return nil
}

// everMade are the rows that add made to change_instances: from_version, to_version and the
// count, in key order, without zeros.
func (p *purgeRows) everMade() *ints {
	out := &ints{width: 3}
	for _, k := range slices.SortedFunc(maps.Keys(p.made), func(a, b [2]int64) int {
		return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1]))
	}) {
		if n := p.made[k]; n != 0 {
			out.add(k[0], k[1], n)
		}
	}
	return out
}
