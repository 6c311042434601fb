package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/mailustats/mailustats/plugin/sink"
	"github.com/mailustats/mailustats/plugin/sink/table"
)

// How long a batch ID is kept to recognise a retry of its batch, and how often a sink deletes
// the old batch IDs and events.
const (
	batchRetention = 24 * time.Hour
	pruneEvery     = time.Hour
)

const (
	insertBatchSQL = `INSERT INTO batches (id, at) VALUES (?, ?) ON CONFLICT DO NOTHING`

	upsertDailyHead = `INSERT INTO daily (day, version, instance, hits, first_seen, last_seen) VALUES `
	dailyRow        = `(?, ?, ?, ?, ?, ?)`
	dailyColumns    = 6
	upsertDailyTail = ` ON CONFLICT (day, version, instance) DO UPDATE SET hits = hits + excluded.hits,
		first_seen = min(first_seen, excluded.first_seen), last_seen = max(last_seen, excluded.last_seen)`

	insertEventsHead = `INSERT INTO events (time, version, instance) VALUES `
	eventRow         = `(?, ?, ?)`
	eventColumns     = 3
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
	if err := s.upsertDaily.exec(ctx, tx, s.dailyArgs(table.Aggregate(batch.Records))); err != nil {
		return fmt.Errorf("daily: %w", err)
	}
	if s.opts.Events {
		if err := s.insertEvents.exec(ctx, tx, s.eventArgs(batch.Records)); err != nil {
			return fmt.Errorf("events: %w", err)
		}
	}
	prune := now.Sub(s.lastPrune) >= pruneEvery
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

// dailyArgs lays the rows out as the variables of upsertDaily, in s.args.
func (s *store) dailyArgs(rows []table.Daily) []any {
	args := s.resetArgs(len(rows) * dailyColumns)
	for _, r := range rows {
		args = append(args, r.Day, r.Version, r.Instance, r.Hits, r.FirstSeen.Unix(), r.LastSeen.Unix())
	}
	s.args = args
	return args
}

// eventArgs lays the records out as the variables of insertEvents, in s.args.
func (s *store) eventArgs(records []sink.Record) []any {
	args := s.resetArgs(len(records) * eventColumns)
	for _, r := range records {
		args = append(args, r.Time.Unix(), r.Version, r.Instance)
	}
	s.args = args
	return args
}

// resetArgs empties s.args, dropping what the last statement held, with room for n values.
func (s *store) resetArgs(n int) []any {
	clear(s.args)
	return slices.Grow(s.args[:0], n)
}

// prune deletes the batch IDs too old to see a retry and, with a retention, the old events.
func (s *store) prune(ctx context.Context, tx *sql.Tx, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM batches WHERE at < ?`, now.Add(-batchRetention).Unix()); err != nil {
		return err
	}
	if s.opts.Retention == 0 {
		return nil
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM events WHERE time < ?`, now.Add(-s.opts.Retention).Unix())
	return err
}
