package postgres

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/mailustats/mailustats/plugin/sink/table"
)

// verifiedDatabase writes random batches to a new database, as a server would, and returns
// the sink.
func verifiedDatabase(t *testing.T) *pgSink {
	t.Helper()
	s := open(t, newDatabase(t, server.Get(t)))
	rng := rand.New(rand.NewPCG(5, 5))
	records := randomRecords(rng, 30, 500)
	rng.Shuffle(len(records), func(i, j int) { records[i], records[j] = records[j], records[i] })
	for _, b := range batches(rng, "b", records) {
		write(t, s, b)
	}
	return s
}

// verify runs Verify on s's database.
func verify(t *testing.T, s *pgSink, repair bool) table.Report {
	t.Helper()
	o, err := Parse([]string{s.pool.Config().ConnString()})
	if err != nil {
		t.Fatal(err)
	}
	r, err := o.(opener).Verify(testContext(t), repair)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return r
}

// exec runs statements on s's database.
func exec(t *testing.T, s *pgSink, statements ...string) {
	t.Helper()
	for _, q := range statements {
		if _, err := s.pool.Exec(testContext(t), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// checkSound fails t unless r found no problem, passed the schema version and the aggregates,
// and skipped the integrity check.
func checkSound(t *testing.T, r table.Report) {
	t.Helper()
	passed := []string{fmt.Sprint("schema version ", SchemaVersion()), "aggregates"}
	if len(r.Problems) > 0 || !slices.Equal(r.Passed, passed) || !slices.Equal(r.Skipped, []string{skippedIntegrity}) {
		t.Errorf("expected no problems, %q passed and the integrity check skipped, got problems %v, passed %q, skipped %q",
			passed, r.Problems, r.Passed, r.Skipped)
	}
}

// checkProblems fails t unless every problem of r is of fault f and each text of want is in
// one of them.
func checkProblems(t *testing.T, r table.Report, f table.Fault, want ...string) {
	t.Helper()
	var all []string
	for _, p := range r.Problems {
		if p.Fault != f {
			t.Errorf("expected fault %d, got %d: %s", f, p.Fault, p.Text)
		}
		all = append(all, p.Text)
	}
	for _, w := range want {
		if !strings.Contains(strings.Join(all, "\n"), w) {
			t.Errorf("expected a problem with %q, got %q", w, all)
		}
	}
}

func TestVerifyAggregates(t *testing.T) {
	t.Parallel()
	s := verifiedDatabase(t)
	checkSound(t, verify(t, s, false))

	exec(t, s,
		`UPDATE day_versions SET instances = instances + 1 WHERE (day, version) = (SELECT day, version FROM day_versions ORDER BY day DESC LIMIT 1)`,
		`UPDATE trend_deltas SET delta = delta - 2 WHERE (window_days, day, version) = (SELECT window_days, day, version FROM trend_deltas ORDER BY 1, 2, 3 LIMIT 1)`)
	changed := derived(t, s)
	r := verify(t, s, false)
	checkProblems(t, r, table.Disagrees,
		"aggregates: day_versions disagrees with the sightings: 1 row stored but not recomputed, 1 row recomputed but not stored, e.g. stored (day=",
		"aggregates: trend_deltas disagrees with the sightings: 1 row stored but not recomputed, 1 row recomputed but not stored")
	if len(r.Problems) != 2 {
		t.Errorf("expected 2 problems, got %v", r.Problems)
	}
	checkDerived(t, "expected what verify found", changed, "got", derived(t, s))

	r = verify(t, s, true)
	if len(r.Problems) > 0 || len(r.Repaired) != 2 {
		t.Errorf("expected no problems and 2 tables repaired, got %v and %q", r.Problems, r.Repaired)
	}
	checkSound(t, verify(t, s, false))
	checkRebuilt(t, s)
}

func TestVerifySchemaVersion(t *testing.T) {
	t.Parallel()
	s := verifiedDatabase(t)
	known := SchemaVersion()
	exec(t, s, fmt.Sprint("INSERT INTO mailustats_schema (version) VALUES (", known+1, ")"))
	checkProblems(t, verify(t, s, false), table.Unopenable, fmt.Sprintf("schema version %d is newer than this build's %d", known+1, known))
	exec(t, s, fmt.Sprint("DELETE FROM mailustats_schema WHERE version >= ", known))
	checkProblems(t, verify(t, s, false), table.Unopenable, fmt.Sprintf("schema version %d is older than this build's %d", known-1, known))

	empty := open(t, newDatabase(t, server.Get(t))) // never prepared: no tables
	checkProblems(t, verify(t, empty, false), table.Unopenable, "no mailustats_schema table: not a mailustats database")
}

func TestVerifyUnopenable(t *testing.T) {
	t.Parallel()
	o, err := Parse([]string{server.Get(t).DSN("nosuch")})
	if err != nil {
		t.Fatal(err)
	}
	r, err := o.(opener).Verify(testContext(t), false)
	if err != nil {
		t.Fatal(err)
	}
	checkProblems(t, r, table.Unopenable, `database "nosuch`)
}
