package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mailustats/mailustats/internal/testutil/sqltest"
	"github.com/mailustats/mailustats/plugin/history"
	"github.com/mailustats/mailustats/plugin/sink/table"
)

// createVersion1 creates a database at path as a build knowing only migration 1 left it,
// with rows in its daily table, an event and a batch ID.
func createVersion1(t testing.TB, path string, rows map[string][]viewRow) {
	t.Helper()
	db, err := sql.Open("sqlite", dsn(path, dsnQuery))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	version1 := `CREATE TABLE mailustats_schema (version INTEGER NOT NULL);
		INSERT INTO mailustats_schema (version) VALUES (1);` + migrations[0].sql + `
		INSERT INTO events VALUES (100, '2024.06', '` + instA + `');
		INSERT INTO batches VALUES ('old', 100);`
	if _, err := db.Exec(version1); err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	insert, err := tx.Prepare(`INSERT INTO daily VALUES (?, ?, ?, ?, ?, ?)`)
	if err != nil {
		t.Fatal(err)
	}
	for inst, rs := range rows {
		for _, r := range rs {
			if _, err := insert.Exec(history.DayString(r.day), r.version, inst, r.hits, r.firstSeen, r.lastSeen); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// version1Rows are the daily rows of random records of n instances, each as a UUID or, with
// digests, as 32 hex digits.
func version1Rows(seed uint64, n int, digests bool) map[string][]viewRow {
	rows := rowsOf(generate(rand.New(rand.NewPCG(seed, 3)), n, 700))
	if !digests {
		return rows
	}
	out := map[string][]viewRow{}
	for inst, rs := range rows {
		out[strings.ReplaceAll(inst, "-", "")] = rs
	}
	return out
}

// checkVersion1 checks that the database at path is still at version 1 with its daily rows.
func checkVersion1(t *testing.T, path string, rows map[string][]viewRow) {
	t.Helper()
	db, err := sql.Open("sqlite", dsn(path, dsnQuery))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	checkRows(t, "schema version", schemaVersion(t, db), [][]any{{int64(1)}})
	checkRows(t, "tables", sqltest.Query(t, db, `SELECT name FROM sqlite_master WHERE name = 'sightings'`), nil)
	if got := viewRows(t, db); !reflect.DeepEqual(got, rows) {
		t.Errorf("daily rows: expected\n%v\ngot\n%v", rows, got)
	}
}

// checkMigrated checks that the sink holds rows, the event and the batch of createVersion1,
// and aggregates that match their definitions and a Rebuild.
func checkMigrated(t *testing.T, s *store, rows map[string][]viewRow) {
	t.Helper()
	checkRows(t, "schema version", schemaVersion(t, s.db), [][]any{{int64(len(migrations))}})
	if got := viewRows(t, s.db); !reflect.DeepEqual(got, rows) {
		t.Errorf("daily rows: expected\n%v\ngot\n%v", rows, got)
	}
	checkRows(t, "events", eventRows(t, s), [][]any{{int64(100), "2024.06", instA}})
	checkRows(t, "batches", sqltest.Query(t, s.db, `SELECT id, at FROM batches`), [][]any{{"old", int64(100)}})
	checkRows(t, "objects named daily", sqltest.Query(t, s.db, `SELECT type FROM sqlite_master WHERE tbl_name = 'daily'`), [][]any{{"view"}})
	checkAggregates(t, s.db)
	checkRebuild(t, s.db)
}

// TestOpenMigratesVersion1 opens databases that a build knowing only the first migration
// wrote: Open converts them to version 2 with every row.
func TestOpenMigratesVersion1(t *testing.T) {
	for _, tc := range []struct {
		name    string
		digests bool
		kind    string
	}{{"uuids", false, table.KindUUID}, {"digests", true, table.KindHash}} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "stats.db")
			rows := version1Rows(1, 20, tc.digests)
			createVersion1(t, path, rows)
			s := open(t, path, "events")
			checkMigrated(t, s, rows)
			checkRows(t, "settings", sqltest.Query(t, s.db, `SELECT name, value FROM settings`), [][]any{{settingIDs, tc.kind}})

			// The migrated database knows its instances.
			var c newCounts
			s.OnNewInstances(c.add)
			var known string
			for inst := range rows {
				known = inst
			}
			other := "ffffffff-0000-4000-8000-000000000000"
			if tc.digests {
				other = "ffffffff000040008000000000000000"
			}
			write(t, s, batch("new", rec("2026-03-03T10:00:00Z", "2024.06", known), rec("2026-03-03T10:00:00Z", "2024.06", other)))
			c.check(t, "a known and a new instance", 1)
			checkAggregates(t, s.db)
		})
	}
}

// TestOpenMigratesCase merges the rows of an instance ID written in upper and in lower case.
func TestOpenMigratesCase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stats.db")
	createVersion1(t, path, map[string][]viewRow{
		instA:                  {{day: 20000, version: "2.0", hits: 2, firstSeen: 20000*86400 + 10, lastSeen: 20000*86400 + 20}},
		strings.ToUpper(instA): {{day: 20000, version: "2.0", hits: 1, firstSeen: 20000*86400 + 5, lastSeen: 20000*86400 + 15}},
	})
	s := open(t, path)
	checkRows(t, "daily rows", dailyRows(t, s), [][]any{{"2024-10-04", "2.0", instA, int64(3), int64(20000*86400 + 5), int64(20000*86400 + 20)}})
	checkAggregates(t, s.db)
}

func TestOpenRefusesBothKinds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stats.db")
	rows := version1Rows(2, 4, false)
	for inst, rs := range version1Rows(3, 3, true) {
		rows[inst] = rs
	}
	createVersion1(t, path, rows)
	err := openFails(t, path)
	if want := "both raw instance IDs (4 UUIDs) and hash_ids digests (3)"; !strings.Contains(err.Error(), want) {
		t.Errorf("expected an error saying %q, got %q", want, err)
	}
	checkVersion1(t, path, rows)
}

// TestOpenMigrationFails fails the migration after its conversion: the database stays at
// version 1, and the next Open migrates it.
func TestOpenMigrationFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stats.db")
	rows := version1Rows(4, 10, false)
	createVersion1(t, path, rows)
	convert := migrations[1].step
	t.Cleanup(func() { migrations[1].step = convert })
	injected := errors.New("injected")
	migrations[1].step = func(ctx context.Context, tx *sql.Tx) error {
		return errors.Join(convert(ctx, tx), injected)
	}
	o, err := Parse([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	if s, err := o.Open(); !errors.Is(err, injected) {
		if err == nil {
			s.Close()
		}
		t.Fatalf("expected the injected error, got %v", err)
	}
	checkVersion1(t, path, rows)

	migrations[1].step = convert
	checkMigrated(t, open(t, path, "events"), rows)
}

// killedEnv names the database a test process migrates until it is killed.
const killedEnv = "MAILUSTATS_TEST_KILLED_MIGRATION"

// TestOpenMigrationKilled kills a process during the migration, once it has converted the
// rows: the database stays at version 1, and the next Open migrates it.
func TestOpenMigrationKilled(t *testing.T) {
	if path := os.Getenv(killedEnv); path != "" {
		convert := migrations[1].step
		migrations[1].step = func(ctx context.Context, tx *sql.Tx) error {
			if err := convert(ctx, tx); err != nil {
				return err
			}
			if err := os.WriteFile(path+".converted", nil, 0o600); err != nil {
				return err
			}
			time.Sleep(time.Hour) // until killed
			return nil
		}
		open(t, path)
		t.Fatal("expected to be killed")
	}

	path := filepath.Join(t.TempDir(), "stats.db")
	rows := version1Rows(5, 10, false)
	createVersion1(t, path, rows)
	cmd := exec.Command(os.Args[0], "-test.run=^TestOpenMigrationKilled$", "-test.count=1")
	cmd.Env = append(os.Environ(), killedEnv+"="+path)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(path + ".converted"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the migrating process did not convert the rows in a minute; its output:\n%s", out.String())
		}
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Fatalf("expected the process to be killed, it ended:\n%s", out.String())
	}
	checkVersion1(t, path, rows)
	checkMigrated(t, open(t, path, "events"), rows)
}

// TestMigration1AsReleased checks that migration 1 is byte for byte the released one.
func TestMigration1AsReleased(t *testing.T) {
	const released = "168aa5c9ec7ca3f5a20f1186966b2d3c6224f0dd99661c1502819b3ea241a205" // its SHA-256
	if got := fmt.Sprintf("%x", sha256.Sum256([]byte(migrations[0].sql))); got != released || migrations[0].step != nil {
		t.Errorf("migration 1 changed: SHA-256 %s, step %v", got, migrations[0].step != nil)
	}
}

// version2Of takes back from a database of version 3 what migration 3 added, leaving it as a
// database of version 2 written by the release that had no migration 3.
const version2Of = `DROP INDEX changes_repeats;
	DROP TABLE day_changes;
	DROP TABLE change_instances;
	ALTER TABLE changes DROP COLUMN previous_day;
	CREATE INDEX changes_day ON changes (day);
	UPDATE mailustats_schema SET version = 2;`

// TestOpenMigratesVersion2 writes random histories, takes the database back to version 2, and
// opens it: migration 3 fills the changes per day and the previous days of changes as the
// writer keeps them, and the daily view holds the rows as before.
func TestOpenMigratesVersion2(t *testing.T) {
	for seed := range uint64(3) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 4))
			records := generate(rng, 20, 700)
			path := filepath.Join(t.TempDir(), "stats.db")
			s := open(t, path)
			for i, rest := 0, records; len(rest) > 0; i++ {
				n := min(len(rest), 1+rng.IntN(40))
				write(t, s, batch(fmt.Sprint(i), rest[:n]...))
				rest = rest[n:]
			}
			if _, err := s.db.Exec(version2Of); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = open(t, path)
			checkRows(t, "schema version", schemaVersion(t, s.db), [][]any{{int64(len(migrations))}})
			if got, want := viewRows(t, s.db), rowsOf(records); !reflect.DeepEqual(got, want) {
				t.Errorf("daily rows: expected\n%v\ngot\n%v", want, got)
			}
			checkAggregates(t, s.db)
			checkRebuild(t, s.db)
		})
	}
}
