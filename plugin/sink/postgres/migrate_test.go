package postgres

import (
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
)

// schema lists the schema versions applied, the tables and the indexes besides primary keys.
const schema = `(SELECT 'version ' || version FROM mailustats_schema ORDER BY version)
UNION ALL (SELECT 'table ' || table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name)
UNION ALL (SELECT 'index ' || indexname FROM pg_indexes WHERE schemaname = 'public' AND indexname NOT LIKE '%_pkey' ORDER BY indexname)`

// expectedSchema is what schema answers once the migrations are applied.
var expectedSchema = []string{
	"version 1", "version 2",
	"table batches", "table daily", "table events", "table mailustats_schema",
	"index daily_instance_day", "index events_time",
}

func TestMigrateIdempotent(t *testing.T) {
	t.Parallel()
	dsn := newDatabase(t, server.Get(t))
	s := open(t, dsn)
	prepare(t, s)
	prepare(t, s)
	prepare(t, open(t, dsn, "events"))
	checkRows(t, s, schema, expectedSchema...)
}

func TestMigrateConcurrent(t *testing.T) {
	t.Parallel()
	dsn := newDatabase(t, server.Get(t))
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
}

// TestMigrateVersion1 prepares a database that a build knowing only the first migration wrote:
// Prepare adds the index on (instance, day) and keeps every row.
func TestMigrateVersion1(t *testing.T) {
	t.Parallel()
	dsn := newDatabase(t, server.Get(t))
	conn, err := pgx.Connect(testContext(t), dsn)
	if err != nil {
		t.Fatal(err)
	}
	version1 := `CREATE TABLE mailustats_schema (version integer NOT NULL);
INSERT INTO mailustats_schema (version) VALUES (1);
` + migrations[0] + `;
INSERT INTO daily VALUES
	('2024-06-30', '2024.06', '` + instA + `', 3, '2024-06-30T10:00:00Z', '2024-06-30T12:00:00Z'),
	('2024-07-01', 'master', '` + instA + `', 1, '2024-07-01T10:00:00Z', '2024-07-01T10:00:00Z'),
	('2024-07-01', '2024.06', '` + instB + `', 2, '2024-07-01T08:00:00Z', '2024-07-01T09:00:00Z');
INSERT INTO events VALUES ('2024-06-30T10:00:00Z', '2024.06', '` + instA + `');
INSERT INTO batches (id) VALUES ('old');`
	if _, err := conn.Exec(testContext(t), version1); err != nil {
		t.Fatal(err)
	}
	if err := conn.Close(testContext(t)); err != nil {
		t.Fatal(err)
	}

	s := open(t, dsn, "events")
	prepare(t, s)
	checkRows(t, s, schema, expectedSchema...)
	checkRows(t, s, daily,
		"2024-06-30 2024.06 "+instA+" 3 2024-06-30T10:00:00Z 2024-06-30T12:00:00Z",
		"2024-07-01 2024.06 "+instB+" 2 2024-07-01T08:00:00Z 2024-07-01T09:00:00Z",
		"2024-07-01 master "+instA+" 1 2024-07-01T10:00:00Z 2024-07-01T10:00:00Z",
	)
	checkRows(t, s, events, "2024-06-30T10:00:00Z 2024.06 "+instA)
	checkRows(t, s, `SELECT id FROM batches`, "old")
}
