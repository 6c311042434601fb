package e2e

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/miekg/dns"
)

// floodIDs is the size of the flood TestPurgeWhileRecording purges: twenty transactions.
const floodIDs = 20_000

// A purge of a flood of instances announced once, with the built tool, from the SQLite database
// the built server records to, while it records: some of the flood's instances again, so that
// the purge and the server write the same instances. The server answers every query meanwhile;
// afterwards every announcement it answered is stored, the flood's other instances are gone,
// the population's rows are as they were, and verify finds the aggregates those of the rows.
func TestPurgeWhileRecording(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "stats.db")
	log, floodLog := filepath.Join(dir, "output.log"), filepath.Join(dir, "flood.csv")
	writeOldLog(t, log)
	today := time.Now().UTC().Truncate(24 * time.Hour)
	from, to := today.AddDate(0, 0, -100), today.AddDate(0, 0, -98)
	ids := writeFlood(t, floodLog, from, 3)
	for _, l := range []string{log, floodLog} {
		if err := importLog(db, l); err != nil {
			t.Fatal(err)
		}
	}
	before := dailyRows(t, db)
	srv := startCoreDNS(t, statsCorefile(false, "sink sqlite "+db, "flush 100ms"))

	purged := make(chan error, 1)
	var out []byte
	go func() {
		var err error
		out, err = exec.Command(tool(), "purge", "-sqlite", db, "-only-once", "-yes",
			"-from", from.Format(time.DateOnly), "-to", to.Format(time.DateOnly)).CombinedOutput()
		purged <- err
	}()
	// Announcements go on until the purge ends, at least 300 and at most 5000 of them, a
	// millisecond apart, so that they span the purge's transactions; every third, of an
	// instance of the flood.
	hits := map[announcement]int64{}
	again := map[string]bool{} // the flood's instances announced again
	var purgeErr error
	purging, during := true, 0
	for i := 0; i < 5000 && (purging || i < 300); i++ {
		select {
		case purgeErr = <-purged:
			purging = false
		default:
		}
		qname, ann := valid([]string{"19", "2024", "master"}[i%3], mixCase)()
		if i%3 == 0 {
			ann.instance = ids[i/3]
			qname = mixCase(ann.version + "." + ann.instance + "." + zone)
			again[ann.instance] = true
		}
		r, _, err := exchange(srv.addr, "udp", newQuery(qname, dns.TypeA, true), queryTimeout)
		if err != nil || r.Rcode != dns.RcodeNameError {
			t.Fatalf("%s, while purging: expected NXDOMAIN, got %v, %v", qname, r, err)
		}
		hits[*ann]++
		if purging {
			during++
		}
		time.Sleep(time.Millisecond)
	}
	if purging {
		select {
		case purgeErr = <-purged:
		case <-time.After(20 * time.Second):
			t.Fatal("the purge did not end in 20 seconds")
		}
	}
	srv.Stop(t)
	if purgeErr != nil || !strings.Contains(string(out), "Removed ") {
		t.Fatalf("mailustats purge: %v\n%s", purgeErr, out)
	}
	if during == 0 {
		t.Error("expected announcements answered while the purge ran, got none")
	}
	t.Logf("%d announcements, %d while purging; %s", len(hits), during, strings.TrimSpace(string(out[strings.LastIndex(string(out), "Removed "):])))

	got := dailyRows(t, db)
	day := today.Format(time.DateOnly)
	for ann, n := range hits {
		if k := (dailyKey{day, ann.version, ann.instance}); got[k] != n {
			t.Errorf("%v: expected the %d announcements answered, got %d", k, n, got[k])
		}
	}
	flood := map[string]bool{}
	for _, id := range ids {
		flood[id] = true
	}
	for k, n := range before {
		switch {
		case again[k.instance]: // purged or not, whichever came first
		case flood[k.instance]:
			if _, ok := got[k]; ok {
				t.Errorf("%v: expected the flood's row gone, got it", k)
			}
		case got[k] != n:
			t.Errorf("%v: expected the population's row as it was, %d hits, got %d", k, n, got[k])
		}
	}
	if out, err := exec.Command(tool(), "verify", "-sqlite", db).CombinedOutput(); err != nil {
		t.Errorf("mailustats verify: %v\n%s", err, out)
	}
}

// writeFlood writes a file sink's csv of floodIDs instances, each announced once on one of
// the days from start, and returns their IDs.
func writeFlood(t *testing.T, path string, start time.Time, days int) []string {
	t.Helper()
	rng := rand.New(rand.NewPCG(15, 15))
	var b strings.Builder
	ids := make([]string, floodIDs)
	for i := range ids {
		var id uuid.UUID
		for j := range id {
			id[j] = byte(rng.UintN(256))
		}
		id[6], id[8] = id[6]&0x0f|0x40, id[8]&0x3f|0x80 // version 4
		ids[i] = id.String()
		at := start.AddDate(0, 0, rng.IntN(days)).Add(time.Duration(rng.IntN(86400)) * time.Second)
		fmt.Fprintf(&b, "%s,%s,%d\n", []string{"19", "2024", "master"}[rng.IntN(3)], ids[i], at.Unix())
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return ids
}

// tool is the built offline tool.
func tool() string { return filepath.Join(filepath.Dir(coreDNSBin), "mailustats") }
