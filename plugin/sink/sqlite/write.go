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

	// countNew counts the given instances that have no row in daily, on any day and with any
	// version: one probe of the index on (instance, day) each, however long its history. A
	// NULL stands for no instance.
	countNewHead = `WITH batch (instance) AS (VALUES `
	instanceRow  = `(?)`
	countNewTail = `) SELECT count(*) FROM batch WHERE instance IS NOT NULL
		AND NOT EXISTS (SELECT 1 FROM daily WHERE daily.instance = batch.instance)`
)

// OnNewInstances makes every write that stores a batch then call f with the number of its
// distinct instances that had no row in daily before, if there are any; a retried batch that
// is skipped calls nothing. Call it once, after Open and before the first Write. The count is
// exact even with several processes on one file, since their writes take turns.
func (s *store) OnNewInstances(f func(n int)) { s.onNew = f }

// Write adds the batch to the daily rows, and to the events if kept, in one transaction. A
// batch whose ID is already stored is a retry of a write that committed, and is skipped. With
// OnNewInstances, the same transaction first counts the batch's new instances.
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
	var newInstances int64
	if s.onNew != nil {
		if newInstances, err = s.countNewInstances(ctx, tx, rows, batch.Hurry); err != nil {
			return fmt.Errorf("new instances: %w", err)
		}
	}
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
	if newInstances > 0 {
		s.onNew(int(newInstances))
	}
	return nil
}

// countNewInstances counts the distinct instances of rows that have no row in daily yet. The
// last chunk of instances is padded with NULLs, so that every chunk runs the prepared
// statement: preparing one of another size takes longer than the lookup.
func (s *store) countNewInstances(ctx context.Context, tx *sql.Tx, rows []table.Daily, hurry func() bool) (int64, error) {
	if s.seen == nil {
		s.seen = make(map[string]struct{})
	}
	for _, r := range rows {
		if _, ok := s.seen[r.Instance]; !ok {
			s.seen[r.Instance] = struct{}{}
			s.instances = append(s.instances, r.Instance)
		}
	}
	clear(s.seen)
	defer func() { s.instances = s.instances[:0] }()
	defer clear(s.instances) // let the strings go
	padded := (len(s.instances) + chunkRows - 1) / chunkRows * chunkRows
	return s.countNew.sum(ctx, tx, padded, instanceVars(s.instances), hurry)
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

// instanceVars gives the variables of countNew for instances, then NULLs.
func instanceVars(instances []string) rowVars {
	return func(args []any, i int) []any {
		if i >= len(instances) {
			return append(args, nil)
		}
		return append(args, instances[i])
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
