package table

import (
	"context"
	"fmt"
	"strings"
)

// Fault is the kind of a problem `mailustats verify` finds, each with an exit code of its own.
type Fault int

// The faults, from the gravest.
const (
	Unopenable Fault = iota + 1 // missing, not a database, unreadable, or a schema version this build does not know
	Corrupt                     // damaged: the database's own consistency check fails
	Disagrees                   // an aggregate differs from what the base rows give
)

// Problem is one thing wrong with a database, said in one line.
type Problem struct {
	Fault Fault
	Text  string
}

// Report is what the checks of a database found.
type Report struct {
	Problems []Problem // empty when the database is sound
	Passed   []string  // the checks passed, in order
	Skipped  []string  // the checks not made, and why
	Repaired []string  // the aggregates rebuilt from the base rows, as their disagreements read
}

// Fail adds a problem.
func (r *Report) Fail(f Fault, format string, args ...any) {
	r.Problems = append(r.Problems, Problem{Fault: f, Text: fmt.Sprintf(format, args...)})
}

// CheckVersion reports a schema version other than the one this build knows, and says whether
// it is that one.
func CheckVersion(r *Report, found, known int) bool {
	switch {
	case found < known:
		r.Fail(Unopenable, "schema version %d is older than this build's %d: start the server once (or run mailustats report), which migrates the database, then verify again", found, known)
	case found > known:
		r.Fail(Unopenable, "schema version %d is newer than this build's %d: verify with the mailustats that migrated the database", found, known)
	default:
		r.Passed = append(r.Passed, fmt.Sprintf("schema version %d", found))
		return true
	}
	return false
}

// ReportAggregates reports the disagreements CheckAggregates found, or with repaired the
// aggregates repaired.
func ReportAggregates(r *Report, ds []Disagreement, repaired bool) {
	switch {
	case len(ds) == 0:
		r.Passed = append(r.Passed, "aggregates")
	case repaired:
		for _, d := range ds {
			r.Repaired = append(r.Repaired, d.String())
		}
	default:
		for _, d := range ds {
			r.Fail(Disagrees, "aggregates: %s", d)
		}
	}
}

// Disagreement is an aggregate table that differs from what Rebuild computes from the base rows.
type Disagreement struct {
	Table      string
	Stored     int64    // rows stored that Rebuild does not compute
	Recomputed int64    // rows Rebuild computes that are not stored
	Examples   []string // a few of both, each "stored (...)" or "recomputed (...)"
}

func (d Disagreement) String() string {
	return fmt.Sprintf("%s disagrees with the sightings: %s stored but not recomputed, %s recomputed but not stored, e.g. %s",
		d.Table, countRows(d.Stored), countRows(d.Recomputed), strings.Join(d.Examples, ", "))
}

func countRows(n int64) string {
	if n == 1 {
		return "1 row"
	}
	return fmt.Sprint(n, " rows")
}

// counted are the conditions on the rows that count in the aggregate tables with counts: the
// readers skip a row whose counts fell to 0, and a writer may leave it.
var counted = map[string]string{
	"day_versions":     "instances <> 0",
	"day_counts":       "instances <> 0 OR new_instances <> 0",
	"day_adoption":     "instances <> 0",
	"day_changes":      "instances <> 0",
	"change_instances": "instances <> 0",
	"trend_deltas":     "delta <> 0",
}

// stateColumns are the columns of the instances table that Rebuild recomputes.
const stateColumns = "id, first_day, last_day, days, last_version"

// exampleRows is how many rows of each side of a disagreement verify shows.
const exampleRows = 3

// Runner runs the statements of a check in its transaction.
type Runner interface {
	Exec(ctx context.Context, sql string) error
	// Query returns the names of the columns and the rows.
	Query(ctx context.Context, sql string) ([]string, [][]any, error)
}

// CheckAggregates saves the aggregate tables named and the state of the instances in
// temporary tables, runs rebuild, and compares both ways what it computed with what was
// saved. It runs everything through r, in one transaction, which the caller rolls back, or
// commits to keep what rebuild computed. The statements are the same in SQLite and PostgreSQL.
func CheckAggregates(ctx context.Context, r Runner, aggregates []string, rebuild func() error) ([]Disagreement, error) {
	compared := comparisons(aggregates)
	for _, c := range compared {
		if err := r.Exec(ctx, c.saveSQL()); err != nil {
			return nil, fmt.Errorf("saving %s: %w", c.table, err)
		}
	}
	if err := rebuild(); err != nil {
		return nil, fmt.Errorf("recomputing the aggregates: %w", err)
	}
	var out []Disagreement
	for _, c := range compared {
		d := Disagreement{Table: c.table}
		for _, side := range []struct {
			name  string
			sql   string
			count *int64
		}{{"stored", c.storedSQL(), &d.Stored}, {"recomputed", c.recomputedSQL(), &d.Recomputed}} {
			columns, rows, err := r.Query(ctx, side.sql)
			if err != nil {
				return nil, fmt.Errorf("comparing %s: %w", c.table, err)
			}
			for _, row := range rows {
				last := len(row) - 1
				n, ok := row[last].(int64)
				if !ok {
					return nil, fmt.Errorf("comparing %s: a count of type %T", c.table, row[last])
				}
				*side.count = n
				d.Examples = append(d.Examples, side.name+" "+formatRow(columns[:last], row[:last]))
			}
		}
		if err := r.Exec(ctx, c.dropSQL()); err != nil {
			return nil, fmt.Errorf("dropping the copy of %s: %w", c.table, err)
		}
		if d.Stored > 0 || d.Recomputed > 0 {
			out = append(out, d)
		}
	}
	return out, nil
}

// compared is a table as CheckAggregates compares it: the columns of its rows that count.
type compared struct {
	table, columns, where string
}

// comparisons are the state of the instances and the aggregate tables named.
func comparisons(aggregates []string) []compared {
	c := []compared{{table: "instances", columns: stateColumns, where: "true"}}
	for _, t := range aggregates {
		where, ok := counted[t]
		if !ok {
			where = "true"
		}
		c = append(c, compared{table: t, columns: "*", where: where})
	}
	return c
}

func (c compared) saved() string { return "verify_" + c.table }

func (c compared) current() string {
	return "SELECT " + c.columns + " FROM " + c.table + " WHERE " + c.where
}

func (c compared) saveSQL() string { return "CREATE TEMP TABLE " + c.saved() + " AS " + c.current() }

func (c compared) dropSQL() string { return "DROP TABLE " + c.saved() }

// storedSQL selects the rows saved that Rebuild did not compute, the first exampleRows of
// them, each with the count of all of them last.
func (c compared) storedSQL() string { return except("SELECT * FROM "+c.saved(), c.current()) }

// recomputedSQL selects the rows Rebuild computed that were not saved, as storedSQL does.
func (c compared) recomputedSQL() string { return except(c.current(), "SELECT * FROM "+c.saved()) }

func except(a, b string) string {
	return fmt.Sprintf("SELECT d.*, count(*) OVER () FROM (%s EXCEPT %s) AS d ORDER BY 1 LIMIT %d", a, b, exampleRows)
}

// formatRow writes a row as (column=value ...).
func formatRow(columns []string, values []any) string {
	parts := make([]string, len(columns))
	for i, col := range columns {
		v := values[i]
		if v == nil {
			v = "NULL"
		}
		parts[i] = fmt.Sprintf("%s=%v", col, v)
	}
	return "(" + strings.Join(parts, " ") + ")"
}
