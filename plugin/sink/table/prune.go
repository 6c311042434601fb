package table

import "time"

// PruneEvery is how often a SQL sink deletes expired rows: old batch IDs and, with a
// retention, old events.
const PruneEvery = time.Hour

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
