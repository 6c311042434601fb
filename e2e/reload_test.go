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
