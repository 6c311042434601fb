package e2e

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// pprofPortVar stands for the port of the pprof plugin in a Corefile.
const pprofPortVar = "{pport}"

// Lifecycle timing: how long load runs before a signal, and how long a server is left alone
// before its file descriptors and goroutines are counted. Neither is an assertion.
const (
	loadBefore = time.Second
	settleDown = time.Second
)

// Slack allowed between the counts after the 2nd and the 10th reload, for what varies from one
// moment to the next without growing with the number of reloads. File descriptors: the
// statistics reader's pool of idle SQLite connections, each holding the database file open,
// grows and shrinks with the gauges' and API's reads (2 to 4 descriptors on the database seen
// here). Goroutines: DNS handlers and database/sql helpers still finishing, and the runtime's own.
// A leak of anything per reload grows by 8 reloads' worth and exceeds either slack.
const (
	fdSlack        = 5
	goroutineSlack = 20
)

// A SIGTERM while queries flow: the plugin stops accepting (valid names get SERVFAIL), writes
// everything it accepted and exits cleanly. Each query answered NXDOMAIN is in both sinks
// exactly once; one refused with SERVFAIL is in neither.
func TestSIGTERMUnderLoad(t *testing.T) {
	dir := t.TempDir()
	csv, path := filepath.Join(dir, "s.csv"), filepath.Join(dir, "s.db")
	// The buffer holds more records than the load can send, so none is dropped for room.
	srv := startCoreDNS(t, fmt.Sprintf(`stats.mailu.io:{port} {
    bind 127.0.0.1
    mailustats {
        ns ns1.stats.mailu.io 127.0.0.1
        sink file %s
        sink sqlite %s
        flush 100ms
        buffer 1048576
    }
}
`, csv, path))
	load := startLoad(t, srv.addr, 8, srv.Done) // until the process has exited
	time.Sleep(loadBefore)                      // load before the stop, not an assertion
	out := srv.Stop(t)                          // exit code 0
	qs := load.finish(t)
	tally := tallyLoad(qs)
	checkOutcomes(t, qs, loadRecorded, loadRefused, loadUnanswered, loadNoListener)
	if tally[loadRecorded] == 0 {
		t.Fatalf("expected queries answered NXDOMAIN before the stop, got %s", tally)
	}
	if strings.Contains(out, "not stored at shut-down") {
		t.Errorf("expected every record stored at shut-down, got:\n%s", out)
	}

	csvGot := csvAnnouncements(t, csv)
	csvN := checkLoadStored(t, "csv", csvGot, qs, true)
	db := openSinkDB(t, path)
	hits, err := sinkDBHits(db)
	if err != nil {
		t.Fatal(err)
	}
	if hits != len(csvGot) {
		t.Errorf("expected as many hits in daily as lines in the csv, %d, got %d", len(csvGot), hits)
	}
	dbN := checkLoadStored(t, "sqlite", sinkDBRecords(t, db), qs, true)
	t.Logf("queries: %s; stored %d (csv) and %d hits (sqlite), of which %d and %d unanswered in time",
		tally, len(csvGot), hits, csvN.unanswered, dbN.unanswered)
}

// Ten reloads while queries flow: each reload answers at once on the same listeners, and the
// open files and goroutines after the 10th are those after the 2nd, so an instance leaves
// nothing behind when it is replaced. At the end every announcement answered NXDOMAIN is
// stored exactly once.
func TestTenReloadsUnderLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	conf, pprofAddr := pprofPort(t, fmt.Sprintf(`stats.mailu.io:{port} {
    bind 127.0.0.1
    pprof 127.0.0.1:{pport}
    mailustats {
        ns ns1.stats.mailu.io 127.0.0.1
        sink sqlite %s
        flush 100ms
        buffer 1048576
    }
}
`, path))
	srv := startCoreDNS(t, conf)
	pid := srv.Cmd.Process.Pid

	var qs []loadQuery
	var probes []announcement
	fds, goroutines := map[int]int{}, map[int]int{}
	load := startLoad(t, srv.addr, 4, nil)
	for reload := 1; reload <= 10; reload++ {
		if err := srv.Cmd.Process.Signal(syscall.SIGUSR1); err != nil {
			t.Fatal(err)
		}
		waitOutput(t, srv.Process, "Reloading complete", reload)
		for _, netw := range []string{"udp", "tcp"} {
			probes = append(probes, announceOnce(t, srv.addr, netw))
		}
		if reload == 2 || reload == 10 {
			qs = append(qs, load.finish(t)...)
			time.Sleep(settleDown) // let the old instance's leftovers end, not an assertion
			fds[reload] = countFDs(t, pid)
			goroutines[reload] = countGoroutines(t, pprofAddr)
			if reload < 10 {
				load = startLoad(t, srv.addr, 4, nil)
			}
		}
	}
	if strings.Contains(srv.Out.String(), "Restart failed") {
		t.Errorf("expected every reload to succeed, got:\n%s", srv.Out)
	}
	t.Logf("after reload 2: %d fds, %d goroutines; after reload 10: %d fds, %d goroutines",
		fds[2], goroutines[2], fds[10], goroutines[10])
	if fds[10] > fds[2]+fdSlack {
		t.Errorf("expected open files not to grow with reloads: %d after reload 2, %d after reload 10", fds[2], fds[10])
	}
	if goroutines[10] > goroutines[2]+goroutineSlack {
		t.Errorf("expected goroutines not to grow with reloads: %d after reload 2, %d after reload 10", goroutines[2], goroutines[10])
	}

	srv.Stop(t)
	tally := tallyLoad(qs)
	// The old instance stops serving, and its handlers finish, before it shuts down: no query is
	// refused. A reply may still come too late for the client while the CPU is busy.
	checkOutcomes(t, qs, loadRecorded, loadUnanswered)
	db := openSinkDB(t, path)
	n := checkLoadStored(t, "sqlite", sinkDBRecords(t, db), qs, true, probes...)
	t.Logf("queries: %s, and %d probes; %d unanswered ones stored", tally, len(probes), n.unanswered)
}

// announceOnce sends one valid name over netw and fails t unless it is answered NXDOMAIN; it
// returns the announcement.
func announceOnce(t *testing.T, addr, netw string) announcement {
	t.Helper()
	qname, ann := valid("19", mixCase)()
	r, _, err := exchange(addr, netw, newQuery(qname, dns.TypeA, false), queryTimeout)
	if err != nil || r.Rcode != dns.RcodeNameError {
		t.Fatalf("%s over %s: expected NXDOMAIN, got %v, %v", qname, netw, r, err)
	}
	return *ann
}

// pprofPort replaces pprofPortVar in corefile by a free port and returns the result and the
// address of the pprof plugin.
func pprofPort(t *testing.T, corefile string) (conf, addr string) {
	t.Helper()
	port := strconv.Itoa(freePort(t))
	return strings.ReplaceAll(corefile, pprofPortVar, port), net.JoinHostPort("127.0.0.1", port)
}

// countFDs returns the number of open file descriptors of process pid.
func countFDs(t *testing.T, pid int) int {
	t.Helper()
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Skipf("cannot count open files without /proc: %v", err)
	}
	return len(entries)
}

// countGoroutines returns the number of goroutines the pprof plugin at addr reports.
func countGoroutines(t *testing.T, addr string) int {
	t.Helper()
	c := &http.Client{Timeout: httpTimeout, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + addr + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	first, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil {
		t.Fatalf("goroutine profile: %v", err)
	}
	const prefix = "goroutine profile: total "
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(first, prefix)))
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(first, prefix) || err != nil {
		t.Fatalf("goroutine profile: expected %q and a number, got %s %q", prefix, resp.Status, first)
	}
	return n
}
