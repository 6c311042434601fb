package table

import "time"

// PruneEvery is how often a SQL sink deletes expired rows: old batch IDs and, with a
// retention, old events.
const PruneEvery = time.Hour

// PruneChunk is the most rows of one table that a pass of pruning deletes. A pass is part of a
// write, so a backlog of expired rows, such as years of events when a retention is first set,
// goes a chunk per write and never holds up the writes of live records for long.
const PruneChunk = 10_000

// BatchKeep is how long a batch ID is kept to recognise a retry of its batch: a worker retries
// a failed write within seconds while the database answers.
const BatchKeep = 24 * time.Hour

// ImportPrefix begins the IDs of the batches that `mailustats import` writes, named by the lines
// they hold. They are kept for ever, so that a file imported again, or an import started again
// after it was killed, is recognised batch by batch; they are few, one per hundreds of thousands
// of lines.
const ImportPrefix = "import "

// PruneKept is the SQL condition, on the batches' id, that keeps import batch IDs from pruning.
const PruneKept = "id NOT LIKE '" + ImportPrefix + "%'"

// PruneSchedule says when a sink's write prunes: every PruneEvery, and at every write while the
// last pass deleted a full chunk and so may have left expired rows. The zero schedule is due at
// once. It is not safe for concurrent use.
type PruneSchedule struct {
	next time.Time // when the next pass is due
	full bool      // the last pass deleted a full chunk
}

// Due reports whether a write at now prunes.
func (p *PruneSchedule) Due(now time.Time) bool { return p.full || !now.Before(p.next) }

// Done records a pass at now; full says that it deleted a full chunk of a table.
func (p *PruneSchedule) Done(now time.Time, full bool) {
	p.next, p.full = now.Add(PruneEvery), full
}
