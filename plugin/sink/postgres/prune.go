package postgres

import (
	"context"
	"time"

	"github.com/mailustats/mailustats/plugin/sink/table"
)

// The statements that delete batch IDs written before $1, but for those of imports, and, with a
// retention, events that happened before $2.
const (
	pruneBatches = `DELETE FROM batches WHERE at < $1 AND ` + table.PruneKept
	pruneEvents  = `WITH b AS (` + pruneBatches + `) DELETE FROM events WHERE time < $2`
)

// pruneDue reports whether expired rows are to be deleted at now, and if so schedules the next
// time table.PruneEvery later, whether or not this one succeeds.
func (s *pgSink) pruneDue(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Before(s.nextPrune) {
		return false
	}
	s.nextPrune = now.Add(table.PruneEvery)
	return true
}

// prune deletes the batch IDs older than table.BatchKeep, but for those of imports, and, with a
// retention, the events older than it.
func (s *pgSink) prune(ctx context.Context, now time.Time) error {
	var err error
	if s.opts.Retention > 0 {
		_, err = s.pool.Exec(ctx, pruneEvents, now.Add(-table.BatchKeep), now.Add(-s.opts.Retention))
	} else {
		_, err = s.pool.Exec(ctx, pruneBatches, now.Add(-table.BatchKeep))
	}
	return err
}
