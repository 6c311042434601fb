package mailustats

import (
	"github.com/miekg/dns"
)

// SOA timers; nothing transfers this zone, so they only need to be sane.
const (
	soaSerial  = 1
	soaRefresh = 7200
	soaRetry   = 1800
	soaExpire  = 1209600
)

// zoneReplies builds the answers for one zone from templates made at setup.
type zoneReplies struct {
	soa  dns.SOA
	ns   []string
	a    []dns.A
	aaaa []dns.AAAA
}

func newZoneReplies(zone string, cfg config) *zoneReplies {
	mname, rname := cfg.mname, cfg.rname
	if mname == "" {
		mname = "ns." + zone
	}
	if rname == "" {
		rname = "hostmaster." + zone
	}
	z := &zoneReplies{
		soa: dns.SOA{
			Hdr:     dns.RR_Header{Name: zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: cfg.ttl},
			Ns:      mname,
			Mbox:    rname,
			Serial:  soaSerial,
			Refresh: soaRefresh,
			Retry:   soaRetry,
			Expire:  soaExpire,
			Minttl:  cfg.ttl,
		},
		ns: cfg.ns,
	}
	for _, ip := range cfg.a {
		z.a = append(z.a, dns.A{Hdr: dns.RR_Header{Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: cfg.ttl}, A: ip})
	}
	for _, ip := range cfg.aaaa {
		z.aaaa = append(z.aaaa, dns.AAAA{Hdr: dns.RR_Header{Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: cfg.ttl}, AAAA: ip})
	}
	return z
}

// valid answers a recorded name: the configured addresses for its type, NODATA for other
// types, or NXDOMAIN when no addresses are configured.
func (z *zoneReplies) valid(r *dns.Msg) *dns.Msg {
	if len(z.a)+len(z.aaaa) == 0 {
		return z.nxdomain(r)
	}
	m := z.reply(r)
	owner := r.Question[0].Name
	switch r.Question[0].Qtype {
	case dns.TypeA:
		for _, a := range z.a {
			a.Hdr.Name = owner
			m.Answer = append(m.Answer, &a)
		}
	case dns.TypeAAAA:
		for _, aaaa := range z.aaaa {
			aaaa.Hdr.Name = owner
			m.Answer = append(m.Answer, &aaaa)
		}
	}
	if len(m.Answer) == 0 {
		m.Ns = z.soaRR()
	}
	return m
}

// apex answers the zone itself: its SOA, its NS when configured, else NODATA.
func (z *zoneReplies) apex(r *dns.Msg) *dns.Msg {
	m := z.reply(r)
	owner := r.Question[0].Name
	switch r.Question[0].Qtype {
	case dns.TypeSOA:
		soa := z.soa
		soa.Hdr.Name = owner
		m.Answer = []dns.RR{&soa}
		return m
	case dns.TypeNS:
		for _, ns := range z.ns {
			m.Answer = append(m.Answer, &dns.NS{Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: z.soa.Hdr.Ttl}, Ns: ns})
		}
	}
	if len(m.Answer) == 0 {
		m.Ns = z.soaRR()
	}
	return m
}

// nodata answers NOERROR with no records and the SOA, for a name that exists.
func (z *zoneReplies) nodata(r *dns.Msg) *dns.Msg {
	m := z.reply(r)
	m.Ns = z.soaRR()
	return m
}

// nxdomain answers that the name does not exist, with the SOA.
func (z *zoneReplies) nxdomain(r *dns.Msg) *dns.Msg {
	m := z.nodata(r)
	m.Rcode = dns.RcodeNameError
	return m
}

func (z *zoneReplies) reply(r *dns.Msg) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	m.RecursionAvailable = false
	return m
}

// soaRR returns a copy of the SOA template, so later plugins may change it freely.
func (z *zoneReplies) soaRR() []dns.RR {
	soa := z.soa
	return []dns.RR{&soa}
}
