package postgres

import (
	"strings"
	"testing"

	"github.com/mailustats/mailustats/plugin/sink"
)

func TestReaderReadsButCannotWrite(t *testing.T) {
	dsn := newDatabase(t, server.Get(t))
	s := open(t, dsn)
	prepare(t, s)
	write(t, s, sink.Batch{ID: "1", Records: []sink.Record{rec(t, "2026-11-30T12:00:00Z", "19", instA)}})
	o, err := Parse([]string{dsn})
	if err != nil {
		t.Fatal(err)
	}
	db, err := o.(opener).OpenReader()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM daily`).Scan(&n); err != nil || n != 1 {
		t.Errorf("expected the reader to see 1 row, got %d, %v", n, err)
	}
	_, err = db.Exec(`DELETE FROM sightings`)
	if err == nil || !strings.Contains(err.Error(), "read-only transaction") {
		t.Errorf("expected a delete through the reader to fail as read-only, got %v", err)
	}
}
