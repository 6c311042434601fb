package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mailustats/mailustats/internal/testutil/sqltest"
	"github.com/mailustats/mailustats/plugin/sink/table"
)

// verifiedDatabase writes random histories to a new database in batches, as a server would,
// closes it and returns its path.
func verifiedDatabase(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "stats.db")
	s := openStore(t, path)
	rng := rand.New(rand.NewPCG(7, 7))
	records := generate(rng, 60, 400)
	rng.Shuffle(len(records), func(i, j int) { records[i], records[j] = records[j], records[i] })
	for i := 0; len(records) > 0; i++ {
		n := min(len(records), 1+rng.IntN(40))
		write(t, s, batch(fmt.Sprint(i), records[:n]...))
		records = records[n:]
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// openStore opens the sink at path, which the caller closes.
func openStore(t *testing.T, path string) *store {
	t.Helper()
	o, err := Parse([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	s, err := o.Open()
	if err != nil {
		t.Fatal(err)
	}
	return s.(*store)
}

// verify runs Verify on the database at path.
func verify(t *testing.T, path string, repair bool) table.Report {
	t.Helper()
	o, err := Parse([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	r, err := o.(opener).Verify(t.Context(), repair)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return r
}

// execAll runs statements on the database at path.
func execAll(t *testing.T, path string, statements ...string) {
	t.Helper()
	sqltest.Exec(t, "sqlite", dsn(path, "mode=rw"), statements...)
}

// checkSound fails t unless r found no problem and passed every check.
func checkSound(t *testing.T, r table.Report) {
	t.Helper()
	want := []string{"integrity", fmt.Sprint("schema version ", SchemaVersion()), "aggregates"}
	if len(r.Problems) > 0 || !reflect.DeepEqual(r.Passed, want) {
		t.Errorf("expected no problems and the checks %q passed, got problems %v and passed %q", want, r.Problems, r.Passed)
	}
}

// checkProblems fails t unless every problem of r is of fault f and each text of want is in
// one of them.
func checkProblems(t *testing.T, r table.Report, f table.Fault, want ...string) {
	t.Helper()
	if len(r.Problems) == 0 {
		t.Fatalf("expected problems of fault %d, got none (passed %q)", f, r.Passed)
	}
	var all []string
	for _, p := range r.Problems {
		if p.Fault != f {
			t.Errorf("expected fault %d, got %d: %s", f, p.Fault, p.Text)
		}
		all = append(all, p.Text)
	}
	for _, w := range want {
		if !strings.Contains(strings.Join(all, "\n"), w) {
			t.Errorf("expected a problem with %q, got:\n%s", w, strings.Join(all, "\n"))
		}
	}
}

func TestVerifySound(t *testing.T) {
	path := verifiedDatabase(t)
	before := fileContents(t, path)
	checkSound(t, verify(t, path, false))
	if after := fileContents(t, path); after != before {
		t.Error("expected verify to leave the database as it was, got it changed")
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".mailustats-verify-*")); len(left) > 0 {
		t.Errorf("expected verify to remove its copy, got %q", left)
	}
	r := verify(t, path, true)
	checkSound(t, r)
	if len(r.Repaired) > 0 {
		t.Errorf("expected nothing repaired, got %q", r.Repaired)
	}
}

// The check reads a live database without holding up its writer, which holds the write lock
// meanwhile; so does a repair that finds nothing to repair.
func TestVerifyLive(t *testing.T) {
	path := verifiedDatabase(t)
	s := openStore(t, path)
	defer s.Close()
	tx, err := s.db.BeginTx(t.Context(), nil) // the writer holds the write lock throughout
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	checkSound(t, verify(t, path, false))
	checkSound(t, verify(t, path, true))
}

func TestVerifyDisagreements(t *testing.T) {
	path := verifiedDatabase(t)
	db, err := sql.Open("sqlite", dsn(path, "mode=ro"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	execAll(t, path,
		`UPDATE day_versions SET instances = instances + 1 WHERE (day, version) = (SELECT day, version FROM day_versions ORDER BY day DESC LIMIT 1)`,
		`UPDATE trend_deltas SET delta = delta - 2 WHERE (window_days, day, version) = (SELECT window_days, day, version FROM trend_deltas LIMIT 1)`,
		`DELETE FROM changes WHERE (instance, day) = (SELECT instance, day FROM changes LIMIT 1)`,
		`UPDATE instances SET days = days + 1 WHERE id = 3`)
	changed := tableContents(t, db)

	r := verify(t, path, false)
	checkProblems(t, r, table.Disagrees, "aggregates: day_versions disagrees with the sightings: 1 row stored but not recomputed, 1 row recomputed but not stored",
		"aggregates: trend_deltas disagrees", "aggregates: changes disagrees with the sightings: 0 rows stored but not recomputed, 1 row recomputed",
		"aggregates: instances disagrees", "recomputed (id=3 first_day=")
	if len(r.Problems) != 4 {
		t.Errorf("expected 4 problems, got %d", len(r.Problems))
	}
	if got := tableContents(t, db); !reflect.DeepEqual(got, changed) {
		t.Error("expected verify without repair to change nothing, got the tables changed")
	}

	r = verify(t, path, true)
	if len(r.Problems) > 0 || len(r.Repaired) != 4 {
		t.Errorf("expected no problems and 4 tables repaired, got %v and %q", r.Problems, r.Repaired)
	}
	checkSound(t, verify(t, path, false))
	checkAggregates(t, db)
}

func TestVerifySchemaVersion(t *testing.T) {
	path := verifiedDatabase(t)
	for _, tc := range []struct {
		version int
		want    string
	}{
		{SchemaVersion() - 1, fmt.Sprintf("schema version %d is older than this build's %d: start the server once", SchemaVersion()-1, SchemaVersion())},
		{SchemaVersion() + 1, fmt.Sprintf("schema version %d is newer than this build's %d", SchemaVersion()+1, SchemaVersion())},
	} {
		execAll(t, path, fmt.Sprint("UPDATE mailustats_schema SET version = ", tc.version))
		checkProblems(t, verify(t, path, false), table.Unopenable, tc.want)
		checkProblems(t, verify(t, path, true), table.Unopenable, tc.want)
	}
}

func TestVerifyUnopenable(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.db")
	checkProblems(t, verify(t, missing, false), table.Unopenable, missing+": no such file")
	checkProblems(t, verify(t, missing, true), table.Unopenable, missing+": no such file")
	if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("expected verify to create nothing, Stat gave %v", err)
	}

	text := filepath.Join(dir, "text.db")
	if err := os.WriteFile(text, []byte(strings.Repeat("not a database\n", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	checkProblems(t, verify(t, text, false), table.Unopenable, "integrity: file is not a database")

	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	checkProblems(t, verify(t, empty, false), table.Unopenable, "no mailustats_schema table: not a mailustats database")
}

func TestVerifyCorrupt(t *testing.T) {
	t.Run("flipped bytes", func(t *testing.T) {
		path := verifiedDatabase(t)
		page, size := middlePage(t, path, "sightings")
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, size)
		if _, err := f.ReadAt(b, (page-1)*size); err != nil {
			t.Fatal(err)
		}
		for i := 8; i < len(b)/2; i++ { // the header's cell pointers and the cells after them
			b[i] ^= 0x5a
		}
		if _, err := f.WriteAt(b, (page-1)*size); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		checkProblems(t, verify(t, path, false), table.Corrupt, "integrity: Tree ", " (sightings) page ")
		checkProblems(t, verify(t, path, true), table.Corrupt, "integrity: Tree ", " (sightings) page ")
	})
	t.Run("truncated", func(t *testing.T) {
		path := verifiedDatabase(t)
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(path, fi.Size()/2); err != nil {
			t.Fatal(err)
		}
		checkProblems(t, verify(t, path, false), table.Corrupt, "integrity: database disk image is malformed")
	})
}

// middlePage returns the number of the middle leaf page of a table of the database at path,
// and the size of its pages.
func middlePage(t *testing.T, path, name string) (page, size int64) {
	t.Helper()
	db, err := sql.Open("sqlite", dsn(path, "mode=ro"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const q = `SELECT pageno, pgsize FROM dbstat WHERE name = ? AND pagetype = 'leaf' ORDER BY pageno
		LIMIT 1 OFFSET (SELECT count(*) / 2 FROM dbstat WHERE name = ? AND pagetype = 'leaf')`
	if err := db.QueryRow(q, name, name).Scan(&page, &size); err != nil {
		t.Fatal(err)
	}
	return page, size
}

// fileContents returns the bytes of the file at path.
func fileContents(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
