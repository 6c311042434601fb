package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/mailustats/mailustats/plugin/sink"
	"github.com/mailustats/mailustats/plugin/sink/table"
)

const (
	insertBatchSQL = `INSERT INTO batches (id, at) VALUES (?, ?) ON CONFLICT DO NOTHING`

	upsertDailyHead = `INSERT INTO daily (day, version, instance, hits, first_seen, last_seen) VALUES `
	dailyRow        = `(?, ?, ?, ?, ?, ?)`
	upsertDailyTail = ` ON CONFLICT (day, version, instance) DO UPDATE SET hits = hits + excluded.hits,
		first_seen = min(first_seen, excluded.first_seen), last_seen = max(last_seen, excluded.last_seen)`

	insertEventsHead = `INSERT INTO events (time, version, instance) VALUES `
	eventRow         = `(?, ?, ?)`
)

// Write adds the batch to the daily rows, and to the events if kept, in one transaction. A
// batch whose ID is already stored is a retry of a write that committed, and is skipped.
func (s *store) Write(ctx context.Context, batch sink.Batch) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
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
	if err := s.upsertDaily.exec(ctx, tx, len(rows), dailyVars(rows), batch.Hurry); err != nil {
		return fmt.Errorf("daily: %w", err)
	}
	if s.opts.Events {
		if err := s.insertEvents.exec(ctx, tx, len(batch.Records), eventVars(batch.Records), batch.Hurry); err != nil {
			return fmt.Errorf("events: %w", err)
		}
	}
	prune := now.Sub(s.lastPrune) >= table.PruneEvery
	if prune {
		if err := s.prune(ctx, tx, now); err != nil {
			return fmt.Errorf("prune: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if prune {
		s.lastPrune = now
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

// dailyVars gives the variables of upsertDaily for rows. The rows are sorted by day and
// version, so each day and version is converted to an interface value once, not once a row:
// every conversion of a string makes garbage.
func dailyVars(rows []table.Daily) rowVars {
	var day, version any
	return func(args []any, i int) []any {
		r := rows[i]
		if i == 0 || r.Day != rows[i-1].Day {
			day = r.Day
		}
		if i == 0 || r.Version != rows[i-1].Version {
			version = r.Version
		}
		return append(args, day, version, r.Instance, r.Hits, r.FirstSeen.Unix(), r.LastSeen.Unix())
	}
}

// eventVars gives the variables of insertEvents for records.
func eventVars(records []sink.Record) rowVars {
	return func(args []any, i int) []any {
		r := records[i]
		return append(args, r.Time.Unix(), r.Version, r.Instance)
	}
}

// prune deletes the batch IDs too old to see a retry and, with a retention, the old events.
func (s *store) prune(ctx context.Context, tx *sql.Tx, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM batches WHERE at < ?`, now.Add(-table.BatchKeep).Unix()); err != nil {
		return err
	}
	if s.opts.Retention == 0 {
		return nil
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM events WHERE time < ?`, now.Add(-s.opts.Retention).Unix())
	return err
}
