package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/mailustats/mailustats/plugin/history"
)

// Rebuild recomputes, in tx, everything the store keeps in step with the sightings, from the
// sightings alone: every instance's state, changes of version with their previous days and
// first day of each version, and the per-day aggregates, whose contents it replaces. It reads
// the sightings in instance order, planning each instance with history.Delta.Rebuild, and
// keeps only the per-day aggregates in memory. Writers wait for tx to end. The migrations
// that ask for it fill the tables with it, and it repairs them.
func Rebuild(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, lockWriters); err != nil {
		return err
	}
	for _, t := range aggregateTables {
		if _, err := tx.Exec(ctx, "DELETE FROM "+t); err != nil {
			return err
		}
	}
	rows, err := tx.Query(ctx, "SELECT id, name FROM versions")
	if err != nil {
		return err
	}
	ids, names := map[string]int64{}, map[int64]string{}
	var (
		id   int64
		name string
	)
	if _, err := pgx.ForEachRow(rows, []any{&id, &name}, func() error { ids[name], names[id] = id, name; return nil }); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, "DECLARE rebuild_sightings NO SCROLL CURSOR FOR SELECT instance, day, version, hits, first_seen, last_seen FROM sightings ORDER BY instance, day, version"); err != nil {
		return err
	}
	d := history.NewDelta()
	var (
		c       planColumns
		current = int64(-1) // the instance whose rows are being read
		rs      []history.Row
	)
	for {
		rows, err := tx.Query(ctx, fmt.Sprintf("FETCH %d FROM rebuild_sightings", fetchSize))
		if err != nil {
			return err
		}
		fetched, err := pgx.CollectRows(rows, pgx.RowToStructByPos[sighting])
		if err != nil {
			return err
		}
		if len(fetched) == 0 {
			break
		}
		for _, s := range fetched {
			if s.Instance != current {
				c.addRebuilt(current, rs, d, ids)
				current, rs = s.Instance, rs[:0]
			}
			rs = append(rs, history.Row{Day: s.Day, Version: names[s.Version], Hits: s.Hits, FirstSeen: unix(s.Day, s.First), LastSeen: unix(s.Day, s.Last)})
		}
		if c.len() >= fetchSize {
			if err := c.send(ctx, tx); err != nil {
				return err
			}
		}
	}
	c.addRebuilt(current, rs, d, ids)
	if err := c.send(ctx, tx); err != nil {
		return err
	}
	var b pgx.Batch
	queueDelta(&b, d, ids)
	b.Queue(markAllRepeats)
	b.Queue(fillChangeInstances)
	b.Queue("CLOSE rebuild_sightings")
	return tx.SendBatch(ctx, &b).Close()
}

// sighting is a row of the sightings table.
type sighting struct {
	Instance      int64
	Day           int32
	Version, Hits int64
	First, Last   int32
}

// addRebuilt adds to c and d what history.Delta.Rebuild works out from rows, all the rows of
// instance id, but not the rows themselves; it does nothing when id is negative.
func (c *planColumns) addRebuilt(id int64, rows []history.Row, d *history.Delta, ids map[string]int64) {
	if id < 0 {
		return
	}
	plan := d.Rebuild(rows)
	plan.Rows = nil // stored already
	c.add(id, history.State{}, plan, ids)
}
