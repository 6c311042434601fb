package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// What outsiders can send a public server, through the built binary: other opcodes and zone
// transfers are never recorded and answered at once, versions outside `versions` are not
// recorded, and invented versions cannot blow up the metrics.

// transferBound is how long a refused zone transfer may take to be answered: at once, where a
// server that accepted it and sent nothing would leave the client waiting for its timeout.
const transferBound = time.Second

func TestOpcodesAndTransfers(t *testing.T) {
	sink := filepath.Join(t.TempDir(), "s.csv")
	srv := startMonitored(t, statsCorefile(true, "sink file "+sink, "flush 50ms"))
	before := srv.scrape(t)
	for _, netw := range []string{"udp", "tcp"} {
		qname, _ := valid("19", mixCase)()
		notify := new(dns.Msg).SetNotify(zone)
		notify.Question[0].Name = qname
		update := new(dns.Msg).SetUpdate(zone)
		update.Insert([]dns.RR{&dns.A{Hdr: dns.RR_Header{Name: qname, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: []byte{192, 0, 2, 1}}})
		for _, tc := range []struct {
			name  string
			q     *dns.Msg
			rcode int
		}{
			{"NOTIFY of a valid name", notify, dns.RcodeNotImplemented},
			{"UPDATE adding a valid name", update, dns.RcodeNotImplemented},
			{"AXFR", new(dns.Msg).SetAxfr(zone), dns.RcodeRefused},
			{"IXFR", new(dns.Msg).SetIxfr(zone, 1, "ns1."+zone, "hostmaster."+zone), dns.RcodeRefused},
		} {
			where := netw + " " + tc.name
			start := time.Now()
			r, _, err := exchange(srv.addr, netw, tc.q, queryTimeout)
			if err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			if took := time.Since(start); took > transferBound {
				t.Errorf("%s: expected an answer within %s, took %s", where, transferBound, took)
			}
			if r.Rcode != tc.rcode || len(r.Answer)+len(r.Ns) != 0 || r.Id != tc.q.Id {
				t.Errorf("%s: expected %s with no records, got %v", where, dns.RcodeToString[tc.rcode], r)
			}
		}
	}
	eventually(t, startTimeout, "NOTIFYs counted as notimp, AXFR and IXFR as refused", func() (bool, string) {
		after := srv.scrape(t)
		notimp := after.must(t, "coredns_mailustats_queries_total", "result", "notimp") - before.must(t, "coredns_mailustats_queries_total", "result", "notimp")
		refused := after.must(t, "coredns_mailustats_queries_total", "result", "refused") - before.must(t, "coredns_mailustats_queries_total", "result", "refused")
		// miekg/dns answers an UPDATE itself, before the plugin; a NOTIFY reaches it.
		return notimp == 2 && refused == 4, fmt.Sprintf("notimp +%v, refused +%v", notimp, refused)
	})
	srv.Stop(t)
	if got := readFile(t, sink); got != "" {
		t.Errorf("expected nothing recorded, got %q", got)
	}
}

func TestVersionsOption(t *testing.T) {
	sink := filepath.Join(t.TempDir(), "s.csv")
	srv := startCoreDNS(t, statsCorefile(false, "versions 1* master", "sink file "+sink))
	from := time.Now()
	var want []announcement
	for _, version := range []string{"19", "1", "MASTER", "2024", "x19", "masterx"} {
		qname, ann := valid(version, mixCase)()
		r, _, err := exchange(srv.addr, "udp", newQuery(qname, dns.TypeA, false), queryTimeout)
		if err != nil || r.Rcode != dns.RcodeNameError {
			t.Errorf("%s: expected NXDOMAIN, got %v, %v", qname, r, err)
		}
		if strings.HasPrefix(ann.version, "1") || ann.version == "master" {
			want = append(want, *ann)
		}
	}
	srv.Stop(t)
	checkStored(t, readCSV(t, sink), want, from, time.Now())
}

// TestInventedVersionsBounded announces hundreds of invented versions: active_instances keeps
// at most gaugeSeries series a window, and they still add up to every instance.
func TestInventedVersionsBounded(t *testing.T) {
	const invented, releases, gaugeSeries = 300, 5, 21
	db := filepath.Join(t.TempDir(), "s.db")
	corefile := statsCorefile(true, "sink sqlite "+db)
	first := startMonitored(t, corefile)
	send := func(version string) {
		qname, _ := valid(version, strings.ToLower)()
		if r, _, err := exchange(first.addr, "udp", newQuery(qname, dns.TypeA, false), queryTimeout); err != nil || r.Rcode != dns.RcodeNameError {
			t.Fatalf("%s: expected NXDOMAIN, got %v, %v", qname, r, err)
		}
	}
	for i := range invented {
		send(fmt.Sprintf("v%d", i))
	}
	for range releases {
		send("19")
	}
	first.Stop(t)

	// The gauges read the database when the server starts.
	srv := startMonitored(t, corefile)
	eventually(t, startTimeout, "bounded active_instances", func() (bool, string) {
		series := srv.scrape(t).Metrics["coredns_mailustats_active_instances"]
		var state []string
		ok := true
		for _, window := range []string{"1d", "7d", "30d"} {
			n, total, other, top := 0, 0.0, 0.0, 0.0
			for _, s := range series {
				if s.Labels["window"] != window {
					continue
				}
				n++
				total += s.Value
				switch s.Labels["version"] {
				case "(other)":
					other = s.Value
				case "19":
					top = s.Value
				}
			}
			ok = ok && n == gaugeSeries && total == invented+releases && top == releases && other == invented-(gaugeSeries-2)
			state = append(state, fmt.Sprintf("%s: %d series, %v instances, 19: %v, (other): %v", window, n, total, top, other))
		}
		return ok, strings.Join(state, "; ")
	})
	srv.Stop(t)
}

// TestNewInstancesCounted floods the server with new instances: new_instances_total counts each
// once, however often it announces itself again.
func TestNewInstancesCounted(t *testing.T) {
	srv := startMonitored(t, statsCorefile(true, "sink sqlite "+filepath.Join(t.TempDir(), "s.db"), "flush 50ms"))
	var names []string
	announce := func(qnames []string) {
		for _, qname := range qnames {
			if r, _, err := exchange(srv.addr, "udp", newQuery(qname, dns.TypeA, false), queryTimeout); err != nil || r.Rcode != dns.RcodeNameError {
				t.Fatalf("%s: expected NXDOMAIN, got %v, %v", qname, r, err)
			}
		}
	}
	counted := func(want float64) {
		t.Helper()
		eventually(t, startTimeout, fmt.Sprintf("%v new instances counted", want), func() (bool, string) {
			n, _ := srv.scrape(t).Sum("coredns_mailustats_new_instances_total", "zone", zone)
			return n == want, fmt.Sprint(n)
		})
	}
	for range 20 {
		qname, _ := valid("19", mixCase)()
		names = append(names, qname)
	}
	announce(names)
	counted(20)
	for range 5 {
		qname, _ := valid("2024-06", mixCase)()
		names = append(names, qname)
	}
	announce(names) // the first 20 again, and 5 new
	counted(25)
	srv.Stop(t)
}
