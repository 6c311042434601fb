package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/mailustats/mailustats/plugin/history"
)

const (
	// updateStates sets the state of instances.
	updateStatesHead = `WITH s (id, first_day, last_day, days, last_version) AS (VALUES `
	updateStatesTail = `) UPDATE instances SET first_day = s.first_day, last_day = s.last_day, days = s.days,
		last_version = s.last_version FROM s WHERE instances.id = s.id`

	// allSightings reads the sightings an instance after the other, as the key orders them.
	allSightings = `SELECT instance, day, version, hits, first_seen, last_seen FROM sightings ORDER BY instance, day, version`
)

// Rebuild recomputes every aggregate from the sightings, and the state of every instance that
// has sightings, and replaces what the tables held: the migrations that ask for it fill
// them so, and `verify -repair` mends them. Run it in a transaction of the database's writer
// (BEGIN IMMEDIATE). It reads the sightings once, in order, and holds in memory one instance's
// rows and the per-day aggregates.
func Rebuild(ctx context.Context, tx *sql.Tx) error {
	for _, t := range aggregateTables {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+t); err != nil {
			return err
		}
	}
	statements := newPlanStatements()
	updateStates := multiRow{head: updateStatesHead, row: row5, tail: updateStatesTail}
	all := append(statements.all(), &updateStates)
	defer func() {
		for _, m := range all {
			m.close()
		}
	}()
	for _, m := range all {
		if err := m.prepare(ctx, tx); err != nil {
			return err
		}
	}

	var versions versionNames
	delta := history.NewDelta()
	out := newPlanRows()
	flush := func() error {
		err := errors.Join(out.states.exec(ctx, tx, &updateStates, inHurry),
			out.changes.exec(ctx, tx, &statements.changes, inHurry),
			out.versionFirst.exec(ctx, tx, &statements.versionFirst, inHurry))
		out.reset()
		return err
	}
	var instance int64
	var rows []history.Row // the sightings of instance
	plan := func() error {
		if len(rows) == 0 {
			return nil
		}
		err := out.add(instance, delta.Rebuild(rows), &versions)
		rows = rows[:0]
		if err != nil || out.states.len() < chunkRows {
			return err
		}
		return flush()
	}

	r, err := tx.QueryContext(ctx, allSightings)
	if err != nil {
		return err
	}
	defer r.Close()
	for r.Next() {
		var s sighting
		if err := r.Scan(&s.instance, &s.day, &s.version, &s.hits, &s.firstSeen, &s.lastSeen); err != nil {
			return err
		}
		if s.instance != instance {
			if err := plan(); err != nil {
				return err
			}
			instance = s.instance
		}
		row, err := s.row(ctx, tx, &versions)
		if err != nil {
			return err
		}
		rows = append(rows, row)
	}
	if err := r.Err(); err != nil {
		return err
	}
	if err := plan(); err != nil {
		return err
	}
	if err := flush(); err != nil {
		return err
	}
	if err := statements.writeDelta(ctx, tx, delta, &versions, inHurry); err != nil {
		return err
	}
	for _, q := range []string{markAllRepeats, fillChangeInstances} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// inHurry is the hurry of work that no answers wait for.
func inHurry() bool { return true }

// sighting is a row of the sightings table, in int64s: Scan converts to other types through
// text.
type sighting struct {
	instance, day, version, hits int64
	firstSeen, lastSeen          int64 // seconds after the day's midnight
}

// row is s as history plans it.
func (s sighting) row(ctx context.Context, tx *sql.Tx, versions *versionNames) (history.Row, error) {
	name, err := versions.name(ctx, tx, s.version)
	return history.Row{
		Day:       int32(s.day),
		Version:   name,
		Hits:      s.hits,
		FirstSeen: history.DayTime(int32(s.day), int32(s.firstSeen)).Unix(),
		LastSeen:  history.DayTime(int32(s.day), int32(s.lastSeen)).Unix(),
	}, err
}
