package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailustats/mailustats/internal/testutil/sqltest"
	"github.com/mailustats/mailustats/plugin/sink"
)

func TestReaderReadsButCannotWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stats.db")
	s := open(t, path)
	day := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	if err := s.Write(context.Background(), sink.Batch{ID: "1", Records: []sink.Record{{Time: day, Version: "19", Instance: instA}}}); err != nil {
		t.Fatal(err)
	}
	o, err := Parse([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	db, err := o.(opener).OpenReader()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := sqltest.Query(t, db, `SELECT version, instance FROM daily`); len(got) != 1 || got[0][0] != "19" {
		t.Errorf("expected the reader to see the row written, got %v", got)
	}
	_, err = db.Exec(`DELETE FROM sightings`)
	if err == nil || !strings.Contains(err.Error(), "readonly") {
		t.Errorf("expected a delete through the reader to fail as read-only, got %v", err)
	}
}
