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
// writers lock rows in one order and never deadlock.
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

	writeDaily       = insertBatch + upsertDaily
	writeDailyEvents = insertBatch + insertEvents + upsertDaily
)

// write runs the write statement for batch, recording it as written at now.
func (s *pgSink) write(ctx context.Context, batch sink.Batch, now time.Time) error {
	var agg table.Aggregator // one a write: writes may run concurrently
	args := append([]any{batch.ID, now}, dailyColumns(agg.Aggregate(batch.Records))...)
	sql := writeDaily
	if s.opts.Events {
		args = append(args, eventColumns(batch.Records)...)
		sql = writeDailyEvents
	}
	_, err := s.pool.Exec(ctx, sql, args...)
	return err
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
