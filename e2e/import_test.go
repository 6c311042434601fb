package e2e

import (
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/miekg/dns"
	_ "modernc.org/sqlite"

	"github.com/mailustats/mailustats/internal/testutil/oldlogs"
	"github.com/mailustats/mailustats/internal/testutil/population"
)

// An import into the SQLite database the built server records to, while it records: the server
// answers every query meanwhile, and afterwards the database holds exactly what the server
// recorded and what the same import into an empty database holds, no record lost on either side.
func TestImportWhileRecording(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "stats.db")
	log := filepath.Join(dir, "output.log")
	writeOldLog(t, log)
	srv := startCoreDNS(t, statsCorefile(false, "sink sqlite "+db, "flush 100ms"))

	done := make(chan error, 1)
	go func() { done <- importLog(db, log) }()
	// Announcements go on until the import ends, at least 300 and at most 5000 of them.
	hits := map[announcement]int64{}
	var imported error
	importing, during := true, 0 // during: announcements answered while the import ran
	for i := 0; i < 5000 && (importing || i < 300); i++ {
		select {
		case imported = <-done:
			importing = false
		default:
		}
		qname, ann := valid([]string{"19", "2024", "master"}[i%3], mixCase)()
		r, _, err := exchange(srv.addr, "udp", newQuery(qname, dns.TypeA, true), 2*time.Second)
		if err != nil || r.Rcode != dns.RcodeNameError {
			t.Fatalf("%s, while importing: expected NXDOMAIN, got %v, %v", qname, r, err)
		}
		hits[*ann]++
		if importing {
			during++
		}
	}
	if importing {
		select {
		case imported = <-done:
		case <-time.After(2 * time.Minute):
			t.Fatal("the import did not end in 2 minutes")
		}
	}
	if imported != nil {
		t.Fatal(imported)
	}
	if during == 0 {
		t.Error("expected announcements answered while the import ran, got none")
	}
	srv.Stop(t)

	alone := filepath.Join(dir, "alone.db")
	if err := importLog(alone, log); err != nil {
		t.Fatal(err)
	}
	want := dailyRows(t, alone)
	if len(want) == 0 {
		t.Fatal("expected rows from the import alone")
	}
	today := time.Now().UTC().Format(time.DateOnly)
	for ann, n := range hits {
		// The log ends before today, so no row of its is the server's: they add up, no merging.
		want[dailyKey{today, ann.version, ann.instance}] += n
	}
	if got := dailyRows(t, db); !reflect.DeepEqual(got, want) {
		t.Errorf("expected the %d rows of the import alone and the %d instances the server recorded, got %d rows",
			len(want)-len(hits), len(hits), len(got))
	}
}

// writeOldLog writes an old Go server's log of a small population, which ends before today.
func writeOldLog(t *testing.T, path string) {
	t.Helper()
	c := population.Small(3)
	c.Start = time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -c.Days-1)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oldlogs.Write(f, c, 100_000); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// importLog imports log into the SQLite database db with the built tool.
func importLog(db, log string) error {
	tool := filepath.Join(filepath.Dir(coreDNSBin), "mailustats")
	out, err := exec.Command(tool, "import", "-sqlite", db, log).CombinedOutput()
	if err != nil {
		return fmt.Errorf("mailustats import: %v\n%s", err, out)
	}
	return nil
}

// dailyKey is a row of the daily view, but for its counts and times.
type dailyKey struct{ day, version, instance string }

// dailyRows reads the hits of every row of the daily view of the SQLite database at path.
func dailyRows(t *testing.T, path string) map[dailyKey]int64 {
	t.Helper()
	conn, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rows, err := conn.Query("SELECT day, version, instance, hits FROM daily")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[dailyKey]int64{}
	for rows.Next() {
		var k dailyKey
		var hits int64
		if err := rows.Scan(&k.day, &k.version, &k.instance, &hits); err != nil {
			t.Fatal(err)
		}
		out[k] = hits
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
