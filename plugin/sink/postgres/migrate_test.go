package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mailustats/mailustats/plugin/sink"
)

// schema lists the schema versions applied, the tables, views and the indexes besides primary
// keys.
const schema = `(SELECT 'version ' || version FROM mailustats_schema ORDER BY version)
UNION ALL (SELECT lower(replace(table_type, 'BASE ', '')) || ' ' || table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name)
UNION ALL (SELECT 'index ' || indexname FROM pg_indexes WHERE schemaname = 'public' AND indexname NOT LIKE '%_pkey' ORDER BY indexname)`

// expectedSchema is what schema answers once the migrations are applied.
var expectedSchema = append(versionsApplied(len(migrations)),
	"table batches", "table change_instances", "table changes", "view daily", "table day_adoption", "table day_changes", "table day_counts",
	"table day_versions", "table events", "table instance_versions", "table instances", "table mailustats_schema",
	"table settings", "table sightings", "table trend_deltas", "table versions",
	"index changes_repeats", "index events_time", "index instances_key_key", "index instances_last_day", "index versions_name_key",
)

// versionsApplied is what schema answers of the versions of a database of version n.
func versionsApplied(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprint("version ", i+1)
	}
	return out
}

func TestMigrateIdempotent(t *testing.T) {
	t.Parallel()
	dsn := newDatabase(t, server.Get(t))
	s := open(t, dsn)
	prepare(t, s)
	prepare(t, s)
	prepare(t, open(t, dsn, "events"))
	checkRows(t, s, schema, expectedSchema...)
	checkRows(t, s, `SELECT count(*) FROM settings`, "0") // no kind of ID until the first instance
}

// version1Rows are daily rows of a database of version 1: several versions a day, a downgrade,
// and an instance seen once.
const version1Rows = `INSERT INTO daily VALUES
	('2024-06-30', '2024.06', '` + instA + `', 3, '2024-06-30T10:00:00Z', '2024-06-30T12:00:00Z'),
	('2024-06-30', 'master', '` + instA + `', 1, '2024-06-30T11:00:00Z', '2024-06-30T11:00:00Z'),
	('2024-07-01', 'master', '` + instA + `', 1, '2024-07-01T10:00:00Z', '2024-07-01T10:00:00Z'),
	('2024-07-03', '2024.06', '` + instA + `', 2, '2024-07-03T10:00:00Z', '2024-07-03T23:59:59Z'),
	('2024-07-01', '2024.06', '` + instB + `', 2, '2024-07-01T08:00:00Z', '2024-07-01T09:00:00Z');
INSERT INTO events VALUES ('2024-06-30T10:00:00Z', '2024.06', '` + instA + `');
INSERT INTO batches (id) VALUES ('old')`

// version1Daily is what the daily view shows of version1Rows once migrated.
var version1Daily = []string{
	"2024-06-30 2024.06 " + instA + " 3 2024-06-30T10:00:00Z 2024-06-30T12:00:00Z",
	"2024-06-30 master " + instA + " 1 2024-06-30T11:00:00Z 2024-06-30T11:00:00Z",
	"2024-07-01 2024.06 " + instB + " 2 2024-07-01T08:00:00Z 2024-07-01T09:00:00Z",
	"2024-07-01 master " + instA + " 1 2024-07-01T10:00:00Z 2024-07-01T10:00:00Z",
	"2024-07-03 2024.06 " + instA + " 2 2024-07-03T10:00:00Z 2024-07-03T23:59:59Z",
}

// newVersion1 creates a database as a build knowing only the first migration left it, with the
// daily, events and batches rows of sql, and returns its DSN.
func newVersion1(tb testing.TB, sql string) string {
	tb.Helper()
	dsn := newDatabase(tb, server.Get(tb))
	conn, err := pgx.Connect(testContext(tb), dsn)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(testContext(tb))
	setup := "CREATE TABLE mailustats_schema (version integer NOT NULL);\nINSERT INTO mailustats_schema (version) VALUES (1);\n" + version1 + ";\n" + sql
	if _, err := conn.Exec(testContext(tb), setup); err != nil {
		tb.Fatal(err)
	}
	return dsn
}

// TestMigrateVersion1 prepares a database of version 1: its rows move to the tables of version
// 2, the daily view shows them as the table did, and the aggregates are those that writing the
// same records through the sink gives.
func TestMigrateVersion1(t *testing.T) {
	t.Parallel()
	s := open(t, newVersion1(t, version1Rows), "events")
	prepare(t, s)
	checkRows(t, s, schema, expectedSchema...)
	checkRows(t, s, daily, version1Daily...)
	checkRows(t, s, events, "2024-06-30T10:00:00Z 2024.06 "+instA)
	checkRows(t, s, `SELECT id FROM batches`, "old")
	checkRows(t, s, `SELECT name, value FROM settings`, "ids uuid")
	checkRows(t, s, `SELECT id, encode(key, 'hex'), first_day, last_day, days FROM instances ORDER BY id`,
		"1 "+hexOf(instA)+" 19904 19907 3", "2 "+hexOf(instB)+" 19905 19905 1")
	checkRows(t, s, derivedQueries[1], // changes: 2024.06 then master on 06-30, master on 07-01, 2024.06 on 07-03
		hexOf(instA)+" 19904 2024.06 master <nil>", hexOf(instA)+" 19907 master 2024.06 <nil>")

	// The same records written through the sink to an empty database give the same tables.
	written := open(t, newDatabase(t, server.Get(t)))
	var records []sink.Record
	for _, line := range version1Daily {
		f := strings.Fields(line)
		first, last := rec(t, f[4], f[1], f[2]), rec(t, f[5], f[1], f[2])
		records = append(records, first)
		for range atoi(t, f[3]) - 1 {
			records = append(records, last)
		}
	}
	write(t, written, sink.Batch{ID: "1", Records: records})
	checkRows(t, written, daily, version1Daily...)
	checkSameDerived(t, s, written)
	checkRebuilt(t, s)

	// New records go on from the migrated state.
	write(t, s, sink.Batch{ID: "2", Records: []sink.Record{rec(t, "2024-07-02T10:00:00Z", "19", instB)}})
	write(t, written, sink.Batch{ID: "2", Records: []sink.Record{rec(t, "2024-07-02T10:00:00Z", "19", instB)}})
	checkSameDerived(t, s, written)
}

// TestMigrateDigests migrates a database of hash_ids digests: the daily view shows them as 32
// hex digits, and the sink refuses raw IDs.
func TestMigrateDigests(t *testing.T) {
	t.Parallel()
	s := open(t, newVersion1(t, `INSERT INTO daily VALUES
	('2024-06-30', '2024.06', '`+hexOf(instA)+`', 3, '2024-06-30T10:00:00Z', '2024-06-30T12:00:00Z')`))
	prepare(t, s)
	checkRows(t, s, daily, "2024-06-30 2024.06 "+hexOf(instA)+" 3 2024-06-30T10:00:00Z 2024-06-30T12:00:00Z")
	checkRows(t, s, `SELECT name, value FROM settings`, "ids hash")
	err := s.Write(testContext(t), sink.Batch{ID: "1", Records: []sink.Record{rec(t, "2024-07-01T10:00:00Z", "19", instB)}})
	if err == nil || !strings.Contains(err.Error(), "the database holds hash_ids digests; this server stores raw instance IDs") {
		t.Errorf("expected raw IDs refused, got %v", err)
	}
}

// TestMigrateFails leaves a database of version 1 as it was when its migration fails in the Go
// step: both kinds of instance ID, or an ID that is neither.
func TestMigrateFails(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct{ instance, why string }{
		"both kinds": {hexOf(instB), "both raw instance IDs and hash_ids digests"},
		"neither":    {"not-an-instance", `"not-an-instance" is neither a UUID nor a digest`},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := open(t, newVersion1(t, version1Rows+`;
INSERT INTO daily VALUES ('2024-07-02', '19', '`+tc.instance+`', 1, '2024-07-02T10:00:00Z', '2024-07-02T10:00:00Z')`))
			err := s.Prepare(testContext(t))
			if err == nil || !strings.Contains(err.Error(), "migration 2: ") || !strings.Contains(err.Error(), tc.why) {
				t.Fatalf("expected migration 2 to fail saying %q, got %v", tc.why, err)
			}
			checkVersion1(t, s, len(version1Daily)+1)
		})
	}
}

// checkVersion1 fails t unless s's database is still of version 1 with its daily table of n rows.
func checkVersion1(t *testing.T, s *pgSink, n int) {
	t.Helper()
	checkRows(t, s, schema, "version 1", "table batches", "table daily", "table events", "table mailustats_schema", "index events_time")
	checkRows(t, s, `SELECT count(*) FROM daily`, fmt.Sprint(n))
}

// TestMigrateInterrupted cuts migrations off at random moments, as a kill would: each leaves
// version 1 or version 2 complete, and the next start migrates.
func TestMigrateInterrupted(t *testing.T) {
	t.Parallel()
	const n = 20000
	dsn := newVersion1(t, fmt.Sprintf(`INSERT INTO daily
SELECT date '2024-01-01' + i %% 300, (ARRAY['2024.06', 'master', '19'])[1 + i %% 3],
	lpad(to_hex(i / 7), 8, '0') || '-1111-4222-8333-444455556666', 1 + i %% 5,
	timestamptz '2024-01-01T10:00:00Z' + (i %% 300) * interval '1 day',
	timestamptz '2024-01-01T11:00:00Z' + (i %% 300) * interval '1 day'
FROM generate_series(0, %d) AS i`, n-1))
	s := open(t, dsn)
	for _, after := range []time.Duration{time.Millisecond, 20 * time.Millisecond, 100 * time.Millisecond, 300 * time.Millisecond} {
		ctx, cancel := context.WithTimeout(context.Background(), after)
		err := s.Prepare(ctx)
		cancel()
		if err == nil {
			t.Logf("a migration cut off after %v completed", after)
			break
		}
		t.Logf("cut off after %v: %v", after, err)
		checkVersion1(t, s, n)
	}
	prepare(t, s)
	checkRows(t, s, schema, expectedSchema...)
	checkRows(t, s, `SELECT count(*), sum(hits)::bigint FROM daily`, fmt.Sprintf("%d %d", n, 3*n))
	checkRebuilt(t, s)
}

func TestMigrateConcurrent(t *testing.T) {
	t.Parallel()
	for name, dsn := range map[string]string{
		"empty":     newDatabase(t, server.Get(t)),
		"version 1": newVersion1(t, version1Rows),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			const replicas = 8
			sinks := make([]*pgSink, replicas)
			for i := range sinks {
				sinks[i] = open(t, dsn)
			}
			errs := make([]error, replicas)
			var wg sync.WaitGroup
			for i, s := range sinks {
				wg.Go(func() { errs[i] = s.Prepare(testContext(t)) })
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("replica %d: %v", i, err)
				}
			}
			checkRows(t, sinks[0], schema, expectedSchema...)
			for i, s := range sinks {
				if !s.prepared.Load() {
					t.Errorf("replica %d: expected prepared", i)
				}
			}
			if name == "version 1" {
				checkRows(t, sinks[0], daily, version1Daily...)
				checkRebuilt(t, sinks[0])
			}
		})
	}
}

// version2Of takes back from a database of version 3 what migration 3 added, leaving it as a
// database of version 2 written by the release that had no migration 3.
const version2Of = `DROP INDEX changes_repeats;
DROP TABLE day_changes;
DROP TABLE change_instances;
ALTER TABLE changes DROP COLUMN previous_day;
CREATE INDEX changes_day ON changes (day);
DELETE FROM mailustats_schema WHERE version > 2`

// TestMigrateVersion2 writes random histories, takes the database back to version 2, and
// prepares it: migration 3 fills the changes per day and the previous days of changes as the
// writer kept them, and the daily view holds the rows as before.
func TestMigrateVersion2(t *testing.T) {
	t.Parallel()
	for seed := range uint64(3) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(seed, 4))
			records := randomRecords(rng, 20, 700)
			dsn := newDatabase(t, server.Get(t))
			s := open(t, dsn)
			for _, b := range batches(rng, "b", records) {
				write(t, s, b)
			}
			checkRepeats(t, s)
			written := derived(t, s)
			if _, err := s.pool.Exec(testContext(t), version2Of); err != nil {
				t.Fatal(err)
			}
			checkRows(t, s, `SELECT count(*) FROM mailustats_schema`, "2")

			s = open(t, dsn)
			prepare(t, s)
			checkRows(t, s, schema, expectedSchema...)
			checkDaily(t, s, records)
			checkDerived(t, "as written", written, "migrated", derived(t, s))
			checkRebuilt(t, s)
		})
	}
}
