package postgres

import (
	"sync"
	"testing"
)

// schema lists the schema versions applied, the tables and the index on events.
const schema = `SELECT 'version ' || version FROM mailustats_schema
UNION ALL (SELECT 'table ' || table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name)
UNION ALL SELECT 'index ' || indexname FROM pg_indexes WHERE tablename = 'events'`

// expectedSchema is what schema answers once the migrations are applied.
var expectedSchema = []string{"version 1", "table batches", "table daily", "table events", "table mailustats_schema", "index events_time"}

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
