package mailustats

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/plugin/metadata"
	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/coredns/coredns/request"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mailustats/mailustats/plugin/hashid"
)

const (
	zone     = "stats.mailu.io."
	instance = "0b7c3d3e-1111-4222-8333-444455556666"
	soaRR    = "stats.mailu.io. 60 IN SOA ns.stats.mailu.io. hostmaster.stats.mailu.io. 1 14400 3600 1209600 60"
	// testNS is the zone's name server in the tests, inside the zone with its glue.
	testNS = "ns ns.stats.mailu.io 192.0.2.53 2001:db8::53"
)

// newTestHandler parses block as a mailustats block for the zone stats.mailu.io, adds a csv sink
// in a temporary directory, and starts it; it returns the plugin and the sink's path.
func newTestHandler(t testing.TB, block string) (*MailuStats, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "records.csv")
	c := caddy.NewTestController("dns", "mailustats "+zone+" {\n sink file "+path+"\n ttl 60\n"+block+"\n}")
	cfg, err := parse(c)
	if err != nil {
		t.Fatal(err)
	}
	m := newMailuStats(cfg)
	m.Next = test.NextHandler(dns.RcodeRefused, nil)
	if err := m.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.stop)
	return m, path
}

func runCases(t *testing.T, m *MailuStats, cases []test.Case) {
	t.Helper()
	for _, tc := range cases {
		req := tc.Msg()
		req.Id = 4242
		rec := dnstest.NewRecorder(&test.ResponseWriter{})
		code, err := m.ServeDNS(context.Background(), rec, req)
		if err != nil {
			t.Errorf("%s %s: expected no error, got %v", tc.Qname, dns.TypeToString[tc.Qtype], err)
			continue
		}
		if code != dns.RcodeSuccess || rec.Msg == nil {
			t.Errorf("%s %s: expected a written answer, got rcode %d", tc.Qname, dns.TypeToString[tc.Qtype], code)
			continue
		}
		if err := test.SortAndCheck(rec.Msg, tc); err != nil {
			t.Errorf("%s %s: %v", tc.Qname, dns.TypeToString[tc.Qtype], err)
		}
		checkHeader(t, req, rec.Msg)
	}
}

// checkHeader checks what every answer shares: ID, flags and the question echoed as asked.
func checkHeader(t *testing.T, req, resp *dns.Msg) {
	t.Helper()
	if resp.Id != req.Id || !resp.Response || !resp.Authoritative || resp.RecursionAvailable {
		t.Errorf("%s: expected id %d, qr, aa and no ra, got id %d qr=%v aa=%v ra=%v",
			req.Question[0].Name, req.Id, resp.Id, resp.Response, resp.Authoritative, resp.RecursionAvailable)
	}
	if len(resp.Question) != 1 || resp.Question[0] != req.Question[0] {
		t.Errorf("expected question %v echoed, got %v", req.Question[0], resp.Question)
	}
}

func TestServeNXDOMAINMode(t *testing.T) {
	m, path := newTestHandler(t, testNS)
	recorded := testutil.ToFloat64(queriesTotal.WithLabelValues("", resultRecorded))
	valid := "19." + instance + ".stats.mailu.io."
	runCases(t, m, []test.Case{
		{Qname: valid, Qtype: dns.TypeA, Rcode: dns.RcodeNameError, Authoritative: true, Ns: []dns.RR{test.SOA(soaRR)}},
		{Qname: "MaStEr." + strings.ToUpper(instance) + ".StAtS.MaIlU.Io.", Qtype: dns.TypeA, Rcode: dns.RcodeNameError, Authoritative: true, Ns: []dns.RR{test.SOA(soaRR)}},
		{Qname: "x_1-y." + instance + ".stats.mailu.io.", Qtype: dns.TypeTXT, Rcode: dns.RcodeNameError, Authoritative: true, Ns: []dns.RR{test.SOA(soaRR)}},
		{Qname: instance + ".stats.mailu.io.", Qtype: dns.TypeA, Rcode: dns.RcodeSuccess, Authoritative: true, Ns: []dns.RR{test.SOA(soaRR)}},
		{Qname: "whatever.stats.mailu.io.", Qtype: dns.TypeA, Rcode: dns.RcodeSuccess, Authoritative: true, Ns: []dns.RR{test.SOA(soaRR)}},
		{Qname: "stats.mailu.io.", Qtype: dns.TypeSOA, Rcode: dns.RcodeSuccess, Authoritative: true, Answer: []dns.RR{test.SOA(soaRR)}},
		{Qname: "stats.mailu.io.", Qtype: dns.TypeNS, Rcode: dns.RcodeSuccess, Authoritative: true,
			Answer: []dns.RR{test.NS("stats.mailu.io. 60 IN NS ns.stats.mailu.io.")},
			Extra:  []dns.RR{test.A("ns.stats.mailu.io. 60 IN A 192.0.2.53"), test.AAAA("ns.stats.mailu.io. 60 IN AAAA 2001:db8::53")}},
		{Qname: "stats.mailu.io.", Qtype: dns.TypeA, Rcode: dns.RcodeSuccess, Authoritative: true, Ns: []dns.RR{test.SOA(soaRR)}},
		{Qname: "19.0b7c3d3e-1111-3222-8333-444455556666.stats.mailu.io.", Qtype: dns.TypeA, Rcode: dns.RcodeNameError, Authoritative: true, Ns: []dns.RR{test.SOA(soaRR)}},
		{Qname: "1.9." + instance + ".stats.mailu.io.", Qtype: dns.TypeA, Rcode: dns.RcodeNameError, Authoritative: true, Ns: []dns.RR{test.SOA(soaRR)}},
		{Qname: "v*." + instance + ".stats.mailu.io.", Qtype: dns.TypeA, Rcode: dns.RcodeNameError, Authoritative: true, Ns: []dns.RR{test.SOA(soaRR)}},
		{Qname: `19\.` + instance + ".stats.mailu.io.", Qtype: dns.TypeA, Rcode: dns.RcodeSuccess, Authoritative: true, Ns: []dns.RR{test.SOA(soaRR)}},
	})
	if got := testutil.ToFloat64(queriesTotal.WithLabelValues("", resultRecorded)) - recorded; got != 3 {
		t.Errorf("expected 3 queries counted as recorded, got %v", got)
	}
	m.stop()
	lines := readLines(t, path)
	want := []string{"19," + instance, "master," + instance, "x_1-y," + instance}
	if len(lines) != len(want) {
		t.Fatalf("expected %d records, got %q", len(want), lines)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w+",") {
			t.Errorf("expected record %q, got %q", w, lines[i])
		}
	}
}

func TestServeAddressMode(t *testing.T) {
	m, _ := newTestHandler(t, "answer a 192.0.2.1 192.0.2.2\n answer aaaa 2001:db8::1\n ns ns1.example.org ns2.example.org")
	valid := "19.0B7C3D3E-1111-4222-8333-444455556666.stats.mailu.io."
	soaRR := strings.Replace(soaRR, "ns.stats.mailu.io.", "ns1.example.org.", 1) // the first name server
	runCases(t, m, []test.Case{
		{Qname: valid, Qtype: dns.TypeA, Rcode: dns.RcodeSuccess, Authoritative: true, Answer: []dns.RR{
			test.A(valid + " 60 IN A 192.0.2.1"), test.A(valid + " 60 IN A 192.0.2.2")}},
		{Qname: valid, Qtype: dns.TypeAAAA, Rcode: dns.RcodeSuccess, Authoritative: true, Answer: []dns.RR{
			test.AAAA(valid + " 60 IN AAAA 2001:db8::1")}},
		{Qname: valid, Qtype: dns.TypeMX, Rcode: dns.RcodeSuccess, Authoritative: true, Ns: []dns.RR{test.SOA(soaRR)}},
		{Qname: "stats.mailu.io.", Qtype: dns.TypeNS, Rcode: dns.RcodeSuccess, Authoritative: true, Answer: []dns.RR{
			test.NS("stats.mailu.io. 60 IN NS ns1.example.org."), test.NS("stats.mailu.io. 60 IN NS ns2.example.org.")}},
		{Qname: "bad." + instance + "x.stats.mailu.io.", Qtype: dns.TypeA, Rcode: dns.RcodeNameError, Authoritative: true, Ns: []dns.RR{test.SOA(soaRR)}},
	})
}

func TestServeOnlyAAddresses(t *testing.T) {
	m, _ := newTestHandler(t, "answer a 192.0.2.1\n soa ns1.example.org. admin.example.org.")
	valid := "19." + instance + ".stats.mailu.io."
	soa := test.SOA("stats.mailu.io. 60 IN SOA ns1.example.org. admin.example.org. 1 14400 3600 1209600 60")
	runCases(t, m, []test.Case{
		{Qname: valid, Qtype: dns.TypeAAAA, Rcode: dns.RcodeSuccess, Authoritative: true, Ns: []dns.RR{soa}},
		// Without ns, the apex's NS RRset is the SOA's MNAME, here outside the zone.
		{Qname: "stats.mailu.io.", Qtype: dns.TypeNS, Rcode: dns.RcodeSuccess, Authoritative: true, Answer: []dns.RR{test.NS("stats.mailu.io. 60 IN NS ns1.example.org.")}},
	})
}

func TestServePassesOtherNames(t *testing.T) {
	m, _ := newTestHandler(t, testNS)
	for _, name := range []string{"example.org.", "xstats.mailu.io.", "mailu.io.", `a\.stats.mailu.io.`} {
		rec := dnstest.NewRecorder(&test.ResponseWriter{})
		req := new(dns.Msg).SetQuestion(name, dns.TypeA)
		if code, _ := m.ServeDNS(context.Background(), rec, req); code != dns.RcodeRefused || rec.Msg != nil {
			t.Errorf("%s: expected the next plugin's rcode %d and no answer, got %d", name, dns.RcodeRefused, code)
		}
	}
}

func TestServeRefusesOddQueries(t *testing.T) {
	m, path := newTestHandler(t, testNS)
	valid := "19." + instance + ".stats.mailu.io."
	chaos := new(dns.Msg).SetQuestion(valid, dns.TypeA)
	chaos.Question[0].Qclass = dns.ClassCHAOS
	notify := new(dns.Msg).SetNotify(zone)
	notify.Question[0].Name = valid
	update := new(dns.Msg).SetUpdate(zone)
	for _, tc := range []struct {
		name   string
		req    *dns.Msg
		rcode  int
		result string
	}{
		{"class CH", chaos, dns.RcodeRefused, resultRefused},
		{"AXFR", new(dns.Msg).SetAxfr(zone), dns.RcodeRefused, resultRefused},
		{"IXFR", new(dns.Msg).SetIxfr(zone, 1, "ns.stats.mailu.io.", "hostmaster.stats.mailu.io."), dns.RcodeRefused, resultRefused},
		{"NOTIFY of a valid name", notify, dns.RcodeNotImplemented, resultNotImp},
		{"UPDATE", update, dns.RcodeNotImplemented, resultNotImp},
	} {
		before := testutil.ToFloat64(queriesTotal.WithLabelValues("", tc.result))
		rec := dnstest.NewRecorder(&test.ResponseWriter{})
		if code, _ := m.ServeDNS(context.Background(), rec, tc.req); code != tc.rcode || rec.Msg != nil {
			t.Errorf("%s: expected %s left to the server to write, got %s", tc.name, dns.RcodeToString[tc.rcode], dns.RcodeToString[code])
		}
		if got := testutil.ToFloat64(queriesTotal.WithLabelValues("", tc.result)) - before; got != 1 {
			t.Errorf("%s: expected one query counted as %s, got %v", tc.name, tc.result, got)
		}
	}
	m.stop()
	if lines := readLines(t, path); len(lines) != 0 {
		t.Errorf("expected nothing recorded, got %q", lines)
	}
}

func TestServeNameServers(t *testing.T) {
	m, _ := newTestHandler(t, "ns ns1.stats.mailu.io 192.0.2.53 2001:db8::53 ns2.example.org NS3.Stats.Mailu.IO 192.0.2.54")
	soaRR := strings.Replace(soaRR, "ns.stats.mailu.io.", "ns1.stats.mailu.io.", 1)
	soa := []dns.RR{test.SOA(soaRR)}
	runCases(t, m, []test.Case{
		{Qname: "stats.mailu.io.", Qtype: dns.TypeNS, Rcode: dns.RcodeSuccess, Authoritative: true,
			Answer: []dns.RR{
				test.NS("stats.mailu.io. 60 IN NS ns1.stats.mailu.io."),
				test.NS("stats.mailu.io. 60 IN NS ns2.example.org."),
				test.NS("stats.mailu.io. 60 IN NS ns3.stats.mailu.io."),
			},
			Extra: []dns.RR{
				test.A("ns1.stats.mailu.io. 60 IN A 192.0.2.53"),
				test.AAAA("ns1.stats.mailu.io. 60 IN AAAA 2001:db8::53"),
				test.A("ns3.stats.mailu.io. 60 IN A 192.0.2.54"),
			}},
		{Qname: "ns1.stats.mailu.io.", Qtype: dns.TypeA, Rcode: dns.RcodeSuccess, Authoritative: true, Answer: []dns.RR{test.A("ns1.stats.mailu.io. 60 IN A 192.0.2.53")}},
		{Qname: "NS1.stats.mailu.io.", Qtype: dns.TypeAAAA, Rcode: dns.RcodeSuccess, Authoritative: true, Answer: []dns.RR{test.AAAA("NS1.stats.mailu.io. 60 IN AAAA 2001:db8::53")}},
		{Qname: "ns3.stats.mailu.io.", Qtype: dns.TypeA, Rcode: dns.RcodeSuccess, Authoritative: true, Answer: []dns.RR{test.A("ns3.stats.mailu.io. 60 IN A 192.0.2.54")}},
		{Qname: "ns3.stats.mailu.io.", Qtype: dns.TypeAAAA, Rcode: dns.RcodeSuccess, Authoritative: true, Ns: soa},
		{Qname: "ns1.stats.mailu.io.", Qtype: dns.TypeMX, Rcode: dns.RcodeSuccess, Authoritative: true, Ns: soa},
		{Qname: "x.ns1.stats.mailu.io.", Qtype: dns.TypeA, Rcode: dns.RcodeNameError, Authoritative: true, Ns: soa},
	})
}

func TestServeANY(t *testing.T) {
	m, path := newTestHandler(t, "answer a 192.0.2.1\n "+testNS)
	valid := "19." + instance + ".stats.mailu.io."
	hinfo := func(name string) []dns.RR {
		return []dns.RR{&dns.HINFO{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeHINFO, Class: dns.ClassINET, Ttl: 60}, Cpu: "RFC8482"}}
	}
	runCases(t, m, []test.Case{
		{Qname: valid, Qtype: dns.TypeANY, Rcode: dns.RcodeSuccess, Authoritative: true, Answer: hinfo(valid)},
		{Qname: zone, Qtype: dns.TypeANY, Rcode: dns.RcodeSuccess, Authoritative: true, Answer: hinfo(zone)},
		{Qname: instance + "." + zone, Qtype: dns.TypeANY, Rcode: dns.RcodeSuccess, Authoritative: true, Answer: hinfo(instance + "." + zone)},
		{Qname: "ns.stats.mailu.io.", Qtype: dns.TypeANY, Rcode: dns.RcodeSuccess, Authoritative: true, Answer: hinfo("ns.stats.mailu.io.")},
		{Qname: "a.b." + zone, Qtype: dns.TypeANY, Rcode: dns.RcodeNameError, Authoritative: true, Ns: []dns.RR{test.SOA(soaRR)}},
	})
	m.stop()
	if lines := readLines(t, path); len(lines) != 1 || !strings.HasPrefix(lines[0], "19,"+instance+",") {
		t.Errorf("expected ANY for a valid name recorded once, got %q", lines)
	}
}

func TestServeVersions(t *testing.T) {
	m, path := newTestHandler(t, "versions 1* master 202?-0[0-9]\n "+testNS)
	unlisted := testutil.ToFloat64(queriesTotal.WithLabelValues("", resultUnlisted))
	nx := []dns.RR{test.SOA(soaRR)}
	var cases []test.Case
	for _, v := range []string{"19", "1", "MASTER", "2024-06", "2", "20", "mastery", "2024-10", "x19"} {
		cases = append(cases, test.Case{Qname: v + "." + instance + "." + zone, Qtype: dns.TypeA, Rcode: dns.RcodeNameError, Authoritative: true, Ns: nx})
	}
	runCases(t, m, cases)
	if got := testutil.ToFloat64(queriesTotal.WithLabelValues("", resultUnlisted)) - unlisted; got != 5 {
		t.Errorf("expected 5 queries counted as unlisted, got %v", got)
	}
	m.stop()
	var versions []string
	for _, line := range readLines(t, path) {
		versions = append(versions, strings.Split(line, ",")[0])
	}
	if strings.Join(versions, " ") != "19 1 master 2024-06" {
		t.Errorf("expected 19, 1, master and 2024-06 recorded, got %q", versions)
	}
}

func TestServeAfterStopGivesNoSuccess(t *testing.T) {
	m, path := newTestHandler(t, testNS)
	m.stop()
	rec := dnstest.NewRecorder(&test.ResponseWriter{})
	req := new(dns.Msg).SetQuestion("19."+instance+".stats.mailu.io.", dns.TypeA)
	if code, _ := m.ServeDNS(context.Background(), rec, req); code != dns.RcodeServerFailure || rec.Msg != nil {
		t.Errorf("expected SERVFAIL left to the server once stopping, got %d", code)
	}
	if m.Ready() {
		t.Error("expected a stopped plugin not to be ready")
	}
	runCases(t, m, []test.Case{
		{Qname: instance + ".stats.mailu.io.", Qtype: dns.TypeA, Rcode: dns.RcodeSuccess, Authoritative: true, Ns: []dns.RR{test.SOA(soaRR)}},
	})
	if lines := readLines(t, path); len(lines) != 0 {
		t.Errorf("expected nothing recorded, got %q", lines)
	}
}

func TestMetadata(t *testing.T) {
	m, _ := newTestHandler(t, testNS)
	tests := []struct{ name, version, instance string }{
		{"MASTER.0B7C3D3E-1111-4222-8333-444455556666.stats.mailu.io.", "master", instance},
		{instance + ".stats.mailu.io.", "", ""},
		{"19." + instance + ".example.org.", "", ""},
	}
	for _, tc := range tests {
		ctx := metadata.ContextWithMetadata(context.Background())
		state := request.Request{W: &test.ResponseWriter{}, Req: new(dns.Msg).SetQuestion(tc.name, dns.TypeA)}
		ctx = m.Metadata(ctx, state)
		for label, want := range map[string]string{"mailustats/version": tc.version, "mailustats/instance": tc.instance} {
			got := ""
			if f := metadata.ValueFunc(ctx, label); f != nil {
				got = f()
			}
			if got != want {
				t.Errorf("%s: expected %s %q, got %q", tc.name, label, want, got)
			}
		}
	}
}

func TestReady(t *testing.T) {
	m, _ := newTestHandler(t, testNS)
	if !m.Ready() {
		t.Error("expected a started plugin with a writable sink to be ready")
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

func TestMetadataHashesWithHashIDs(t *testing.T) {
	m, _ := newTestHandler(t, "hash_ids s3cret\n "+testNS)
	ctx := metadata.ContextWithMetadata(context.Background())
	state := request.Request{W: &test.ResponseWriter{}, Req: new(dns.Msg).SetQuestion("19."+instance+".stats.mailu.io.", dns.TypeA)}
	ctx = m.Metadata(ctx, state)
	want := hashid.New("s3cret").Hash(instance)
	if got := metadata.ValueFunc(ctx, "mailustats/instance")(); got != want {
		t.Errorf("expected the hashed instance %s, got %s", want, got)
	}
}
