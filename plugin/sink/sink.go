// Package sink carries announcements from the DNS path to storage: a bounded queue, a batching
// collector and one writer per sink, each with its own backlog and retries. It knows nothing of DNS.
package sink

import (
	"context"
	"time"
)

// Record is one announcement: an instance reported its version at a time.
type Record struct {
	Time     time.Time
	Version  string
	Instance string
}

// Batch is a group of records written together. ID is unique to the batch and stays the same
// when a failed write is retried, so a sink can tell a retry of a batch it already stored.
type Batch struct {
	ID      string
	Records []Record
	// Behind, when set, reports whether more records wait behind the batch or the recorder
	// is shutting down; it may change while the batch is written.
	Behind func() bool
}

// Hurry reports whether the sink should write the batch as fast as it can. When not, it has
// time to spare, and may spread its work so that it takes the processors from answering
// queries in small slices rather than in one burst. A batch without Behind is in a hurry.
func (b Batch) Hurry() bool { return b.Behind == nil || b.Behind() }

// Sink stores batches of records. Write must store the whole batch or return an error; it is
// called from one goroutine at a time, and again with the same batch after an error, when it
// must not store the batch twice if it can tell.
type Sink interface {
	Write(ctx context.Context, batch Batch) error
	Close() error
}

// Preparer is a sink that needs to reach its storage (connect, create tables) before it can
// write. Its writer calls Prepare, retrying with backoff, and is not ready until it succeeds.
type Preparer interface {
	Prepare(ctx context.Context) error
}

// Opener is a parsed sink configuration that opens its sink on start-up.
type Opener interface {
	// Label names the sink in metrics and logs, without secrets.
	Label() string
	Open() (Sink, error)
}

// Logger receives the writers' state changes.
type Logger interface {
	Infof(format string, v ...any)
	Warningf(format string, v ...any)
}
