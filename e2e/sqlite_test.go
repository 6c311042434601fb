package e2e

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/miekg/dns"
	_ "modernc.org/sqlite"
)

// Every record reaches every sink: a csv file and the SQLite database, whose daily table holds
// one row per instance with its hits.
func TestSQLiteAndFileSinks(t *testing.T) {
	dir := t.TempDir()
	csv, db := filepath.Join(dir, "s.csv"), filepath.Join(dir, "sub", "stats.db")
	srv := startCoreDNS(t, fmt.Sprintf(`stats.mailu.io:{port} {
    bind 127.0.0.1
    mailustats {
        ns ns1.stats.mailu.io 127.0.0.1
        sink file %s
        sink sqlite %s
        flush 100ms
    }
}
`, csv, db))
	from := time.Now()
	var want []announcement
	hits := map[announcement]int{}
	for i := range 60 {
		qname, ann := valid([]string{"18", "19", "master"}[i%3], mixCase)()
		for repeat := 0; repeat <= i%4; repeat++ { // each instance announces itself 1 to 4 times
			r, _, err := exchange(srv.addr, []string{"udp", "tcp"}[repeat%2], newQuery(qname, dns.TypeA, true), 2*time.Second)
			if err != nil || r.Rcode != dns.RcodeNameError {
				t.Fatalf("%s: expected NXDOMAIN, got %v, %v", qname, r, err)
			}
			want = append(want, *ann)
			hits[*ann]++
		}
	}
	srv.Stop(t)
	checkStored(t, readCSV(t, csv), want, from, time.Now())

	conn, err := sql.Open("sqlite", db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rows, err := conn.Query("SELECT day, version, instance, hits, first_seen, last_seen FROM daily")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen := 0
	for rows.Next() {
		var day, version, instance string
		var n, first, last int64
		if err := rows.Scan(&day, &version, &instance, &n, &first, &last); err != nil {
			t.Fatal(err)
		}
		seen++
		ann := announcement{version, instance}
		if int64(hits[ann]) != n {
			t.Errorf("daily %s %s: expected %d hits, got %d", version, instance, hits[ann], n)
		}
		if first < from.Unix() || last > time.Now().Unix() || first > last {
			t.Errorf("daily %s %s: expected %d <= first_seen %d <= last_seen %d <= now", version, instance, from.Unix(), first, last)
		}
		if today := time.Unix(first, 0).UTC().Format(time.DateOnly); day != today {
			t.Errorf("daily %s %s: expected day %s, got %s", version, instance, today, day)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if seen != len(hits) {
		t.Errorf("expected %d daily rows, one per instance, got %d", len(hits), seen)
	}
}
