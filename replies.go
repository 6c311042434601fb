package mailustats

import (
	"net"
	"strings"

	"github.com/miekg/dns"
)

// SOA timers, as RFC 1912 and Zonemaster recommend; nothing transfers this zone (AXFR and IXFR
// are refused), so they only tell secondaries and checkers that the zone is sane.
const (
	soaSerial  = 1
	soaRefresh = 14400   // 4 hours
	soaRetry   = 3600    // 1 hour
	soaExpire  = 1209600 // 2 weeks
)

// hinfoCPU is the CPU of the HINFO that answers ANY (RFC 8482 section 4.2).
const hinfoCPU = "RFC8482"

// zoneReplies builds the answers for one zone from templates made at setup.
type zoneReplies struct {
	soa   dns.SOA
	ns    []string   // the apex's NS RRset
	hosts []hostAddr // the name servers inside the zone, with their addresses
	addrs hostAddr   // what valid names are answered, under no name
}

// hostAddr is a name in the zone and the A and AAAA records answered for it.
type hostAddr struct {
	name string
	a    []dns.A
	aaaa []dns.AAAA
}

func newZoneReplies(zone string, cfg config) *zoneReplies {
	rname := cfg.rname
	if rname == "" {
		rname = "hostmaster." + zone
	}
	z := &zoneReplies{
		soa: dns.SOA{
			Hdr:     dns.RR_Header{Name: zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: cfg.ttl},
			Ns:      cfg.soaMName(zone),
			Mbox:    rname,
			Serial:  soaSerial,
			Refresh: soaRefresh,
			Retry:   soaRetry,
			Expire:  soaExpire,
			Minttl:  cfg.ttl,
		},
		addrs: newHostAddr("", cfg.a, cfg.aaaa, cfg.ttl),
	}
	for _, ns := range cfg.nameServers(zone) {
		z.ns = append(z.ns, ns.name)
		if dns.IsSubDomain(zone, ns.name) {
			z.hosts = append(z.hosts, newHostAddr(ns.name, ns.a, ns.aaaa, cfg.ttl))
		}
	}
	return z
}

func newHostAddr(name string, a, aaaa []net.IP, ttl uint32) hostAddr {
	h := hostAddr{name: name}
	for _, ip := range a {
		h.a = append(h.a, dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: ttl}, A: ip})
	}
	for _, ip := range aaaa {
		h.aaaa = append(h.aaaa, dns.AAAA{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: ttl}, AAAA: ip})
	}
	return h
}

// host returns the name server inside the zone called name, in any letter case, or nil.
func (z *zoneReplies) host(name string) *hostAddr {
	for i := range z.hosts {
		if strings.EqualFold(z.hosts[i].name, name) {
			return &z.hosts[i]
		}
	}
	return nil
}

// valid answers a recorded name: the configured addresses for its type, NODATA for other
// types, or NXDOMAIN when no addresses are configured.
func (z *zoneReplies) valid(r *dns.Msg) *dns.Msg {
	if len(z.addrs.a)+len(z.addrs.aaaa) == 0 {
		return z.nxdomain(r)
	}
	return z.addresses(r, &z.addrs)
}

// addresses answers a name that exists and has h's addresses (none for a nil h): those of the
// type asked, a HINFO to ANY, NODATA to other types.
func (z *zoneReplies) addresses(r *dns.Msg, h *hostAddr) *dns.Msg {
	m := z.reply(r)
	if q := r.Question[0]; q.Qtype == dns.TypeANY {
		m.Answer = z.hinfo(r)
	} else {
		m.Answer = h.records(q.Name, q.Qtype)
	}
	if len(m.Answer) == 0 {
		m.Ns = z.soaRR()
	}
	return m
}

// records returns h's records of qtype, owned by owner as the question spelled it; none for a
// nil h, a name without addresses.
func (h *hostAddr) records(owner string, qtype uint16) []dns.RR {
	if h == nil {
		return nil
	}
	var rrs []dns.RR
	switch qtype {
	case dns.TypeA:
		for _, a := range h.a {
			a.Hdr.Name = owner
			rrs = append(rrs, &a)
		}
	case dns.TypeAAAA:
		for _, aaaa := range h.aaaa {
			aaaa.Hdr.Name = owner
			rrs = append(rrs, &aaaa)
		}
	}
	return rrs
}

// apex answers the zone itself: its SOA, its NS RRset with the addresses of the name servers
// inside the zone, the apex's own addresses when it is a name server, else NODATA.
func (z *zoneReplies) apex(r *dns.Msg) *dns.Msg {
	owner, qtype := r.Question[0].Name, r.Question[0].Qtype
	switch qtype {
	case dns.TypeSOA:
		m := z.reply(r)
		soa := z.soa
		soa.Hdr.Name = owner
		m.Answer = []dns.RR{&soa}
		return m
	case dns.TypeNS:
		m := z.reply(r)
		for _, ns := range z.ns {
			m.Answer = append(m.Answer, &dns.NS{Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: z.soa.Hdr.Ttl}, Ns: ns})
		}
		for i := range z.hosts {
			h := &z.hosts[i]
			m.Extra = append(append(m.Extra, h.records(h.name, dns.TypeA)...), h.records(h.name, dns.TypeAAAA)...)
		}
		return m
	}
	return z.addresses(r, z.host(owner))
}

// nodata answers NOERROR with no records and the SOA, for a name that exists; ANY gets a HINFO.
func (z *zoneReplies) nodata(r *dns.Msg) *dns.Msg {
	return z.addresses(r, nil)
}

// nxdomain answers that the name does not exist, with the SOA.
func (z *zoneReplies) nxdomain(r *dns.Msg) *dns.Msg {
	m := z.reply(r)
	m.Rcode = dns.RcodeNameError
	m.Ns = z.soaRR()
	return m
}

func (z *zoneReplies) reply(r *dns.Msg) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	m.RecursionAvailable = false
	return m
}

// hinfo is the answer to ANY for a name that exists: one small synthesized HINFO, as RFC 8482
// section 4.2 allows, so that ANY never amplifies.
func (z *zoneReplies) hinfo(r *dns.Msg) []dns.RR {
	return []dns.RR{&dns.HINFO{
		Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeHINFO, Class: dns.ClassINET, Ttl: z.soa.Hdr.Ttl},
		Cpu: hinfoCPU,
	}}
}

// soaRR returns a copy of the SOA template, so later plugins may change it freely.
func (z *zoneReplies) soaRR() []dns.RR {
	soa := z.soa
	return []dns.RR{&soa}
}
