package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// Bounds on the waits for a sink to fail or recover: the writer's backoff reaches 5 s, and a
// SQLite writer waits 4 s for a lock before it fails.
const (
	faultTimeout = 20 * time.Second
	lockShort    = 2 * time.Second // well under the sink's busy timeout
	lockLong     = 9 * time.Second // longer than the sink's busy timeout, twice
)

// sinkDBQuery is how the tests open a sink's database: like the sink, they wait for a writer's
// lock instead of failing, and take the write lock when a transaction begins.
const sinkDBQuery = "_busy_timeout=10000&_txlock=immediate"

// openSinkDB opens the SQLite database at path with one connection.
func openSinkDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?"+sinkDBQuery)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

// dbQuerier is a database or a transaction on one.
type dbQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// sinkDBHits returns the sum of hits in the daily table.
func sinkDBHits(q dbQuerier) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var n int
	err := q.QueryRowContext(ctx, "SELECT coalesce(sum(hits), 0) FROM daily").Scan(&n)
	return n, err
}

// sinkDBRecords returns the daily table as records: each row's announcement once per hit.
func sinkDBRecords(t *testing.T, q dbQuerier) []announcement {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rows, err := q.QueryContext(ctx, "SELECT version, instance, hits FROM daily")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []announcement
	for rows.Next() {
		var a announcement
		var hits int
		if err := rows.Scan(&a.version, &a.instance, &hits); err != nil {
			t.Fatal(err)
		}
		for range hits {
			out = append(out, a)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// csvAnnouncements returns the announcements of a csv sink, one per line.
func csvAnnouncements(t *testing.T, path string) []announcement {
	t.Helper()
	var out []announcement
	for _, s := range readCSV(t, path) {
		out = append(out, s.announcement)
	}
	return out
}

// withOutcome returns the announcements of the queries with the given outcome.
func withOutcome(qs []loadQuery, o loadOutcome) []announcement {
	var out []announcement
	for _, q := range qs {
		if q.outcome == o {
			out = append(out, q.ann)
		}
	}
	return out
}

// A file sink on a full device fails every write, while a second file sink is not held back:
// every query is answered, the failures are counted and make the plugin unready, the other file
// gets every record, and at SIGTERM the failing sink's backlog is given up after the grace and
// counted, with a clean exit.
func TestFileSinkOnFullDevice(t *testing.T) {
	const full = "/dev/full"
	if _, err := os.Stat(full); err != nil {
		t.Skipf("no %s on this system: %v", full, err)
	}
	ok := filepath.Join(t.TempDir(), "ok.csv")
	srv := startMonitored(t, fmt.Sprintf(`stats.mailu.io:{port} {
    bind 127.0.0.1
    prometheus 127.0.0.1:{mport}
    ready 127.0.0.1:{rport} {
        monitor continuously
    }
    mailustats {
        ns ns1.stats.mailu.io 127.0.0.1
        sink file %s
        sink file %s
        flush 100ms
    }
}
`, full, ok))
	from := time.Now()
	qs := loadLoop(srv.addr, 4, 300, nil)
	checkOutcomes(t, qs, loadRecorded)
	want := withOutcome(qs, loadRecorded)

	eventually(t, faultTimeout, "failed writes to "+full+" counted", func() (bool, string) {
		m, err := scrapeMetrics(srv.metricsAddr)
		if err != nil {
			return false, err.Error()
		}
		n, _ := m.Sum("coredns_mailustats_sink_errors_total", "sink", "file:"+full)
		return n > 0, fmt.Sprintf("sink_errors_total %v", n)
	})
	waitReady(t, srv, false, faultTimeout)
	eventually(t, faultTimeout, "every record in "+ok, func() (bool, string) {
		data, err := os.ReadFile(ok)
		n := strings.Count(string(data), "\n")
		return err == nil && n == len(want), fmt.Sprintf("%d of %d lines, %v", n, len(want), err)
	})
	m := srv.scrape(t)
	if n := m.must(t, "coredns_mailustats_queries_total", "result", "recorded"); int(n) != len(want) {
		t.Errorf("expected %d queries recorded, got %v", len(want), n)
	}
	for _, name := range []string{"sink_errors_total", "sink_dropped_total"} {
		if n := m.must(t, "coredns_mailustats_"+name, "sink", "file:"+ok); n != 0 {
			t.Errorf("%s{sink=file:%s}: expected 0, got %v", name, ok, n)
		}
	}
	// Nothing is dropped while the backlog has room: the failing sink keeps every record.
	if n := m.must(t, "coredns_mailustats_sink_dropped_total", "sink", "file:"+full); n != 0 {
		t.Errorf("sink_dropped_total{sink=file:%s}: expected 0 before the shut-down, got %v", full, n)
	}

	out := srv.Stop(t) // exit code 0, within stopTimeout: the grace is 5 s
	to := time.Now()
	// The metrics are gone with the process; the log says what sink_dropped_total counted.
	if line := fmt.Sprintf("sink file:%s: %d records not stored at shut-down", full, len(want)); !strings.Contains(out, line) {
		t.Errorf("expected %q in the output, got:\n%s", line, out)
	}
	if strings.Contains(out, "sink file:"+ok+": ") {
		t.Errorf("expected no complaint about sink file:%s, got:\n%s", ok, out)
	}
	checkStored(t, readCSV(t, ok), want, from, to)
}

// A sink that cannot be opened stops start-up with an error naming the sink and its line.
func TestSinkOpenFailsAtStartup(t *testing.T) {
	dir := t.TempDir()
	locked := filepath.Join(dir, "locked")
	if err := os.Mkdir(locked, 0o500); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "plain")
	writeFile(t, plain, "")
	tests := []struct {
		name     string
		kind     string // file or sqlite
		path     string
		want     string // the error, after the sink's label
		needUser bool   // permissions do not apply to root
	}{
		{"file in a directory without write permission", "file", filepath.Join(locked, "a.csv"), "open " + filepath.Join(locked, "a.csv") + ": permission denied", true},
		{"file under a regular file", "file", filepath.Join(plain, "a.csv"), "open " + filepath.Join(plain, "a.csv") + ": not a directory", false},
		{"file that is a directory", "file", locked, "open " + locked + ": is a directory", false},
		{"sqlite under a regular file", "sqlite", filepath.Join(plain, "sub", "s.db"), "mkdir " + plain + ": not a directory", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.needUser && os.Geteuid() == 0 {
				t.Skip("running as root, for whom directory permissions do not apply; run as another user to test this")
			}
			conf := filepath.Join(t.TempDir(), "Corefile")
			writeFile(t, conf, fmt.Sprintf("stats.mailu.io:%d {\n    bind 127.0.0.1\n    mailustats {\n        ttl 60\n        sink %s %s\n        ns ns1.stats.mailu.io 127.0.0.1\n    }\n}\n", freePort(t), tc.kind, tc.path))
			out := startFails(t, conf)
			want := fmt.Sprintf("%s:5 - sink %s:%s: ", conf, tc.kind, tc.path)
			if i := strings.Index(out, want); i < 0 || !strings.Contains(out[i:], tc.want) {
				t.Errorf("expected %q followed by %q in the output, got:\n%s", want, tc.want, out)
			}
		})
	}
}

// Another process holds SQLite's write lock. Held for less than the sink's busy timeout, the
// sink waits for it and writes everything when it is released, with no failed write; held for
// longer, the write fails, is counted and makes the plugin unready, and after the release the
// retry stores every record exactly once. The DNS path never waits for the lock.
func TestSQLiteLockedByAnotherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	label := "sqlite:" + path
	srv := startMonitored(t, fmt.Sprintf(`stats.mailu.io:{port} {
    bind 127.0.0.1
    prometheus 127.0.0.1:{mport}
    ready 127.0.0.1:{rport} {
        monitor continuously
    }
    mailustats {
        ns ns1.stats.mailu.io 127.0.0.1
        sink sqlite %s
        flush 100ms
    }
}
`, path))
	waitReady(t, srv, true, faultTimeout) // the database exists and is migrated
	db := openSinkDB(t, path)
	var sent []loadQuery

	// lock takes the write lock (waiting for the sink if it is writing) and sends n queries,
	// which must all be answered NXDOMAIN while the lock is held.
	lock := func(n int) (*sql.Tx, time.Time) {
		t.Helper()
		tx, err := db.BeginTx(context.Background(), nil) // BEGIN IMMEDIATE
		if err != nil {
			t.Fatal(err)
		}
		locked := time.Now()
		qs := loadLoop(srv.addr, 4, n, nil)
		checkOutcomes(t, qs, loadRecorded)
		sent = append(sent, qs...)
		if hits, err := sinkDBHits(tx); err != nil || hits != len(sent)-n {
			t.Errorf("while locked: expected the %d hits from before, got %d, %v", len(sent)-n, hits, err)
		}
		return tx, locked
	}
	waitHits := func(want int) {
		t.Helper()
		eventually(t, faultTimeout, fmt.Sprintf("%d hits in daily", want), func() (bool, string) {
			n, err := sinkDBHits(db)
			return err == nil && n == want, fmt.Sprintf("%d hits, %v", n, err)
		})
	}

	// Short: the sink's BEGIN IMMEDIATE waits within its busy timeout and then succeeds.
	tx, locked := lock(500)
	time.Sleep(time.Until(locked.Add(lockShort))) // hold the lock, not an assertion
	if code := srv.readyStatus(); code != http.StatusOK {
		t.Errorf("while the lock is held briefly: expected /ready 200 (a write waiting is not failing), got %d", code)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	waitHits(500)
	if n := srv.scrape(t).must(t, "coredns_mailustats_sink_errors_total", "sink", label); n != 0 {
		t.Errorf("after a lock shorter than the busy timeout: expected no failed write, got %v", n)
	}

	// Long: the write times out waiting, is counted, and the plugin is not ready until the
	// lock is released and the retry succeeds.
	tx, locked = lock(500)
	eventually(t, lockLong+faultTimeout, "a failed write counted", func() (bool, string) {
		m, err := scrapeMetrics(srv.metricsAddr)
		if err != nil {
			return false, err.Error()
		}
		n, _ := m.Sum("coredns_mailustats_sink_errors_total", "sink", label)
		return n > 0, fmt.Sprintf("sink_errors_total %v", n)
	})
	waitReady(t, srv, false, faultTimeout)
	time.Sleep(time.Until(locked.Add(lockLong))) // hold the lock, not an assertion
	if hits, err := sinkDBHits(tx); err != nil || hits != 500 {
		t.Errorf("at the end of the long lock: expected 500 hits, got %d, %v", hits, err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	waitReady(t, srv, true, faultTimeout)
	waitHits(len(sent))
	m := srv.scrape(t)
	errs := m.must(t, "coredns_mailustats_sink_errors_total", "sink", label)
	if n := m.must(t, "coredns_mailustats_sink_dropped_total", "sink", label); n != 0 {
		t.Errorf("expected no record dropped, got %v", n)
	}
	srv.Stop(t)
	checkLoadStored(t, label, sinkDBRecords(t, db), sent, true)
	t.Logf("%d records, each stored once; %v failed writes while the lock was held for %s", len(sent), errs, lockLong)
}

// A server killed with SIGKILL while it writes leaves both sinks readable: the csv file ends
// with a whole line (each batch is one write(2)), and the SQLite database passes its integrity
// check (a transaction cut short is rolled back from the WAL). What is lost is what was
// accepted but not yet written: the records still in the queue (at most the last flush
// interval), the batch whose write was in flight, and what waited behind it in the sink's
// backlog. Nothing is stored twice and nothing that was not answered NXDOMAIN, or lost in flight,
// is stored.
func TestKilledMidLoad(t *testing.T) {
	dir := t.TempDir()
	csv, path := filepath.Join(dir, "s.csv"), filepath.Join(dir, "s.db")
	srv := startCoreDNS(t, fmt.Sprintf(`stats.mailu.io:{port} {
    bind 127.0.0.1
    mailustats {
        ns ns1.stats.mailu.io 127.0.0.1
        sink file %s
        sink sqlite %s
        flush 50ms
        buffer 1048576
    }
}
`, csv, path))
	db := openSinkDB(t, path)
	load := startLoad(t, srv.addr, 4, nil)
	time.Sleep(loadBefore) // load before the kill, not an assertion
	eventually(t, faultTimeout, "records in both sinks", func() (bool, string) {
		fi, err := os.Stat(csv)
		if err != nil {
			return false, err.Error()
		}
		n, err := sinkDBHits(db)
		return fi.Size() > 0 && n > 0, fmt.Sprintf("csv %d bytes, %d hits, %v", fi.Size(), n, err)
	})
	if err := srv.Cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Wait(stopTimeout); err != nil {
		t.Fatalf("after SIGKILL: %v", err)
	}
	qs := load.finish(t)
	tally := tallyLoad(qs)
	checkOutcomes(t, qs, loadRecorded, loadUnanswered, loadNoListener) // no SERVFAIL: no shut-down began

	csvGot := csvAnnouncements(t, csv) // every line whole, three fields, a newline at the end
	var check string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Errorf("PRAGMA integrity_check: expected ok, got %q, %v", check, err)
	}
	var rows int
	if err := db.QueryRow("SELECT count(*) FROM daily").Scan(&rows); err != nil {
		t.Errorf("count the daily rows: %v", err)
	}
	dbGot := sinkDBRecords(t, db)
	csvN := checkLoadStored(t, "csv", csvGot, qs, false)
	dbN := checkLoadStored(t, "sqlite", dbGot, qs, false)
	if rows != len(dbGot) {
		t.Errorf("expected one daily row per record (%d), got %d", len(dbGot), rows)
	}
	t.Logf("queries: %s; csv stored %d, lost %d NXDOMAIN-answered; sqlite stored %d in %d rows, lost %d",
		tally, len(csvGot), csvN.missing, len(dbGot), rows, dbN.missing)
}
