package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/mailustats/mailustats/plugin/sink/table"
)

// SchemaVersion is the version of the schema this build brings a database to.
func SchemaVersion() int { return len(migrations) }

// The connection settings of the checks, none of which creates a missing file or changes its
// journal mode: reading the live database, repairing it as a writer (taking the write lock at
// BEGIN, after the server's current write), and checking a copy no one else opens. The tables
// the checks save are kept in memory, so that they need no temporary directory.
var (
	checkReadQuery   = "mode=ro&" + busyTimeoutParam
	checkRepairQuery = "mode=rw&" + busyTimeoutParam + "&_txlock=immediate" + checkTemp
	checkCopyQuery   = "mode=rw&" + busyTimeoutParam + checkTemp
	checkTemp        = "&_pragma=temp_store(memory)"
)

// integrityErrors is how many errors PRAGMA integrity_check reports at most.
const integrityErrors = 10

// CheckAggregates compares the aggregates, and the state of the instances, with what Rebuild
// computes from the sightings, in tx. Rebuild writes, so run it in a write transaction (BEGIN
// IMMEDIATE) or on a copy no one else writes; roll tx back, or commit it to keep what Rebuild
// computed.
func CheckAggregates(ctx context.Context, tx *sql.Tx) ([]table.Disagreement, error) {
	return table.CheckAggregates(ctx, txRunner{tx}, aggregateTables, func() error { return Rebuild(ctx, tx) })
}

// Verify checks the sink's database, which a server may be writing, and reports what is wrong
// with it: that it opens, PRAGMA integrity_check, the schema version and the aggregates. It
// never creates or migrates a database, and only reads it: it compares the aggregates in a
// copy (VACUUM INTO a temporary file beside it, or in os.TempDir() if its directory is read
// only), so a writer is never held up. With repair, when they disagree, it compares them
// again in a write transaction on the database itself and commits what Rebuild computed,
// which holds the writer up for as long.
func (o opener) Verify(ctx context.Context, repair bool) (table.Report, error) {
	var r table.Report
	path := filepath.Clean(o.path)
	db, ok := openExisting(path, checkReadQuery, &r)
	if !ok {
		return r, nil
	}
	defer db.Close()
	if ok, err := checkFile(ctx, db, &r); !ok || err != nil {
		return r, err
	}
	ds, ok, err := snapshotDisagreements(ctx, db, path, &r)
	if !ok || err != nil {
		return r, err
	}
	if !repair || len(ds) == 0 {
		table.ReportAggregates(&r, ds, false)
		return r, nil
	}
	w, ok := openExisting(path, checkRepairQuery, &r)
	if !ok {
		return r, nil
	}
	defer w.Close()
	ds, ok, err = disagreements(ctx, w, &r, true)
	if ok && err == nil {
		table.ReportAggregates(&r, ds, true)
	}
	return r, err
}

// Backup writes a consistent copy of the sink's database to dst, an empty or missing file, and
// checks the copy as Verify checks a database; it only reads the database, in one read
// transaction (VACUUM INTO), so a writer is never held up. SQLite does not sync the copy.
func (o opener) Backup(ctx context.Context, dst string) (table.Report, error) {
	var r table.Report
	src, ok := openExisting(filepath.Clean(o.path), checkReadQuery, &r)
	if !ok {
		return r, nil
	}
	defer src.Close()
	if ok, err := vacuumInto(ctx, src, dst, &r); !ok || err != nil {
		return r, err
	}
	cp, ok := openExisting(dst, checkCopyQuery, &r)
	if !ok {
		return r, nil
	}
	defer cp.Close()
	if ok, err := checkFile(ctx, cp, &r); !ok || err != nil {
		return r, err
	}
	ds, ok, err := disagreements(ctx, cp, &r, false)
	if ok && err == nil {
		table.ReportAggregates(&r, ds, false)
	}
	return r, err
}

// openExisting opens the database at path with one connection, unless the file is missing,
// which it reports.
func openExisting(path, query string, r *table.Report) (*sql.DB, bool) {
	switch _, err := os.Stat(path); {
	case errors.Is(err, fs.ErrNotExist):
		r.Fail(table.Unopenable, "%s: no such file", path)
		return nil, false
	case err != nil:
		r.Fail(table.Unopenable, "%v", err)
		return nil, false
	}
	db, err := sql.Open("sqlite", dsn(path, query))
	if err != nil { // the driver only parses the DSN here
		r.Fail(table.Unopenable, "%s: %v", path, err)
		return nil, false
	}
	db.SetMaxOpenConns(1)
	return db, true
}

// checkFile runs PRAGMA integrity_check and checks the schema version; ok is false when
// either failed, and the aggregates are not worth comparing.
func checkFile(ctx context.Context, db *sql.DB, r *table.Report) (ok bool, err error) {
	errs, err := integrityCheck(ctx, db)
	if err != nil {
		return fail(r, "integrity", err)
	}
	if len(errs) > 0 {
		tables := treeNames(ctx, db)
		for _, e := range errs {
			r.Fail(table.Corrupt, "integrity: %s", tree.ReplaceAllStringFunc(e, tables))
		}
		return false, nil
	}
	r.Passed = append(r.Passed, "integrity")
	return checkVersion(ctx, db, r)
}

// integrityCheck returns the errors PRAGMA integrity_check finds, a line each.
func integrityCheck(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, fmt.Sprintf("PRAGMA integrity_check(%d)", integrityErrors))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var errs []string
	for rows.Next() {
		var result string // "ok", or lines of errors
		if err := rows.Scan(&result); err != nil {
			return nil, err
		}
		for _, line := range strings.Split(result, "\n") {
			if line != "ok" && !strings.HasPrefix(line, "*** ") { // *** in database main ***
				errs = append(errs, line)
			}
		}
	}
	return errs, rows.Err()
}

// tree matches the b-tree an error of PRAGMA integrity_check is in, by its root page.
var tree = regexp.MustCompile(`^Tree \d+`)

// treeNames returns a function that names the table or index of a match of tree, as far as
// the schema of db can be read.
func treeNames(ctx context.Context, db *sql.DB) func(string) string {
	names := map[string]string{}
	if rows, err := db.QueryContext(ctx, `SELECT rootpage, name FROM sqlite_schema WHERE rootpage > 0`); err == nil {
		for rows.Next() {
			var page, name string
			if rows.Scan(&page, &name) == nil {
				names[page] = name
			}
		}
		rows.Close()
	}
	return func(match string) string {
		if name, ok := names[strings.TrimPrefix(match, "Tree ")]; ok {
			return match + " (" + name + ")"
		}
		return match
	}
}

// checkVersion checks that the schema version is the one this build knows.
func checkVersion(ctx context.Context, db *sql.DB, r *table.Report) (ok bool, err error) {
	var tables int
	const hasSchema = `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'mailustats_schema'`
	if err := db.QueryRowContext(ctx, hasSchema).Scan(&tables); err != nil {
		return fail(r, "schema version", err)
	}
	if tables == 0 {
		r.Fail(table.Unopenable, "schema version: no mailustats_schema table: not a mailustats database")
		return false, nil
	}
	var version int
	if err := db.QueryRowContext(ctx, `SELECT version FROM mailustats_schema`).Scan(&version); err != nil {
		return fail(r, "schema version", err)
	}
	return table.CheckVersion(r, version, SchemaVersion()), nil
}

// snapshotDisagreements compares the aggregates in a copy of db, the database at path, which
// it then removes; ok is false when a problem of the database stopped it.
func snapshotDisagreements(ctx context.Context, db *sql.DB, path string, r *table.Report) (ds []table.Disagreement, ok bool, err error) {
	f, err := os.CreateTemp(filepath.Dir(path), ".mailustats-verify-*.db") // where the database found room
	if err != nil {
		f, err = os.CreateTemp("", "mailustats-verify-*.db") // a read-only directory
	}
	if err != nil {
		return nil, false, err
	}
	snapshot := f.Name()
	defer os.Remove(snapshot)
	if err := f.Close(); err != nil {
		return nil, false, err
	}
	if ok, err := vacuumInto(ctx, db, snapshot, r); !ok || err != nil {
		return nil, ok, err
	}
	cp, err := sql.Open("sqlite", dsn(snapshot, checkCopyQuery))
	if err != nil {
		return nil, false, err
	}
	defer cp.Close()
	cp.SetMaxOpenConns(1)
	return disagreements(ctx, cp, r, false)
}

// vacuumInto writes a consistent copy of db into dst, an empty or missing file.
func vacuumInto(ctx context.Context, db *sql.DB, dst string, r *table.Report) (ok bool, err error) {
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, dst); err != nil {
		return fail(r, "copy", err)
	}
	return true, nil
}

// disagreements runs CheckAggregates in a write transaction on db, which it rolls back, or
// with repair commits if they disagree; ok is false when a problem of the database stopped it.
func disagreements(ctx context.Context, db *sql.DB, r *table.Report, repair bool) (ds []table.Disagreement, ok bool, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		ok, err = fail(r, "aggregates", err)
		return nil, ok, err
	}
	defer tx.Rollback()
	if ds, err = CheckAggregates(ctx, tx); err != nil {
		ok, err = fail(r, "aggregates", err)
		return nil, ok, err
	}
	if repair && len(ds) > 0 {
		if err := tx.Commit(); err != nil {
			return nil, false, fmt.Errorf("committing the repaired aggregates: %w", err)
		}
	}
	return ds, true, nil
}

// fail reports err as the problem it says the database has, when it says one, and returns it
// otherwise.
func fail(r *table.Report, check string, err error) (ok bool, _ error) {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false, fmt.Errorf("%s: %w", check, err)
	}
	msg := strings.TrimSuffix(se.Error(), fmt.Sprintf(" (%d)", se.Code()))
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM, sqlite3.SQLITE_AUTH:
		r.Fail(table.Unopenable, "%s: %s", check, msg)
	case sqlite3.SQLITE_CORRUPT:
		r.Fail(table.Corrupt, "%s: %s", check, msg)
	default:
		return false, fmt.Errorf("%s: %w", check, err)
	}
	return false, nil
}

// txRunner runs the statements of CheckAggregates in a transaction.
type txRunner struct{ tx *sql.Tx }

func (r txRunner) Exec(ctx context.Context, q string) error {
	_, err := r.tx.ExecContext(ctx, q)
	return err
}

func (r txRunner) Query(ctx context.Context, q string) ([]string, [][]any, error) {
	rows, err := r.tx.QueryContext(ctx, q)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	columns, err := rows.Columns()
	if err != nil {
		return nil, nil, err
	}
	var all [][]any
	for rows.Next() {
		row := make([]any, len(columns))
		ptrs := make([]any, len(columns))
		for i := range row {
			ptrs[i] = &row[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, nil, err
		}
		all = append(all, row)
	}
	return columns, all, rows.Err()
}
