package e2e

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/miekg/dns"
)

// safetyNoAnswer is how long a query that may go unanswered is given.
const safetyNoAnswer = time.Second

// No answer is larger than its query by more than one record, whatever the query: no
// amplification, ANY included (RFC 8482); messages that are not plain queries are never
// answered as if they were, and hostile names on the wire get the answer of the name they spell,
// recorded only when valid.
func TestResponseSafety(t *testing.T) {
	t.Run("nxdomain", func(t *testing.T) {
		sink := filepath.Join(t.TempDir(), "s.csv")
		srv := startCoreDNS(t, fmt.Sprintf(`stats.mailu.io:{port} {
    bind 127.0.0.1
    mailustats {
        ns ns1.stats.mailu.io 127.0.0.1
        sink file %s
        flush 100ms
    }
}
`, sink))
		from := time.Now()
		soaLen := safetySOALen(t)
		t.Logf("bound: the query plus %d octets, one uncompressed SOA of the zone", soaLen)
		var want []announcement
		t.Run("query kinds", func(t *testing.T) { want = append(want, safetyKinds(t, srv.addr, safetyNXKinds(), soaLen)...) })
		t.Run("classes CH and ANY", func(t *testing.T) { safetyRefusedClasses(t, srv.addr) })
		t.Run("not plain queries", func(t *testing.T) { safetyNotQueries(t, srv.addr) })
		t.Run("hostile names", func(t *testing.T) { want = append(want, safetyHostile(t, srv.addr, soaLen)...) })
		srv.Stop(t)
		checkStored(t, readCSV(t, sink), want, from, time.Now())
	})

	t.Run("answer a", func(t *testing.T) {
		sink := filepath.Join(t.TempDir(), "s.csv")
		srv := startCoreDNS(t, fmt.Sprintf(`stats.mailu.io:{port} {
    bind 127.0.0.1
    mailustats {
        ns ns1.stats.mailu.io 127.0.0.1
        answer a 192.0.2.1
        sink file %s
        flush 100ms
    }
}
`, sink))
		from := time.Now()
		kinds := []safetyKind{
			{name: "valid A", qname: valid("19", mixCase), qtype: dns.TypeA, rcode: dns.RcodeSuccess, answer: dns.TypeA, stored: true},
			{name: "valid AAAA", qname: valid("19", mixCase), qtype: dns.TypeAAAA, rcode: dns.RcodeSuccess, stored: true},
			{name: "valid ANY", qname: valid("19", mixCase), qtype: dns.TypeANY, rcode: dns.RcodeSuccess, answer: dns.TypeHINFO, stored: true},
			{name: "valid TXT", qname: valid("19", mixCase), qtype: dns.TypeTXT, rcode: dns.RcodeSuccess, stored: true},
			{name: "apex ANY", qname: named("{zone}"), qtype: dns.TypeANY, rcode: dns.RcodeSuccess, answer: dns.TypeHINFO},
			{name: "one label A", qname: named("{id}.{zone}"), qtype: dns.TypeA, rcode: dns.RcodeSuccess},
			{name: "malformed A", qname: named("a.19.{id}.{zone}"), qtype: dns.TypeA, rcode: dns.RcodeNameError},
		}
		want := safetyKinds(t, srv.addr, kinds, safetySOALen(t))
		srv.Stop(t)
		checkStored(t, readCSV(t, sink), want, from, time.Now())
	})
}

// safetyKind is one kind of query and the answer it must get: the rcode and, when answer is
// set, one record of that type in the answer section; otherwise nothing in the answer and, for
// NXDOMAIN and NODATA, one SOA in the authority section.
type safetyKind struct {
	name   string
	qname  nameFunc
	qtype  uint16
	rcode  int
	answer uint16
	stored bool
}

// safetyNXKinds are the kinds of queries a server with the default answer gets.
func safetyNXKinds() []safetyKind {
	var kinds []safetyKind
	for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeTXT, dns.TypeMX, dns.TypeSOA, dns.TypeNS, dns.TypeANY} {
		kinds = append(kinds, safetyKind{name: "valid " + dns.TypeToString[qtype], qname: valid("19", mixCase), qtype: qtype, rcode: dns.RcodeNameError, stored: true})
	}
	kinds = append(kinds,
		safetyKind{name: "apex SOA", qname: named("{zone}"), qtype: dns.TypeSOA, rcode: dns.RcodeSuccess, answer: dns.TypeSOA},
		safetyKind{name: "apex NS", qname: named("{zone}"), qtype: dns.TypeNS, rcode: dns.RcodeSuccess, answer: dns.TypeNS},
		safetyKind{name: "apex A", qname: named("{zone}"), qtype: dns.TypeA, rcode: dns.RcodeSuccess},
		safetyKind{name: "apex ANY", qname: named("{zone}"), qtype: dns.TypeANY, rcode: dns.RcodeSuccess, answer: dns.TypeHINFO},
		safetyKind{name: "one label A", qname: named("{id}.{zone}"), qtype: dns.TypeA, rcode: dns.RcodeSuccess},
		safetyKind{name: "one label ANY", qname: named("master.{zone}"), qtype: dns.TypeANY, rcode: dns.RcodeSuccess, answer: dns.TypeHINFO},
		safetyKind{name: "three labels ANY", qname: named("a.19.{id}.{zone}"), qtype: dns.TypeANY, rcode: dns.RcodeNameError},
		safetyKind{name: "bad uuid ANY", qname: named("19.3f2b8c1e-9a4d-1e6f-8b2a-1c3d5e7f9a0b.{zone}"), qtype: dns.TypeANY, rcode: dns.RcodeNameError},
		safetyKind{name: "longest name ANY", qname: named(strings.Repeat(strings.Repeat("x", 63)+".", 3) + strings.Repeat("y", 6) + ".19.{id}.{zone}"), qtype: dns.TypeANY, rcode: dns.RcodeNameError},
	)
	return kinds
}

// safetyKinds sends each kind over UDP, with and without EDNS0, and checks the answer and its
// size: at most the query plus soaLen octets, or plus one uncompressed A record of the query
// name for an A answer (with EDNS0 the query's OPT record is answered with one of the same
// size). It returns the announcements that must be stored.
func safetyKinds(t *testing.T, addr string, kinds []safetyKind, soaLen int) []announcement {
	t.Helper()
	var want []announcement
	most := 0 // the largest answer's octets beyond its query
	for _, k := range kinds {
		for _, edns := range []bool{false, true} {
			qname, ann := k.qname()
			q := newQuery(qname, k.qtype, edns)
			where := fmt.Sprintf("%s edns=%t %s %s", k.name, edns, qname, dns.TypeToString[k.qtype])
			qw, err := q.Pack()
			if err != nil {
				t.Fatalf("%s: pack: %v", where, err)
			}
			if k.stored {
				want = append(want, *ann)
			}
			r, raw, err := exchange(addr, "udp", q, queryTimeout)
			if err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			extra := soaLen
			switch k.answer {
			case dns.TypeA:
				extra = safetyRRLen(t, addresses(300, "192.0.2.1")(qname)[0])
			case dns.TypeHINFO:
				extra = safetyRRLen(t, hinfo(300)(qname)[0])
			case dns.TypeNS: // and the name server's glue
				extra = safetyRRLen(t, nsRRs(300, "ns1."+zone)(qname)[0]) + safetyRRLen(t, glue(300, "ns1."+zone, "127.0.0.1")("")[0])
			}
			if len(raw) > len(qw)+extra {
				t.Errorf("%s: expected at most %d+%d octets, got %d: %v", where, len(qw), extra, len(raw), r)
			}
			most = max(most, len(raw)-len(qw))
			safetyCheckReply(t, where, q, r, k.rcode, k.answer)
		}
	}
	t.Logf("%d kinds of query: the largest answer is its query plus %d octets", len(kinds), most)
	return want
}

// safetyCheckReply checks the ID, the rcode and the sections of a minimal answer: at most one
// record of type answer in the answer section, one SOA in the authority section of an answer
// without records, and in the additional section nothing but the OPT of an EDNS0 query and, for
// an NS answer, the A record of the name server inside the zone.
func safetyCheckReply(t *testing.T, where string, q, r *dns.Msg, rcode int, answer uint16) {
	t.Helper()
	if r.Id != q.Id || !r.Response {
		t.Errorf("%s: expected a response with ID %d, got ID %d QR %t", where, q.Id, r.Id, r.Response)
	}
	if r.Rcode != rcode {
		t.Errorf("%s: expected %s, got %s", where, dns.RcodeToString[rcode], dns.RcodeToString[r.Rcode])
	}
	switch {
	case answer != 0 && (len(r.Answer) != 1 || r.Answer[0].Header().Rrtype != answer || len(r.Ns) != 0):
		t.Errorf("%s: expected one %s record in the answer and none in authority, got %v and %v", where, dns.TypeToString[answer], r.Answer, r.Ns)
	case answer == 0 && len(r.Answer) != 0:
		t.Errorf("%s: expected no records in the answer, got %v", where, r.Answer)
	case answer == 0 && rcode != dns.RcodeRefused && (len(r.Ns) != 1 || r.Ns[0].Header().Rrtype != dns.TypeSOA):
		t.Errorf("%s: expected one SOA in authority, got %v", where, r.Ns)
	case rcode == dns.RcodeRefused && len(r.Ns) != 0:
		t.Errorf("%s: expected no records in authority, got %v", where, r.Ns)
	}
	edns := q.IsEdns0() != nil
	glued := 0
	for _, rr := range r.Extra {
		_, opt := rr.(*dns.OPT)
		a, isA := rr.(*dns.A)
		switch {
		case opt && edns:
		case isA && answer == dns.TypeNS && strings.EqualFold(a.Hdr.Name, "ns1."+zone):
			glued++
		default:
			t.Errorf("%s: expected nothing in additional but the OPT of an EDNS0 query and an NS answer's glue, got %v", where, rr)
		}
	}
	if len(r.Extra)-glued > 1 || glued > 1 {
		t.Errorf("%s: expected at most one OPT and one glue record in additional, got %v", where, r.Extra)
	}
}

// safetySOALen is the size of the zone's SOA uncompressed, with the default names.
func safetySOALen(t *testing.T) int {
	t.Helper()
	return safetyRRLen(t, soa(300)("")[0])
}

func safetyRRLen(t *testing.T, rr dns.RR) int {
	t.Helper()
	buf := make([]byte, dns.MaxMsgSize)
	n, err := dns.PackRR(rr, buf, 0, nil, false)
	if err != nil {
		t.Fatalf("pack %v: %v", rr, err)
	}
	return n
}

// safetyRefusedClasses sends valid names in class CH and ANY: REFUSED, never recorded.
func safetyRefusedClasses(t *testing.T, addr string) {
	t.Helper()
	for _, class := range []uint16{dns.ClassCHAOS, dns.ClassANY} {
		for _, netw := range []string{"udp", "tcp"} {
			qname, _ := valid("19", mixCase)()
			q := newQuery(qname, dns.TypeA, false)
			q.Question[0].Qclass = class
			where := fmt.Sprintf("%s class %s %s", netw, dns.ClassToString[class], qname)
			r, _, err := exchange(addr, netw, q, queryTimeout)
			if err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			safetyCheckReply(t, where, q, r, dns.RcodeRefused, 0)
		}
	}
}

// safetyNotQueries sends, by hand, a message with QR set and one with two questions, each
// asking for valid names, over UDP and TCP: no answer, or FORMERR or REFUSED.
func safetyNotQueries(t *testing.T, addr string) {
	t.Helper()
	validQ := func() []byte {
		return safetyQuestion(safetyLabels("19", uuid.NewString(), "stats", "mailu", "io"), dns.TypeA, dns.ClassINET)
	}
	for _, netw := range []string{"udp", "tcp"} {
		for _, tc := range []struct {
			name string
			msg  []byte
		}{
			{"QR set", safetyMessage(0x8100, validQ())},
			{"QDCOUNT 2", safetyMessage(0x0100, validQ(), validQ())},
			{"QDCOUNT 2 with one valid name twice", func() []byte { q := validQ(); return safetyMessage(0x0100, q, q) }()},
		} {
			where := netw + " " + tc.name
			reply, err := safetyRaw(addr, netw, tc.msg, safetyNoAnswer)
			if err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			if reply == nil {
				t.Logf("%s: no answer", where)
				continue
			}
			if len(reply) < headerLen || !bytes.Equal(reply[:2], tc.msg[:2]) || reply[2]&0x80 == 0 {
				t.Errorf("%s: expected no answer or a response with ID %x, got %x", where, tc.msg[:2], reply)
				continue
			}
			rcode := int(reply[3] & 0x0f)
			if rcode != dns.RcodeFormatError && rcode != dns.RcodeRefused {
				t.Errorf("%s: expected no answer, FORMERR or REFUSED, got %s", where, dns.RcodeToString[rcode])
			}
			if an, ns := binary.BigEndian.Uint16(reply[6:]), binary.BigEndian.Uint16(reply[8:]); an != 0 || ns != 0 {
				t.Errorf("%s: expected no records, got ANCOUNT %d NSCOUNT %d", where, an, ns)
			}
			t.Logf("%s: %s", where, dns.RcodeToString[rcode])
		}
	}
}

// safetyHostile sends names that only the wire can carry, built by hand, over UDP and TCP, and
// returns the announcements that must be stored: the valid names, in lower case.
func safetyHostile(t *testing.T, addr string, soaLen int) []announcement {
	t.Helper()
	id := uuid.NewString()
	zoneLabels := []string{"stats", "mailu", "io"}
	in := func(labels ...string) []string { return append(labels, zoneLabels...) }
	withByte := func(s string, i int, c byte) string { b := []byte(s); b[i] = c; return string(b) }
	mixed := mixCase("Rc-2024_06." + strings.ToUpper(id) + ".stats.mailu.io")
	long := strings.Repeat("a", 63)
	tests := []struct {
		name   string
		labels []string
		rcode  int // -1: no answer, FORMERR or REFUSED
		stored *announcement
	}{
		{"escaped dot in version", in("19.x", id), dns.RcodeNameError, nil},
		{"version ending in a dot", in("19.", id), dns.RcodeNameError, nil},
		{"version and instance in one label", in("19." + id), dns.RcodeSuccess, nil},
		{"dot in place of a dash", in("19", withByte(id, 8, '.')), dns.RcodeNameError, nil},
		{"zone boundary inside a label", []string{"19", id + ".stats", "mailu", "io"}, dns.RcodeRefused, nil},
		{"one label ending in a backslash", in(`x\`), dns.RcodeSuccess, nil},
		{"instance ending in a backslash", in("19", id[:35]+`\`), dns.RcodeNameError, nil},
		{"escape text in version", in(`1\0469`, id), dns.RcodeNameError, nil},
		{"NUL and control bytes in version", in("\x001\x1f9\x7f", id), dns.RcodeNameError, nil},
		{"NUL in instance", in("19", withByte(id, 0, 0)), dns.RcodeNameError, nil},
		{"control bytes in one label", in("\x00\x07\x1b\n"), dns.RcodeSuccess, nil},
		{"space in version", in("1 9", id), dns.RcodeNameError, nil},
		{"63-byte version", in(long, id), dns.RcodeNameError, nil},
		{"63-byte one label", in(long), dns.RcodeSuccess, nil},
		{"name of 255 octets", in(long, long, long, "aaaaaa", "19", id), dns.RcodeNameError, nil},
		{"name of 256 octets", in(long, long, long, "aaaaaaa", "19", id), -1, nil},
		{"non-ASCII version", in("\x80\xff\xc3\xa9", id), dns.RcodeNameError, nil},
		{"non-ASCII version of 32 octets", in(strings.Repeat("\xe9", 32), id), dns.RcodeNameError, nil},
		{"non-ASCII instance", in("19", withByte(id, 35, 0xe9)), dns.RcodeNameError, nil},
		{"non-ASCII one label", in("\xc3\xa9t\xc3\xa9"), dns.RcodeSuccess, nil},
		{"mixed case", strings.Split(mixed, "."), dns.RcodeNameError, &announcement{"rc-2024_06", id}},
		{"upper case", strings.Split(strings.ToUpper("master."+id+".stats.mailu.io"), "."), dns.RcodeNameError, &announcement{"master", id}},
	}
	var want []announcement
	for _, tc := range tests {
		name := safetyLabels(tc.labels...)
		switch tc.name {
		case "name of 255 octets":
			if len(name) != 255 {
				t.Fatalf("%s: built %d octets", tc.name, len(name))
			}
		case "name of 256 octets":
			if len(name) != 256 {
				t.Fatalf("%s: built %d octets", tc.name, len(name))
			}
		}
		for _, netw := range []string{"udp", "tcp"} {
			where := fmt.Sprintf("%s %s %q", netw, tc.name, strings.Join(tc.labels, "."))
			question := safetyQuestion(name, dns.TypeA, dns.ClassINET)
			msg := safetyMessage(0x0100, question)
			if tc.stored != nil {
				want = append(want, *tc.stored)
			}
			reply, err := safetyRaw(addr, netw, msg, safetyNoAnswer)
			if err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			if tc.rcode < 0 {
				if reply != nil {
					if rcode := int(reply[3] & 0x0f); len(reply) < headerLen || rcode != dns.RcodeFormatError && rcode != dns.RcodeRefused {
						t.Errorf("%s: expected no answer, FORMERR or REFUSED, got %x", where, reply)
					}
				}
				continue
			}
			if reply == nil {
				t.Errorf("%s: expected %s, got no answer", where, dns.RcodeToString[tc.rcode])
				continue
			}
			if len(reply) > len(msg)+soaLen {
				t.Errorf("%s: expected at most %d+%d octets, got %d", where, len(msg), soaLen, len(reply))
			}
			if len(reply) < headerLen+len(question) || !bytes.Equal(reply[headerLen:headerLen+len(question)], question) {
				t.Errorf("%s: expected the question echoed byte for byte, got %x", where, reply)
			}
			q, r := new(dns.Msg), new(dns.Msg)
			if err := q.Unpack(msg); err != nil {
				t.Fatalf("%s: unpack the query: %v", where, err)
			}
			if err := r.Unpack(reply); err != nil {
				t.Errorf("%s: unpack the reply: %v", where, err)
				continue
			}
			safetyCheckReply(t, where, q, r, tc.rcode, 0)
		}
	}
	return want
}

// safetyLabels returns the wire form of the name made of labels, each taken byte for byte.
func safetyLabels(labels ...string) []byte {
	var b []byte
	for _, l := range labels {
		b = append(b, byte(len(l)))
		b = append(b, l...)
	}
	return append(b, 0)
}

// safetyQuestion returns a question in wire form.
func safetyQuestion(name []byte, qtype, qclass uint16) []byte {
	return binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(bytes.Clone(name), qtype), qclass)
}

// safetyMessage returns a message with a random ID, the flags, and the questions.
func safetyMessage(flags uint16, questions ...[]byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(rand.Uint32()))
	b = binary.BigEndian.AppendUint16(b, flags)
	b = binary.BigEndian.AppendUint16(b, uint16(len(questions)))
	b = append(b, 0, 0, 0, 0, 0, 0)
	for _, q := range questions {
		b = append(b, q...)
	}
	return b
}

// safetyRaw sends msg over netw and returns the reply, or nil when none came within wait or the
// server closed the connection.
func safetyRaw(addr, netw string, msg []byte, wait time.Duration) ([]byte, error) {
	c, err := net.DialTimeout(netw, addr, queryTimeout)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(wait)); err != nil {
		return nil, err
	}
	if netw == "tcp" {
		msg = append(binary.BigEndian.AppendUint16(nil, uint16(len(msg))), msg...)
	}
	if _, err := c.Write(msg); err != nil {
		return nil, err
	}
	var reply []byte
	if netw == "tcp" {
		var n [2]byte
		if _, err = io.ReadFull(c, n[:]); err == nil {
			reply = make([]byte, binary.BigEndian.Uint16(n[:]))
			_, err = io.ReadFull(c, reply)
		}
	} else {
		reply = make([]byte, dns.MaxMsgSize)
		var n int
		n, err = c.Read(reply)
		reply = reply[:n]
	}
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return nil, nil
	case err != nil:
		return nil, err
	}
	return reply, nil
}
