package postgres

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mailustats/mailustats/internal/testutil/pgtest"
	"github.com/mailustats/mailustats/plugin/sink"
)

// server is the PostgreSQL server of the tests that neither stop nor restart theirs.
var server pgtest.Shared

func TestMain(m *testing.M) {
	m.Run()
	if err := server.Close(); err != nil {
		fmt.Println(err)
	}
}

// databases numbers the test databases, whose names must be unique on the shared server.
var databases atomic.Int64

// notName matches what a test's name has that a database name should not.
var notName = regexp.MustCompile(`[^a-z0-9]+`)

// newDatabase creates an empty database for tb on srv, named after tb, and returns its DSN.
func newDatabase(tb testing.TB, srv *pgtest.Server) string {
	tb.Helper()
	name := notName.ReplaceAllString(strings.ToLower(tb.Name()), "_")
	return srv.CreateDatabase(tb, fmt.Sprintf("%.40s_%d", name, databases.Add(1)))
}

// open parses and opens `sink postgres DSN ARGS...` and closes the sink when tb ends.
func open(tb testing.TB, dsn string, args ...string) *pgSink {
	tb.Helper()
	o, err := Parse(append([]string{dsn}, args...))
	if err != nil {
		tb.Fatal(err)
	}
	s, err := o.Open()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s.(*pgSink)
}

// testContext is the context of one call to the sink, as bounded as the worker's.
func testContext(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// prepare prepares s, failing tb if it cannot.
func prepare(tb testing.TB, s *pgSink) {
	tb.Helper()
	if err := s.Prepare(testContext(tb)); err != nil {
		tb.Fatalf("prepare: %v", err)
	}
}

// write writes batch to s, failing tb if it cannot.
func write(tb testing.TB, s *pgSink, batch sink.Batch) {
	tb.Helper()
	if err := s.Write(testContext(tb), batch); err != nil {
		tb.Fatalf("write %s: %v", batch.ID, err)
	}
}

// rec is a record at a time given in RFC 3339.
func rec(tb testing.TB, at, version, instance string) sink.Record {
	tb.Helper()
	t, err := time.Parse(time.RFC3339, at)
	if err != nil {
		tb.Fatal(err)
	}
	return sink.Record{Time: t, Version: version, Instance: instance}
}

// rows returns what sql answers on s's database, one line a row, its columns separated by
// spaces and times in UTC RFC 3339.
func rows(tb testing.TB, s *pgSink, sql string) []string {
	tb.Helper()
	ctx := testContext(tb)
	r, err := s.pool.Query(ctx, sql)
	if err != nil {
		tb.Fatal(err)
	}
	lines, err := pgx.CollectRows(r, func(row pgx.CollectableRow) (string, error) {
		values, err := row.Values()
		fields := make([]string, len(values))
		for i, v := range values {
			if t, ok := v.(time.Time); ok {
				v = t.UTC().Format(time.RFC3339)
			}
			fields[i] = fmt.Sprint(v)
		}
		return strings.Join(fields, " "), err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return lines
}

// daily is the query of the whole daily table, in key order.
const daily = `SELECT day::text, version, instance, hits, first_seen, last_seen FROM daily ORDER BY day, version, instance`

// events is the query of the whole events table, in order.
const events = `SELECT time, version, instance FROM events ORDER BY time, version, instance`

// checkRows fails tb unless sql answers expected on s's database.
func checkRows(tb testing.TB, s *pgSink, sql string, expected ...string) {
	tb.Helper()
	got := rows(tb, s, sql)
	if strings.Join(got, "\n") != strings.Join(expected, "\n") {
		tb.Errorf("%s:\nexpected\n\t%s\ngot\n\t%s", sql, strings.Join(expected, "\n\t"), strings.Join(got, "\n\t"))
	}
}
