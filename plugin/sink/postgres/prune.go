package postgres

import (
	"context"
	"time"

	"github.com/mailustats/mailustats/plugin/sink/table"
)

// The statements that delete at most $2 of the batch IDs written before $1, but for those of
// imports, and of the events that happened before $1, the oldest first. Each is a statement of
// its own, so no lock is held from one to the next; the rows are found by their ctid (the
// events through their index on time), which the ARRAY makes a TID scan.
const (
	pruneBatches = `DELETE FROM batches WHERE id = ANY(ARRAY(
	SELECT id FROM batches WHERE at < $1 AND ` + table.PruneKept + ` LIMIT $2))`
	pruneEvents = `DELETE FROM events WHERE ctid = ANY(ARRAY(
	SELECT ctid FROM events WHERE time < $1 ORDER BY time LIMIT $2))`
)

// pruneDue reports whether expired rows are to be deleted at now, and if so schedules the next
// pass table.PruneEvery later, whether or not this one succeeds; pruned moves it sooner.
func (s *pgSink) pruneDue(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.prunes.Due(now) {
		return false
	}
	s.prunes.Done(now, false)
	return true
}

// pruned makes the next write prune again when the pass at now deleted a full chunk.
func (s *pgSink) pruned(now time.Time, full bool) {
	if full {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.prunes.Done(now, true)
	}
}

// prune deletes a chunk of the batch IDs older than table.BatchKeep, but for those of imports,
// and, with a retention, of the events older than it; full reports that it deleted a whole
// chunk of either, so more may be left.
func (s *pgSink) prune(ctx context.Context, now time.Time) (full bool, err error) {
	full, err = s.pruneChunk(ctx, pruneBatches, now.Add(-table.BatchKeep))
	if err != nil || s.opts.Retention == 0 {
		return full, err
	}
	events, err := s.pruneChunk(ctx, pruneEvents, now.Add(-s.opts.Retention))
	return full || events, err
}

// pruneChunk runs one of the pruning statements on the rows older than before and reports
// whether it deleted a whole chunk.
func (s *pgSink) pruneChunk(ctx context.Context, query string, before time.Time) (bool, error) {
	tag, err := s.pool.Exec(ctx, query, before, table.PruneChunk)
	return tag.RowsAffected() == table.PruneChunk, err
}
