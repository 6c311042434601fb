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
	{sql: version2SQL, step: toVersion2, rebuild: true},
	// Store version 3: the changes per day, and each change's previous one, for Upgrades.
	{sql: version3SQL},
}

// migration is one schema change: SQL, then, if the data must be converted, a Go step.
type migration struct {
	sql  string
	step func(ctx context.Context, tx *sql.Tx) error
	// rebuild: the migration leaves the aggregates to Rebuild, run once every migration is
	// applied, so that it fills the tables of the latest schema.
	rebuild bool
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

// migrate applies the migrations the database lacks, and then Rebuild if one of them asks
// for it, in one transaction. The version is read inside the IMMEDIATE transaction, so of two
// processes starting at once the second waits and then finds the schema up to date; a
// migration cut short, even by the process being killed, leaves the version before it.
func migrate(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	const initSchema = `CREATE TABLE IF NOT EXISTS mailustats_schema (version INTEGER NOT NULL);
		INSERT INTO mailustats_schema (version) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM mailustats_schema);`
	if _, err := tx.ExecContext(ctx, initSchema); err != nil {
		return err
	}
	var version int
	if err := tx.QueryRowContext(ctx, `SELECT version FROM mailustats_schema`).Scan(&version); err != nil {
		return err
	}
	switch {
	case version == len(migrations):
		return tx.Commit()
	case version > len(migrations):
		return fmt.Errorf("schema version %d is newer than this build knows (%d)", version, len(migrations))
	}
	rebuild := false
	for i, m := range migrations[version:] {
		if err := m.apply(ctx, tx); err != nil {
			return fmt.Errorf("migration %d: %w", version+i+1, err)
		}
		rebuild = rebuild || m.rebuild
	}
	if rebuild {
		if err := Rebuild(ctx, tx); err != nil {
			return fmt.Errorf("rebuilding the aggregates: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE mailustats_schema SET version = ?`, len(migrations)); err != nil {
		return err
	}
	return tx.Commit()
}
