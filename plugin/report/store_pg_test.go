package report_test

import (
	"database/sql"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"github.com/mailustats/mailustats/plugin/report"
	"github.com/mailustats/mailustats/plugin/sink"
	"github.com/mailustats/mailustats/plugin/sink/postgres"
)

// pgDatabases numbers the test databases, whose names must be unique on the shared server.
var pgDatabases atomic.Int64

// pgNotName matches what a test's name has that a database name should not.
var pgNotName = regexp.MustCompile(`[^a-z0-9]+`)

// openPostgres creates a database on the shared server, writes records to it through the
// postgres sink and returns a Store reading it, closed when tb ends.
func openPostgres(tb testing.TB, records []sink.Record) *report.Store {
	tb.Helper()
	return openPostgresWith(tb, records, "")
}

// openPostgresWith is openPostgres with the Store's connections given the run-time parameters
// of params, URL query parameters such as "&DateStyle=German".
func openPostgresWith(tb testing.TB, records []sink.Record, params string) *report.Store {
	tb.Helper()
	name := pgNotName.ReplaceAllString(strings.ToLower(tb.Name()), "_")
	dsn := pgServer.Get(tb).CreateDatabase(tb, fmt.Sprintf("%.40s_%d", name, pgDatabases.Add(1)))
	o, err := postgres.Parse([]string{dsn})
	if err != nil {
		tb.Fatal(err)
	}
	fillSink(tb, o, records)
	db, err := sql.Open("pgx", dsn+params)
	if err != nil {
		tb.Fatal(err)
	}
	s := report.NewStore(db, report.Postgres)
	tb.Cleanup(func() { s.Close() })
	return s
}

// TestStorePostgresDateStyle checks that days come out as YYYY-MM-DD whatever the session's
// DateStyle, which changes how a date is cast to text.
func TestStorePostgresDateStyle(t *testing.T) {
	s := openPostgresWith(t, storeHistory, "&DateStyle=German")
	got, err := s.Daily(t.Context(), window("2026-02-20", "2026-02-20"))
	if err != nil {
		t.Fatal(err)
	}
	expected := []report.Day{dayOf("2026-02-20", 1, perVersion{"18": 1})}
	if !reflect.DeepEqual(got, expected) {
		t.Errorf("expected %+v, got %+v", expected, got)
	}
	got, err = s.New(t.Context(), window("2026-02-20", "2026-02-20"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, expected) {
		t.Errorf("new: expected %+v, got %+v", expected, got)
	}
}
