package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailustats/mailustats/internal/testutil/proctest"
)

// On reload the new instance opens the sink while the old one still holds its records (flush
// 1h keeps them in memory); the old one must write them all when it shuts down.
func TestReloadKeepsRecords(t *testing.T) {
	sink := filepath.Join(t.TempDir(), "s.csv")
	srv := startCoreDNS(t, fmt.Sprintf(`stats.mailu.io:{port} {
    bind 127.0.0.1
    mailustats {
        ns ns1.stats.mailu.io 127.0.0.1
        sink file %s csv
        flush 1h
    }
}
`, sink))
	from := time.Now()
	var want []announcement
	send := func(n int) {
		for range n {
			qname, ann := valid("19", mixCase)()
			r, _, err := exchange(srv.addr, "udp", newQuery(qname, dns.TypeA, false), 2*time.Second)
			if err != nil || r.Rcode != dns.RcodeNameError {
				t.Fatalf("%s: expected NXDOMAIN, got %v, %v", qname, r, err)
			}
			want = append(want, *ann)
		}
	}
	for reload := 1; reload <= 3; reload++ {
		send(20)
		if err := srv.Cmd.Process.Signal(syscall.SIGUSR1); err != nil {
			t.Fatal(err)
		}
		waitOutput(t, srv.Process, "Reloading complete", reload)
	}
	send(20)
	srv.Stop(t)
	checkStored(t, readCSV(t, sink), want, from, time.Now())
}

// waitOutput waits until the process has printed text n times.
func waitOutput(t *testing.T, p *proctest.Process, text string, n int) {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	for strings.Count(p.Out.String(), text) < n {
		if time.Now().After(deadline) || p.Exited() {
			t.Fatalf("%s: expected %q %d times in the output within %s", p.Name, text, n, startTimeout)
		}
		time.Sleep(probeEvery) // polling interval, not an assertion
	}
}

// A reload that points the statistics at another database leaves no series of the first: the
// active-instance gauges of the old instance are replaced, not left at their last value.
func TestReloadReplacesGauges(t *testing.T) {
	dir := t.TempDir()
	before, after := filepath.Join(dir, "before.db"), filepath.Join(dir, "after.db")
	corefile := statsCorefile(true, "sink sqlite "+before, "flush 50ms")
	// The gauges read the database at start-up and then every minute: record first, then start
	// the server that shows the record.
	first := startMonitored(t, corefile)
	qname, _ := valid("gone-18", mixCase)()
	if r, _, err := exchange(first.addr, "udp", newQuery(qname, dns.TypeA, false), 2*time.Second); err != nil || r.Rcode != dns.RcodeNameError {
		t.Fatalf("%s: expected NXDOMAIN, got %v, %v", qname, r, err)
	}
	first.Stop(t)

	srv := startMonitored(t, corefile)
	series := func() (float64, bool) {
		return srv.scrape(t).Sum("coredns_mailustats_active_instances", "version", "gone-18", "window", "1d")
	}
	eventually(t, startTimeout, "the gone-18 series before the reload", func() (bool, string) {
		v, ok := series()
		return ok && v == 1, fmt.Sprintf("%v, %t", v, ok)
	})

	conf := srv.Cmd.Args[len(srv.Cmd.Args)-1] // -conf PATH
	writeFile(t, conf, strings.ReplaceAll(readFile(t, conf), before, after))
	if err := srv.Cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	waitOutput(t, srv.Process, "Reloading complete", 1)
	eventually(t, startTimeout, "no gone-18 series after the reload", func() (bool, string) {
		v, ok := series()
		return !ok, fmt.Sprintf("%v, %t", v, ok)
	})
	srv.Stop(t)
}
