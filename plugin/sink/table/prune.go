package table

import "time"

// PruneEvery is how often a SQL sink deletes expired rows: old batch IDs and, with a
// retention, old events.
const PruneEvery = time.Hour

// BatchKeep is how long a batch ID is kept to recognise a retry of its batch: a worker retries
// a failed write within seconds while the database answers.
const BatchKeep = 24 * time.Hour
