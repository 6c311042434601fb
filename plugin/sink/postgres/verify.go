package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/mailustats/mailustats/plugin/sink/table"
)

// aggregateTables are the tables computed from the sightings, but for instances, whose rows
// stay and whose state is recomputed: those Rebuild empties and fills again.
var aggregateTables = []string{"changes", "instance_versions", "day_versions", "day_counts", "day_adoption", "day_changes", "change_instances", "trend_deltas"}

// lockWriters is the lock Rebuild takes first, so that writers wait for the transaction to
// end while readers go on reading what the tables held.
const lockWriters = `LOCK TABLE instances, sightings IN SHARE ROW EXCLUSIVE MODE`

// skippedIntegrity says why verify leaves the pages of a PostgreSQL database alone.
const skippedIntegrity = "integrity: PostgreSQL has no check of a database's pages like SQLite's; pg_amcheck checks its tables and indexes"

// CheckAggregates compares the aggregates, and the state of the instances, with what Rebuild
// computes from the sightings, in tx; roll it back, or commit it to keep what Rebuild
// computed. It first takes the lock Rebuild takes, so that the sightings stay as they are from
// the copy of the aggregates to their comparison: writers wait until tx ends.
func CheckAggregates(ctx context.Context, tx pgx.Tx) ([]table.Disagreement, error) {
	if _, err := tx.Exec(ctx, lockWriters); err != nil {
		return nil, err
	}
	return table.CheckAggregates(ctx, txRunner{tx}, aggregateTables, func() error { return Rebuild(ctx, tx) })
}

// Verify checks the sink's database and reports what is wrong with it: that it opens, the
// schema version and the aggregates, which it compares in a transaction that holds the
// writers up until it ends; with repair, it commits what Rebuild computed if they disagreed.
// It creates and migrates nothing.
func (o opener) Verify(ctx context.Context, repair bool) (table.Report, error) {
	r := table.Report{Skipped: []string{skippedIntegrity}}
	conn, err := pgx.ConnectConfig(ctx, o.config.ConnConfig.Copy())
	if err != nil {
		r.Fail(table.Unopenable, "%v", err)
		return r, nil
	}
	defer conn.Close(context.Background())
	var version int
	switch err := conn.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM mailustats_schema`).Scan(&version); {
	case missingTable(err):
		r.Fail(table.Unopenable, "schema version: no mailustats_schema table: not a mailustats database")
		return r, nil
	case err != nil:
		return r, err
	}
	if !table.CheckVersion(&r, version, SchemaVersion()) {
		return r, nil
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return r, err
	}
	defer tx.Rollback(context.Background())
	ds, err := CheckAggregates(ctx, tx)
	if err != nil {
		return r, err
	}
	repaired := repair && len(ds) > 0
	if repaired {
		if err := tx.Commit(ctx); err != nil {
			return r, fmt.Errorf("committing the repaired aggregates: %w", err)
		}
	}
	table.ReportAggregates(&r, ds, repaired)
	return r, nil
}

// txRunner runs the statements of CheckAggregates in a transaction.
type txRunner struct{ tx pgx.Tx }

func (r txRunner) Exec(ctx context.Context, sql string) error {
	_, err := r.tx.Exec(ctx, sql)
	return err
}

func (r txRunner) Query(ctx context.Context, sql string) ([]string, [][]any, error) {
	rows, err := r.tx.Query(ctx, sql)
	if err != nil {
		return nil, nil, err
	}
	var columns []string
	for _, f := range rows.FieldDescriptions() {
		columns = append(columns, f.Name)
	}
	all, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) ([]any, error) { return row.Values() })
	return columns, all, err
}
