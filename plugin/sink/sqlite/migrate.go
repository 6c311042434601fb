package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations are the schema changes in order; migration i brings the schema from version i to
// i+1. Append new ones, never edit a released one.
var migrations = []migration{
	{sql: `CREATE TABLE daily (
		day        TEXT    NOT NULL, -- UTC, YYYY-MM-DD
		version    TEXT    NOT NULL,
		instance   TEXT    NOT NULL,
		hits       INTEGER NOT NULL,
		first_seen INTEGER NOT NULL, -- unix seconds
		last_seen  INTEGER NOT NULL, -- unix seconds
		PRIMARY KEY (day, version, instance)
	) WITHOUT ROWID;
	CREATE TABLE events (
		time     INTEGER NOT NULL, -- unix seconds
		version  TEXT    NOT NULL,
		instance TEXT    NOT NULL
	);
	CREATE INDEX events_time ON events(time);
	CREATE TABLE batches ( -- the IDs of stored batches, so a retried one is stored once
		id TEXT PRIMARY KEY,
		at INTEGER NOT NULL -- unix seconds
	) WITHOUT ROWID;`},
	// Store version 2: interned instances and versions, integer days, the sightings as the base
	// rows, and the aggregates the statistics read, kept in step by the writer.
	{sql: version2SQL, step: toVersion2},
}

// migration is one schema change: SQL, then, if the data must be converted, a Go step, in the
// same transaction.
type migration struct {
	sql  string
	step func(ctx context.Context, tx *sql.Tx) error
}

func (m migration) apply(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return err
	}
	if m.step == nil {
		return nil
	}
	return m.step(ctx, tx)
}

// migrate applies the migrations the database lacks, each in its own transaction.
func migrate(ctx context.Context, db *sql.DB) error {
	for {
		done, err := migrateOne(ctx, db)
		if done || err != nil {
			return err
		}
	}
}

// migrateOne applies the next migration, if any, and reports whether the schema is up to date.
// The version is read inside the IMMEDIATE transaction, so of two processes starting at once
// the second waits and then finds the migration applied; a migration cut short, even by the
// process being killed, leaves the version before it.
func migrateOne(ctx context.Context, db *sql.DB) (done bool, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	const initSchema = `CREATE TABLE IF NOT EXISTS mailustats_schema (version INTEGER NOT NULL);
		INSERT INTO mailustats_schema (version) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM mailustats_schema);`
	if _, err := tx.ExecContext(ctx, initSchema); err != nil {
		return false, err
	}
	var version int
	if err := tx.QueryRowContext(ctx, `SELECT version FROM mailustats_schema`).Scan(&version); err != nil {
		return false, err
	}
	switch {
	case version == len(migrations):
		return true, tx.Commit()
	case version > len(migrations):
		return false, fmt.Errorf("schema version %d is newer than this build knows (%d)", version, len(migrations))
	}
	if err := migrations[version].apply(ctx, tx); err != nil {
		return false, fmt.Errorf("migration %d: %w", version+1, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE mailustats_schema SET version = ?`, version+1); err != nil {
		return false, err
	}
	return false, tx.Commit()
}
