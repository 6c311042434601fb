package postgres

import (
	"context"
	"time"

	"github.com/mailustats/mailustats/plugin/sink"
	"github.com/mailustats/mailustats/plugin/sink/table"
)

// The statement that writes a batch in one round trip. It stores the batch ID ($1, written at
// $2) and, only if the ID is new, adds the batch's daily rows (arrays $3 to $8) and, with
// events, its records (arrays $9 to $11). The daily rows come sorted by key, so concurrent
// writers lock rows in one order and never deadlock. Counting, it also answers how many of the
// batch's distinct instances had no row in daily: every part of a statement sees the tables as
// they were before it, so the count is of instances new before this batch, whatever the upsert
// adds. The lookup is a LATERAL subquery with a LIMIT, which the planner cannot turn into a
// join, so it probes the index on (instance, day) once an instance; a NOT EXISTS became a
// hash join over all of daily, whose cost grows with the table.
const (
	insertBatch = `WITH b AS (
	INSERT INTO batches (id, at) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING id
)`
	insertEvents = `, e AS (
	INSERT INTO events (time, version, instance)
	SELECT * FROM unnest($9::timestamptz[], $10::text[], $11::text[])
	WHERE EXISTS (SELECT 1 FROM b)
)`
	upsertDaily = `
INSERT INTO daily (day, version, instance, hits, first_seen, last_seen)
SELECT * FROM unnest($3::date[], $4::text[], $5::text[], $6::bigint[], $7::timestamptz[], $8::timestamptz[])
WHERE EXISTS (SELECT 1 FROM b)
ON CONFLICT (day, version, instance) DO UPDATE SET
	hits = daily.hits + EXCLUDED.hits,
	first_seen = LEAST(daily.first_seen, EXCLUDED.first_seen),
	last_seen = GREATEST(daily.last_seen, EXCLUDED.last_seen)`
	countNew = `, n AS (
	SELECT count(*) AS new
	FROM (SELECT DISTINCT instance FROM unnest($5::text[]) AS i (instance)) AS batch
	LEFT JOIN LATERAL (
		SELECT true AS known FROM daily WHERE daily.instance = batch.instance LIMIT 1
	) AS seen ON true
	WHERE seen.known IS NULL AND EXISTS (SELECT 1 FROM b)
), d AS (` + upsertDaily + `
)
SELECT new FROM n`

	writeDaily            = insertBatch + upsertDaily
	writeDailyEvents      = insertBatch + insertEvents + upsertDaily
	writeDailyCount       = insertBatch + countNew
	writeDailyEventsCount = insertBatch + insertEvents + countNew
)

// OnNewInstances makes every write that stores a batch then call f with the number of its
// distinct instances that had no row in daily before, if there are any; a retried batch that
// is skipped calls nothing. Call it once, after Open and before the first Write; concurrent
// writes call f concurrently. Two writes of the same new instance at the same moment, from
// two replicas or two goroutines, do not see each other's rows, and may both count it.
func (s *pgSink) OnNewInstances(f func(n int)) { s.onNew = f }

// write runs the write statement for batch, recording it as written at now, and returns how
// many new instances it stored if s counts them.
func (s *pgSink) write(ctx context.Context, batch sink.Batch, now time.Time) (newInstances int64, err error) {
	var agg table.Aggregator // one a write: writes may run concurrently
	args := append([]any{batch.ID, now}, dailyColumns(agg.Aggregate(batch.Records))...)
	if s.opts.Events {
		args = append(args, eventColumns(batch.Records)...)
	}
	if s.onNew == nil {
		sql := writeDaily
		if s.opts.Events {
			sql = writeDailyEvents
		}
		_, err = s.pool.Exec(ctx, sql, args...)
		return 0, err
	}
	sql := writeDailyCount
	if s.opts.Events {
		sql = writeDailyEventsCount
	}
	err = s.pool.QueryRow(ctx, sql, args...).Scan(&newInstances)
	return newInstances, err
}

// dailyColumns turns rows into the arrays $3 to $8 of the write statement.
func dailyColumns(rows []table.Daily) []any {
	days := make([]string, len(rows))
	versions := make([]string, len(rows))
	instances := make([]string, len(rows))
	hits := make([]int64, len(rows))
	first := make([]time.Time, len(rows))
	last := make([]time.Time, len(rows))
	for i, r := range rows {
		days[i], versions[i], instances[i] = r.Day, r.Version, r.Instance
		hits[i], first[i], last[i] = r.Hits, r.FirstSeen, r.LastSeen
	}
	return []any{days, versions, instances, hits, first, last}
}

// eventColumns turns records into the arrays $9 to $11 of the write statement.
func eventColumns(records []sink.Record) []any {
	times := make([]time.Time, len(records))
	versions := make([]string, len(records))
	instances := make([]string, len(records))
	for i, r := range records {
		times[i], versions[i], instances[i] = r.Time, r.Version, r.Instance
	}
	return []any{times, versions, instances}
}
