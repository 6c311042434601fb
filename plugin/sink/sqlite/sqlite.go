// Package sqlite is the sink of a `sink sqlite PATH [events] [retention DURATION]` line: it
// keeps the store of the statistics (one sighting per instance, day and version, and the
// aggregates computed from them) in a SQLite database file, and optionally every record. Several processes, such as the old and new instance during a reload, may share a file.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/mailustats/mailustats/plugin/sink"
	"github.com/mailustats/mailustats/plugin/sink/table"

	"modernc.org/sqlite" // also registers the "sqlite" driver
)

// dirMode is the permission of a database directory Open creates.
const dirMode = 0o750

// dsnQuery holds the connection settings: WAL, so readers never block the writer; the write
// lock first at BEGIN (IMMEDIATE) and a busy timeout, so two writers, such as the old and new
// instance during a reload, queue for the lock instead of one failing; a 32 MiB page cache; and
// a checkpoint every 10000 WAL pages (40 MiB) rather than 1000, so a page that many batches
// update is copied back to the database once: a fifth less work per record under load.
var dsnQuery = busyTimeoutParam + "&_journal_mode=WAL&_synchronous=NORMAL&_txlock=immediate" +
	"&_pragma=cache_size(-32768)&_pragma=temp_store(memory)&_pragma=wal_autocheckpoint(10000)"

// How long a writer waits for another's lock, and how often Open tries again meanwhile. The
// wait cannot be cut short, so it ends a second before the recorder's shut-down grace.
const (
	busyTimeout = sink.ShutdownGrace - time.Second
	busyRetry   = 20 * time.Millisecond
)

// busyTimeoutParam sets busyTimeout on a connection.
var busyTimeoutParam = "_busy_timeout=" + strconv.FormatInt(busyTimeout.Milliseconds(), 10)

// sqliteBusy is SQLITE_BUSY, the primary result code of a lock held elsewhere.
const sqliteBusy = 5

// opener is the configuration of a `sink sqlite` line.
type opener struct {
	path string
	opts table.Options
}

// Parse reads the arguments of a `sink sqlite PATH [events] [retention DURATION]` line.
func Parse(args []string) (sink.Opener, error) {
	if len(args) < 1 {
		return nil, errors.New("sink sqlite takes PATH [events] [retention DURATION]")
	}
	opts, err := table.ParseOptions(args[1:])
	if err != nil {
		return nil, err
	}
	return opener{path: args[0], opts: opts}, nil
}

// Label names the sink by its path.
func (o opener) Label() string { return "sqlite:" + o.path }

// Open creates the database and its directory if missing and brings its schema up to date.
func (o opener) Open() (sink.Sink, error) {
	s, err := o.open(context.Background())
	if err != nil {
		return nil, fmt.Errorf("sqlite database %s: %w", o.path, err)
	}
	return s, nil
}

// open tries again for a while when the database is busy: two processes creating the same new
// database race to switch it to WAL, and SQLite reports the loser busy at once, without waiting
// out the busy timeout.
func (o opener) open(ctx context.Context) (*store, error) {
	deadline := time.Now().Add(busyTimeout)
	for {
		s, err := o.openOnce(ctx)
		if err == nil || !isBusy(err) || time.Now().After(deadline) {
			return s, err
		}
		time.Sleep(busyRetry)
	}
}

func isBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqliteBusy
}

func (o opener) openOnce(ctx context.Context) (*store, error) {
	path := filepath.Clean(o.path)
	if err := os.MkdirAll(filepath.Dir(path), dirMode); err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", dsn(path, dsnQuery))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	s := &store{db: db, opts: o.opts, now: time.Now, buf: newBatchBuffers()}
	if err := migrate(ctx, db); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	if err := s.prepare(ctx); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	return s, nil
}

// dsn is the URI of the database at path with the connection settings; in a URI, a '?' or '#'
// in the path is escaped and stays part of the name.
func dsn(path, query string) string {
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + query
}

// store writes batches to one database through one connection.
type store struct {
	db   *sql.DB
	opts table.Options
	now  func() time.Time // the clock; tests replace it

	insertBatch, lastID *sql.Stmt
	// The statements over many rows of Write.
	findKeys, findSightings, findVersionFirst       multiRow
	upsertSightings, upsertInstances, deleteChanges multiRow
	markRepeats, addChangeInstances                 multiRow
	insertEvents                                    multiRow // only with opts.Events
	plans                                           *planStatements

	agg      table.Aggregator    // merges each batch, reusing its memory
	prunes   table.PruneSchedule // when this sink deletes old batches and events
	versions versionNames        // the versions met, by id and by name
	kind     string              // the kind of instance IDs the database holds, once known
	buf      *batchBuffers       // the memory of the batch being written

	onNew func(n int) // told of the instances seen for the first time; may be nil
}

// statements are the statements over many rows of Write.
func (s *store) statements() []*multiRow {
	all := append(s.plans.all(), &s.findKeys, &s.findSightings, &s.findVersionFirst,
		&s.upsertSightings, &s.upsertInstances, &s.deleteChanges, &s.markRepeats,
		&s.addChangeInstances)
	if s.opts.Events {
		all = append(all, &s.insertEvents)
	}
	return all
}

// prepare prepares the statements every write uses.
func (s *store) prepare(ctx context.Context) error {
	var err error
	if s.insertBatch, err = s.db.PrepareContext(ctx, insertBatchSQL); err != nil {
		return err
	}
	if s.lastID, err = s.db.PrepareContext(ctx, lastIDSQL); err != nil {
		return err
	}
	s.findKeys = multiRow{head: findInstancesHead, row: pairRow, tail: findInstancesTail}
	s.findSightings = multiRow{head: findSightingsHead, row: pairRow, tail: findSightingsTail}
	s.findVersionFirst = multiRow{head: findVersionFirstHead, row: pairRow, tail: findVersionFirstTail}
	s.upsertSightings = multiRow{head: upsertSightingsHead, row: row6, tail: upsertSightingsTail}
	s.upsertInstances = multiRow{head: upsertInstancesHead, row: row6, tail: upsertInstancesTail}
	s.deleteChanges = multiRow{head: deleteChangesHead, row: pairRow, tail: deleteChangesTail}
	s.markRepeats = multiRow{head: markRepeatsHead, row: pairRow, tail: markRepeatsTail}
	s.addChangeInstances = multiRow{head: addChangeInstancesHead, row: row5, tail: addChangeInstancesTail}
	s.insertEvents = multiRow{head: insertEventsHead, row: row3}
	s.plans = newPlanStatements()
	for _, m := range s.statements() {
		if err := m.prepare(ctx, s.db); err != nil {
			return err
		}
	}
	return nil
}

// Close finalises the statements and closes the database.
func (s *store) Close() error {
	var errs []error
	for _, st := range []*sql.Stmt{s.insertBatch, s.lastID} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	if s.plans != nil {
		for _, m := range s.statements() {
			errs = append(errs, m.close())
		}
	}
	return errors.Join(append(errs, s.db.Close())...)
}
