package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migrations bring the schema from version i to i+1; mailustats_schema holds a row for each
// version applied. Append only: a released migration never changes. A database that a newer
// mailustats migrated is left as it is.
var migrations = []migration{
	{apply: execMigration(version1)},
	{apply: toVersion2, rebuild: true},
	{apply: execMigration(version3)},
}

// SchemaVersion is the version of the schema this build brings a database to.
func SchemaVersion() int { return len(migrations) }

// migration is one schema change.
type migration struct {
	apply func(ctx context.Context, tx pgx.Tx) error
	// rebuild: the migration leaves the aggregates to Rebuild, run once every migration is
	// applied, so that it fills the tables of the latest schema.
	rebuild bool
}

// version1 is the first schema: the daily rows with their text keys, events and batch IDs.
const version1 = `CREATE TABLE daily (
	day date NOT NULL,
	version text NOT NULL,
	instance text NOT NULL,
	hits bigint NOT NULL,
	first_seen timestamptz NOT NULL,
	last_seen timestamptz NOT NULL,
	PRIMARY KEY (day, version, instance)
);
CREATE TABLE events (
	time timestamptz NOT NULL,
	version text NOT NULL,
	instance text NOT NULL
);
CREATE INDEX events_time ON events (time);
CREATE TABLE batches (
	id text PRIMARY KEY,
	at timestamptz NOT NULL DEFAULT now()
)`

// execMigration is a migration that runs sql.
func execMigration(sql string) func(context.Context, pgx.Tx) error {
	return func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, sql)
		return err
	}
}

// migrateLock is the key of the advisory lock that makes replicas migrating the same database
// take turns: "mailusta" in ASCII.
const migrateLock int64 = 0x6d61696c75737461

// migrate applies the migrations the database lacks, and then Rebuild if one of them asks for
// it, in one transaction under migrateLock.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrateLock); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "CREATE TABLE IF NOT EXISTS mailustats_schema (version integer NOT NULL)"); err != nil {
			return err
		}
		var version int
		if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM mailustats_schema").Scan(&version); err != nil {
			return err
		}
		rebuild := false
		for ; version < len(migrations); version++ {
			if err := migrations[version].apply(ctx, tx); err != nil {
				return fmt.Errorf("migration %d: %w", version+1, err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO mailustats_schema (version) VALUES ($1)", version+1); err != nil {
				return err
			}
			rebuild = rebuild || migrations[version].rebuild
		}
		if rebuild {
			if err := Rebuild(ctx, tx); err != nil {
				return fmt.Errorf("rebuilding the aggregates: %w", err)
			}
		}
		return nil
	})
}
