package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mailustats/mailustats/plugin/sink"
	"github.com/mailustats/mailustats/plugin/sink/table"
)

// undefinedTable is the SQLSTATE of a query on a table that does not exist.
const undefinedTable = "42P01"

// pgSink writes batches to PostgreSQL through a pool that reconnects by itself. It is safe for
// concurrent use.
type pgSink struct {
	pool     *pgxpool.Pool
	opts     table.Options
	now      func() time.Time // the clock; tests replace it
	prepared atomic.Bool      // the schema is up to date
	onNew    func(n int)      // told of the instances seen for the first time; may be nil

	mu     sync.Mutex
	prunes table.PruneSchedule // when expired rows are deleted next
}

// newSink returns a sink writing through pool, not yet prepared.
func newSink(pool *pgxpool.Pool, opts table.Options) *pgSink {
	return &pgSink{pool: pool, opts: opts, now: time.Now}
}

// Prepare connects and brings the schema up to date.
func (s *pgSink) Prepare(ctx context.Context) error {
	if err := migrate(ctx, s.pool); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	s.prepared.Store(true)
	return nil
}

// Write stores batch in one transaction that adds nothing if the batch's ID shows it stored
// already, preparing the schema first if need be: also when the tables went missing, as in a
// database recreated empty. With OnNewInstances it reports the batch's new instances once the
// batch is stored. Every table.PruneEvery, and at each write while the last pass left more, it
// then deletes a chunk of the expired rows; if that fails it returns the error, and the retry of
// the stored batch is a no-op.
func (s *pgSink) Write(ctx context.Context, batch sink.Batch) error {
	if !s.prepared.Load() {
		if err := s.Prepare(ctx); err != nil {
			return err
		}
	}
	now := s.now()
	newInstances, err := s.write(ctx, batch, now)
	if err != nil {
		if missingTable(err) {
			s.prepared.Store(false)
		}
		return err
	}
	if newInstances > 0 && s.onNew != nil {
		s.onNew(newInstances)
	}
	if s.pruneDue(now) {
		full, err := s.prune(ctx, now)
		if err != nil {
			return fmt.Errorf("batch stored, but pruning failed: %w", err)
		}
		s.pruned(now, full)
	}
	return nil
}

// missingTable reports whether err says that a table does not exist.
func missingTable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == undefinedTable
}

// Close closes the pool's connections.
func (s *pgSink) Close() error {
	s.pool.Close()
	return nil
}
