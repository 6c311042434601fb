package postgres

import (
	"testing"

	"github.com/mailustats/mailustats/internal/testutil/pgtest"
	"github.com/mailustats/mailustats/plugin/sink"
)

func TestOpenWhileDown(t *testing.T) {
	t.Parallel()
	srv := pgtest.Start(t)
	dsn := newDatabase(t, srv)
	srv.Stop(t)

	s := open(t, dsn) // no connection yet, so no error
	if err := s.Prepare(testContext(t)); err == nil {
		t.Fatal("expected Prepare to fail while the server is down")
	}
	batch := sink.Batch{ID: "1", Records: []sink.Record{rec(t, "2024-06-30T10:00:00Z", "2024.06", instA)}}
	if err := s.Write(testContext(t), batch); err == nil {
		t.Fatal("expected Write to fail while the server is down")
	}

	srv.Restart(t)
	prepare(t, s)
	write(t, s, batch)
	checkRows(t, s, daily, "2024-06-30 2024.06 "+instA+" 1 2024-06-30T10:00:00Z 2024-06-30T10:00:00Z")
}

func TestWriteWithoutPrepare(t *testing.T) {
	t.Parallel()
	s := open(t, newDatabase(t, server.Get(t)))
	write(t, s, sink.Batch{ID: "1", Records: []sink.Record{rec(t, "2024-06-30T10:00:00Z", "2024.06", instA)}})
	checkRows(t, s, schema, expectedSchema...)
	checkRows(t, s, daily, "2024-06-30 2024.06 "+instA+" 1 2024-06-30T10:00:00Z 2024-06-30T10:00:00Z")
}

func TestWriteWhileDown(t *testing.T) {
	t.Parallel()
	srv := pgtest.Start(t)
	s := open(t, newDatabase(t, srv), "events")
	prepare(t, s)
	write(t, s, sink.Batch{ID: "1", Records: []sink.Record{rec(t, "2024-06-30T10:00:00Z", "2024.06", instA)}})

	srv.Kill(t)
	batch := sink.Batch{ID: "2", Records: []sink.Record{rec(t, "2024-06-30T11:00:00Z", "2024.06", instA)}}
	if err := s.Write(testContext(t), batch); err == nil {
		t.Fatal("expected Write to fail while the server is down")
	}

	srv.Restart(t)
	write(t, s, batch) // the worker retries the same batch
	checkRows(t, s, daily, "2024-06-30 2024.06 "+instA+" 2 2024-06-30T10:00:00Z 2024-06-30T11:00:00Z")
	checkRows(t, s, events,
		"2024-06-30T10:00:00Z 2024.06 "+instA,
		"2024-06-30T11:00:00Z 2024.06 "+instA,
	)
}

func TestWriteAfterSchemaLost(t *testing.T) {
	t.Parallel()
	s := open(t, newDatabase(t, server.Get(t)))
	write(t, s, sink.Batch{ID: "1", Records: []sink.Record{rec(t, "2024-06-30T10:00:00Z", "2024.06", instA)}})
	if _, err := s.pool.Exec(testContext(t), "DROP SCHEMA public CASCADE; CREATE SCHEMA public"); err != nil {
		t.Fatal(err)
	}

	batch := sink.Batch{ID: "2", Records: []sink.Record{rec(t, "2024-06-30T11:00:00Z", "2024.06", instA)}}
	if err := s.Write(testContext(t), batch); err == nil {
		t.Fatal("expected Write to fail without its tables")
	}
	write(t, s, batch) // the retry migrates again
	checkRows(t, s, schema, expectedSchema...)
	checkRows(t, s, daily, "2024-06-30 2024.06 "+instA+" 1 2024-06-30T11:00:00Z 2024-06-30T11:00:00Z")
}
