package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailustats/mailustats/internal/testutil/corednstest"
)

// Bounds of the backup test.
const (
	backupLoadMax  = 20_000           // queries of the load at most
	backupLoadFor  = 15 * time.Second // and for at most this long
	backupToolWait = 20 * time.Second // one run of the tool
)

// backupAPIPaths are the answers of the API compared before and after a restore.
var backupAPIPaths = []string{"/api/v1/summary?days=1", "/api/v1/summary?days=all", "/api/v1/daily?days=7", "/api/v1/trend?days=7"}

// A backup of the SQLite database the built server records to, taken while it records under
// load over UDP and TCP: every query is answered meanwhile, the copy verifies and holds every
// row stored before the backup began. Restored over the database of the stopped server, the
// copy is what the server's API answers from when it starts again.
func TestBackupWhileRecording(t *testing.T) {
	dir := t.TempDir()
	db, copied := filepath.Join(dir, "stats.db"), filepath.Join(dir, "backup", "stats.db")
	if err := os.Mkdir(filepath.Dir(copied), 0o700); err != nil {
		t.Fatal(err)
	}
	srv, _ := startAPI(t, db)
	announceStored(t, srv.addr, db, 200, 200) // rows stored before the load

	load := startBackupLoad(srv.addr)
	eventually(t, sinkTimeout, "rows of the load stored", func() (bool, string) {
		n := len(dailyRows(t, db))
		return n >= 300, strconv.Itoa(n) + " rows"
	})
	before := dailyRows(t, db)
	answeredBefore := load.answered.Load()
	runTool(t, "backup", "-sqlite", db, "-to", copied)
	during := load.answered.Load() - answeredBefore
	failed := load.finish()

	if len(failed) > 0 {
		t.Errorf("expected every query answered, got %d unanswered or wrong, e.g. %v", len(failed), failed[0])
	}
	if during == 0 {
		t.Error("expected queries answered while the backup ran, got none")
	}
	runTool(t, "verify", "-sqlite", copied)
	backup := dailyRows(t, copied)
	for k, hits := range before {
		if backup[k] < hits {
			t.Errorf("%v: expected at least the %d hits stored before the backup, got %d", k, hits, backup[k])
		}
	}
	t.Logf("%d rows before the backup, %d in it; %d queries answered during it", len(before), len(backup), during)
	announceStored(t, srv.addr, db, 50, len(backup)+50) // rows the restore loses
	srv.Stop(t)

	// What the server answers from the copy, started on a copy of its own.
	spare := filepath.Join(t.TempDir(), "stats.db")
	copyFile(t, copied, spare)
	reader, api := startAPI(t, spare)
	want := apiAnswers(t, api)
	reader.Stop(t)
	instances := map[string]bool{}
	for k := range backup {
		instances[k.instance] = true
	}
	var all struct{ Instances int }
	if err := json.Unmarshal([]byte(want[1]), &all); err != nil || all.Instances != len(instances) {
		t.Errorf("%s of the copy: expected its %d instances, got %s (%v)", backupAPIPaths[1], len(instances), want[1], err)
	}

	// The restore, as the README says: with the server stopped, the copy replaces the
	// database, whose -wal and -shm files go.
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Remove(db + suffix); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	copyFile(t, copied, db)
	restored, api := startAPI(t, db)
	got := apiAnswers(t, api)
	restored.Stop(t)
	for i, path := range backupAPIPaths {
		if got[i] != want[i] {
			t.Errorf("%s after the restore: expected what the copy answers\n%s\ngot\n%s", path, want[i], got[i])
		}
	}
}

// announceStored announces n fresh instances to the server at addr, then waits until the
// SQLite database at path holds at least rows rows.
func announceStored(t *testing.T, addr, path string, n, rows int) {
	t.Helper()
	for i := range n {
		qname, _ := valid(loadVersions[i%len(loadVersions)], mixCase)()
		if r, _, err := exchange(addr, "udp", newQuery(qname, dns.TypeA, false), queryTimeout); err != nil || r.Rcode != dns.RcodeNameError {
			t.Fatalf("%s: expected NXDOMAIN, got %v, %v", qname, r, err)
		}
	}
	eventually(t, sinkTimeout, fmt.Sprint(rows, " rows stored"), func() (bool, string) {
		got := len(dailyRows(t, path))
		return got >= rows, fmt.Sprint(got, " rows")
	})
}

// startAPI starts the built server recording to the SQLite database at path, with the API,
// and returns it and the API's address.
func startAPI(t *testing.T, path string) (*server, string) {
	t.Helper()
	s := corednstest.Start(t, corednstest.Config{
		Bin:   coreDNSBin,
		Conf:  corednstest.Template(statsCorefile(false, "sink sqlite "+path, "api 127.0.0.1:{api}", "flush 50ms")),
		Ports: []string{"api"},
	})
	return &server{Process: s.Process, addr: s.Addr}, net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Ports["api"]))
}

// apiAnswers returns the bodies of backupAPIPaths, each of which must answer 200.
func apiAnswers(t *testing.T, api string) []string {
	t.Helper()
	var out []string
	for _, path := range backupAPIPaths {
		body, status := get(t, "http://"+api+path)
		if status != http.StatusOK {
			t.Fatalf("%s: expected 200, got %d: %s", path, status, body)
		}
		out = append(out, body)
	}
	return out
}

// runTool runs the built mailustats tool, which must exit 0.
func runTool(t *testing.T, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), backupToolWait)
	defer cancel()
	tool := filepath.Join(filepath.Dir(coreDNSBin), "mailustats")
	if out, err := exec.CommandContext(ctx, tool, args...).CombinedOutput(); err != nil {
		t.Fatalf("mailustats %v: %v\n%s", args, err, out)
	}
}

// copyFile copies the file at src to dst, replacing it.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// backupLoad announces fresh instances one after the other, every fourth over TCP and the
// others over UDP, until it is stopped, backupLoadMax queries were sent or backupLoadFor passed.
type backupLoad struct {
	answered atomic.Int64
	stop     chan struct{}
	failed   chan []error // the queries not answered NXDOMAIN, once the load ended
}

func startBackupLoad(addr string) *backupLoad {
	l := &backupLoad{stop: make(chan struct{}), failed: make(chan []error, 1)}
	go func() {
		var failed []error
		deadline := time.Now().Add(backupLoadFor)
		for i := 0; i < backupLoadMax && time.Now().Before(deadline); i++ {
			select {
			case <-l.stop:
				l.failed <- failed
				return
			default:
			}
			netw := "udp"
			if i%4 == 0 {
				netw = "tcp"
			}
			qname, _ := valid(loadVersions[i%len(loadVersions)], mixCase)()
			r, _, err := exchange(addr, netw, newQuery(qname, dns.TypeA, false), queryTimeout)
			switch {
			case err != nil:
				failed = append(failed, fmt.Errorf("%s over %s: %w", qname, netw, err))
			case r.Rcode != dns.RcodeNameError:
				failed = append(failed, fmt.Errorf("%s over %s: expected NXDOMAIN, got %s", qname, netw, dns.RcodeToString[r.Rcode]))
			default:
				l.answered.Add(1)
			}
		}
		l.failed <- failed
	}()
	return l
}

// finish stops the load and returns its failures; the load ends within a query's timeout.
func (l *backupLoad) finish() []error {
	close(l.stop)
	return <-l.failed
}
