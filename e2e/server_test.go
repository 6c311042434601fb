package e2e

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/miekg/dns"
)

// zone is the zone every Corefile here serves.
const zone = "stats.mailu.io."

// nameFunc returns a query name, fresh for each query where that matters, and the announcement
// it makes when it is a valid name.
type nameFunc func() (string, *announcement)

// valid returns valid names with a fresh instance, version and zone in the case recase gives.
func valid(version string, recase func(string) string) nameFunc {
	return func() (string, *announcement) {
		id := uuid.NewString()
		return recase(version) + "." + recase(id) + "." + recase(zone), &announcement{strings.ToLower(version), id}
	}
}

// named returns pattern in mixed case with {id} replaced by a fresh UUID and {zone} by the zone.
func named(pattern string) nameFunc {
	return func() (string, *announcement) {
		return mixCase(strings.NewReplacer("{id}", uuid.NewString(), "{zone}", zone).Replace(pattern)), nil
	}
}

// rrsFunc returns the records a section must hold for a query name.
type rrsFunc func(qname string) []dns.RR

// soa is the zone's SOA with the TTL and minimum ttl; its other timers are only checked to be set.
func soa(ttl uint32) rrsFunc {
	return func(string) []dns.RR {
		return []dns.RR{&dns.SOA{
			Hdr:    dns.RR_Header{Name: zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: ttl},
			Ns:     "ns1." + zone, // the first name server, as the Corefiles here name it
			Mbox:   "hostmaster." + zone,
			Minttl: ttl,
		}}
	}
}

// addresses are A or AAAA records for the query name.
func addresses(ttl uint32, ips ...string) rrsFunc {
	return func(qname string) []dns.RR {
		var rrs []dns.RR
		for _, s := range ips {
			ip := net.ParseIP(s)
			if ip4 := ip.To4(); ip4 != nil {
				rrs = append(rrs, &dns.A{Hdr: dns.RR_Header{Name: qname, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: ttl}, A: ip4})
			} else {
				rrs = append(rrs, &dns.AAAA{Hdr: dns.RR_Header{Name: qname, Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: ttl}, AAAA: ip})
			}
		}
		return rrs
	}
}

// nsRRs is the apex's NS RRset of the name servers names.
func nsRRs(ttl uint32, names ...string) rrsFunc {
	return func(qname string) []dns.RR {
		var rrs []dns.RR
		for _, n := range names {
			rrs = append(rrs, &dns.NS{Hdr: dns.RR_Header{Name: qname, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: ttl}, Ns: n})
		}
		return rrs
	}
}

// glue are the A records of a name server inside the zone, whatever the query name.
func glue(ttl uint32, name string, ips ...string) rrsFunc {
	return func(string) []dns.RR { return addresses(ttl, ips...)(name) }
}

// hinfo is the synthesized answer to ANY (RFC 8482).
func hinfo(ttl uint32) rrsFunc {
	return func(qname string) []dns.RR {
		return []dns.RR{&dns.HINFO{Hdr: dns.RR_Header{Name: qname, Rrtype: dns.TypeHINFO, Class: dns.ClassINET, Ttl: ttl}, Cpu: "RFC8482"}}
	}
}

// row is one kind of query and the reply it must get.
type row struct {
	name   string
	qname  nameFunc
	qtype  uint16
	qclass uint16 // 0 for IN
	stored bool   // the name's announcement must reach the sink
	rcode  int
	aa     bool
	answer rrsFunc // nil for none
	ns     rrsFunc // nil for none
	extra  rrsFunc // nil for none; an OPT record is checked apart
}

// nonAnnouncements are names in the zone that are not announcements and names outside it, with
// the replies a server with this TTL gives them.
func nonAnnouncements(ttl uint32) []row {
	nodata := func(name string, qname nameFunc, qtype uint16) row {
		return row{name: name, qname: qname, qtype: qtype, rcode: dns.RcodeSuccess, aa: true, ns: soa(ttl)}
	}
	nxdomain := func(name string, qname nameFunc) row {
		return row{name: name, qname: qname, qtype: dns.TypeA, rcode: dns.RcodeNameError, aa: true, ns: soa(ttl)}
	}
	// No other plugin serves these, so CoreDNS itself refuses them.
	refused := func(name string, qname nameFunc, qtype, qclass uint16) row {
		return row{name: name, qname: qname, qtype: qtype, qclass: qclass, rcode: dns.RcodeRefused}
	}
	return []row{
		nodata("one label", named("{id}.{zone}"), dns.TypeA),
		nodata("one label NS", named("master.{zone}"), dns.TypeNS),
		{name: "apex SOA", qname: named("{zone}"), qtype: dns.TypeSOA, rcode: dns.RcodeSuccess, aa: true, answer: soa(ttl)},
		{name: "apex NS", qname: named("{zone}"), qtype: dns.TypeNS, rcode: dns.RcodeSuccess, aa: true,
			answer: nsRRs(ttl, "ns1."+zone), extra: glue(ttl, "ns1."+zone, "127.0.0.1")},
		{name: "name server A", qname: named("ns1.{zone}"), qtype: dns.TypeA, rcode: dns.RcodeSuccess, aa: true, answer: addresses(ttl, "127.0.0.1")},
		nodata("name server AAAA", named("ns1.{zone}"), dns.TypeAAAA),
		{name: "apex ANY", qname: named("{zone}"), qtype: dns.TypeANY, rcode: dns.RcodeSuccess, aa: true, answer: hinfo(ttl)},
		{name: "one label ANY", qname: named("{id}.{zone}"), qtype: dns.TypeANY, rcode: dns.RcodeSuccess, aa: true, answer: hinfo(ttl)},
		nodata("apex A", named("{zone}"), dns.TypeA),
		nxdomain("uuid version 1", named("master.3f2b8c1e-9a4d-1e6f-8b2a-1c3d5e7f9a0b.{zone}")),
		nxdomain("uuid bad variant", named("master.3f2b8c1e-9a4d-4e6f-cb2a-1c3d5e7f9a0b.{zone}")),
		nxdomain("uuid without dashes", named("master.3f2b8c1e9a4d4e6f8b2a1c3d5e7f9a0b.{zone}")),
		nxdomain("uuid not hex", named("master.3f2b8c1e-9a4d-4e6f-8b2a-1c3d5e7f9a0g.{zone}")),
		nxdomain("version too long", named(strings.Repeat("a", 33)+".{id}.{zone}")),
		nxdomain("version with escaped dot", named(`mas\.ter.{id}.{zone}`)),
		nxdomain("version with plus", named("mas+ter.{id}.{zone}")),
		nxdomain("three labels", named("a.master.{id}.{zone}")),
		refused("outside the zone", named("master.{id}.example.org."), dns.TypeA, 0),
		refused("zone as a partial label", named("master.{id}.xstats.mailu.io."), dns.TypeA, 0),
		refused("parent of the zone", named("mailu.io."), dns.TypeSOA, 0),
		refused("valid name in class CH", valid("master", mixCase), dns.TypeTXT, dns.ClassCHAOS),
	}
}

func TestServeAndRecord(t *testing.T) {
	t.Run("nxdomain csv", func(t *testing.T) {
		sink := filepath.Join(t.TempDir(), "s.csv")
		// flush 1h: nothing reaches the file before shut-down, so what it holds after SIGTERM
		// was written by OnShutdown.
		srv := startCoreDNS(t, fmt.Sprintf(`stats.mailu.io:{port} {
    bind 127.0.0.1
    mailustats {
        ns ns1.stats.mailu.io 127.0.0.1
        sink file %s csv
        ttl 60
        flush 1h
    }
}
`, sink))
		rows := append([]row{
			row{name: "valid A mixed case", qname: valid("MaStEr", mixCase), qtype: dns.TypeA, stored: true, rcode: dns.RcodeNameError, aa: true, ns: soa(60)},
			row{name: "valid AAAA upper case", qname: valid("V2024-06_RC1", strings.ToUpper), qtype: dns.TypeAAAA, stored: true, rcode: dns.RcodeNameError, aa: true, ns: soa(60)},
			row{name: "valid TXT longest version", qname: valid(strings.Repeat("aB", 16), mixCase), qtype: dns.TypeTXT, stored: true, rcode: dns.RcodeNameError, aa: true, ns: soa(60)},
		}, nonAnnouncements(60)...)
		from := time.Now()
		want := queryRows(t, srv, rows)
		if got := readFile(t, sink); got != "" {
			t.Errorf("%s before shut-down with flush 1h: expected empty, got %q", sink, got)
		}
		out := srv.Stop(t)
		checkLog(t, out)
		checkStored(t, readCSV(t, sink), want, from, time.Now())
	})

	t.Run("addresses jsonl", func(t *testing.T) {
		sink := filepath.Join(t.TempDir(), "s.jsonl")
		srv := startCoreDNS(t, fmt.Sprintf(`stats.mailu.io:{port} {
    bind 127.0.0.1
    mailustats {
        ns ns1.stats.mailu.io 127.0.0.1
        answer a 192.0.2.1 192.0.2.2
        answer aaaa 2001:db8::1
        sink file %s jsonl
    }
}
`, sink))
		rows := append([]row{
			row{name: "valid A", qname: valid("master", mixCase), qtype: dns.TypeA, stored: true, rcode: dns.RcodeSuccess, aa: true, answer: addresses(300, "192.0.2.1", "192.0.2.2")},
			row{name: "valid AAAA", qname: valid("1-9_3", mixCase), qtype: dns.TypeAAAA, stored: true, rcode: dns.RcodeSuccess, aa: true, answer: addresses(300, "2001:db8::1")},
			row{name: "valid TXT", qname: valid("master", mixCase), qtype: dns.TypeTXT, stored: true, rcode: dns.RcodeSuccess, aa: true, ns: soa(300)},
		}, nonAnnouncements(300)...)
		from := time.Now()
		want := queryRows(t, srv, rows)
		out := srv.Stop(t)
		checkLog(t, out)
		checkStored(t, readJSONL(t, sink), want, from, time.Now())
	})
}

// queryRows sends each row over UDP and TCP, with and without EDNS0, checks the replies and
// returns the announcements sent that must be stored.
func queryRows(t *testing.T, srv *server, rows []row) []announcement {
	t.Helper()
	var want []announcement
	for _, rw := range rows {
		t.Run(rw.name, func(t *testing.T) {
			for _, netw := range []string{"udp", "tcp"} {
				for _, edns := range []bool{false, true} {
					qname, ann := rw.qname()
					if rw.stored {
						want = append(want, *ann)
					}
					q := newQuery(qname, rw.qtype, edns)
					if rw.qclass != 0 {
						q.Question[0].Qclass = rw.qclass
					}
					r, raw, err := exchange(srv.addr, netw, q, queryTimeout)
					where := fmt.Sprintf("%s edns=%t %s %s", netw, edns, qname, dns.TypeToString[rw.qtype])
					if err != nil {
						t.Errorf("%s: %v", where, err)
						continue
					}
					checkReply(t, where, rw, q, r, raw)
				}
			}
		})
	}
	return want
}

// checkReply checks the header, the question (byte for byte), EDNS0 and the sections.
func checkReply(t *testing.T, where string, rw row, q, r *dns.Msg, raw []byte) {
	t.Helper()
	if r.Id != q.Id {
		t.Errorf("%s: expected ID %d, got %d", where, q.Id, r.Id)
	}
	if !r.Response || r.Opcode != dns.OpcodeQuery {
		t.Errorf("%s: expected QR set and opcode QUERY, got QR %t opcode %s", where, r.Response, dns.OpcodeToString[r.Opcode])
	}
	if r.Authoritative != rw.aa {
		t.Errorf("%s: expected AA %t, got %t", where, rw.aa, r.Authoritative)
	}
	if r.RecursionAvailable {
		t.Errorf("%s: expected RA clear, got set", where)
	}
	if r.RecursionDesired != q.RecursionDesired {
		t.Errorf("%s: expected RD %t copied, got %t", where, q.RecursionDesired, r.RecursionDesired)
	}
	if r.Truncated {
		t.Errorf("%s: expected TC clear, got set", where)
	}
	if r.Rcode != rw.rcode {
		t.Errorf("%s: expected rcode %s, got %s", where, dns.RcodeToString[rw.rcode], dns.RcodeToString[r.Rcode])
	}
	qw := questionWire(t, q)
	if n := binary.BigEndian.Uint16(raw[4:6]); n != 1 || len(raw) < headerLen+len(qw) || !bytes.Equal(raw[headerLen:headerLen+len(qw)], qw) {
		t.Errorf("%s: expected the question echoed byte for byte, got QDCOUNT %d and %v", where, n, r.Question)
	}
	opt := r.IsEdns0()
	switch asked := q.IsEdns0() != nil; {
	case asked && opt == nil:
		t.Errorf("%s: expected an OPT record in reply to EDNS0, got none", where)
	case asked && opt.Version() != 0:
		t.Errorf("%s: expected EDNS version 0, got %d", where, opt.Version())
	case !asked && opt != nil:
		t.Errorf("%s: expected no OPT record without EDNS0 in the query, got %v", where, opt)
	}
	var extra []dns.RR
	for _, rr := range r.Extra {
		if rr.Header().Rrtype != dns.TypeOPT {
			extra = append(extra, rr)
		}
	}
	checkRRs(t, where+" answer", r.Answer, rw.answer, q.Question[0].Name)
	checkRRs(t, where+" authority", r.Ns, rw.ns, q.Question[0].Name)
	checkRRs(t, where+" additional", extra, rw.extra, q.Question[0].Name)
}

// checkRRs compares a section with the records want gives, ignoring owner name case, order and
// the SOA timers other than the minimum, which must only be set.
func checkRRs(t *testing.T, where string, got []dns.RR, want rrsFunc, qname string) {
	t.Helper()
	var w []dns.RR
	if want != nil {
		w = want(qname)
	}
	gs, ws := normalize(t, where, got, true), normalize(t, where, w, false)
	if !slices.Equal(gs, ws) {
		t.Errorf("%s: expected\n\t%s\ngot\n\t%s", where, strings.Join(ws, "\n\t"), strings.Join(gs, "\n\t"))
	}
}

func normalize(t *testing.T, where string, rrs []dns.RR, checkTimers bool) []string {
	t.Helper()
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		rr = dns.Copy(rr)
		if soa, ok := rr.(*dns.SOA); ok {
			if checkTimers && (soa.Serial == 0 || soa.Refresh == 0 || soa.Retry == 0 || soa.Expire == 0) {
				t.Errorf("%s: expected SOA serial, refresh, retry and expire set, got %v", where, soa)
			}
			soa.Serial, soa.Refresh, soa.Retry, soa.Expire = 0, 0, 0, 0
		}
		out = append(out, strings.ToLower(rr.String()))
	}
	slices.Sort(out)
	return out
}

// checkLog fails on errors and mailustats warnings in the server's output.
func checkLog(t *testing.T, out string) {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "[ERROR]") || strings.Contains(line, "[WARNING] plugin/mailustats") {
			t.Errorf("server logged %q", line)
		}
	}
}

func TestSetupErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing", "s.csv")
	sink := filepath.Join(dir, "s.csv")
	tests := []struct {
		name  string
		block string // the mailustats block's lines, from Corefile line 4
		line  int    // the line the error must name; 0 if none
		want  []string
	}{
		{"unknown property", "sink file " + sink + "\n        bogus 1", 5, []string{"unknown property 'bogus'"}},
		{"sink in missing directory", "ttl 60\n        sink file " + missing + " csv", 5, []string{"sink file:" + missing, "no such file or directory"}},
		{"IPv6 address for answer a", "sink file " + sink + "\n        answer a 2001:db8::1", 5, []string{"'2001:db8::1' is not an IPv4 address"}},
		{"unknown file format", "sink file " + sink + " xml", 4, []string{`unknown file format "xml"`}},
		{"no sink", "ttl 60", 0, []string{"no sink configured"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conf := filepath.Join(t.TempDir(), "Corefile")
			writeFile(t, conf, fmt.Sprintf("stats.mailu.io:%d {\n    bind 127.0.0.1\n    mailustats {\n        %s\n        ns ns1.stats.mailu.io 127.0.0.1\n    }\n}\n", freePort(t), tc.block))
			out := startFails(t, conf)
			want := tc.want
			if tc.line > 0 {
				want = append(want, fmt.Sprintf("%s:%d", conf, tc.line))
			}
			for _, w := range want {
				if !strings.Contains(out, w) {
					t.Errorf("expected the output to contain %q, got:\n%s", w, out)
				}
			}
		})
	}
}
