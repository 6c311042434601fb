// Package mailustats is a CoreDNS plugin that counts Mailu instances per version. Each instance
// announces itself by resolving <version>.<instanceid>.<zone>; the plugin answers at once and
// hands the parsed announcement to its sinks in the background.
package mailustats

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/metrics"
	"github.com/miekg/dns"

	"github.com/mailustats/mailustats/plugin/hashid"
	"github.com/mailustats/mailustats/plugin/qname"
	"github.com/mailustats/mailustats/plugin/report"
	"github.com/mailustats/mailustats/plugin/sink"
)

const pluginName = "mailustats"

// MailuStats answers and records the names in its zones and passes every other name on.
type MailuStats struct {
	Next plugin.Handler

	cfg      config
	replies  map[string]*zoneReplies // by zone
	hasher   *hashid.Hasher          // nil unless hash_ids is set
	recorder atomic.Pointer[sink.Recorder]

	// Owned by start and stop, which CoreDNS calls one at a time.
	store  *report.Store // reads the first SQL sink; nil without one
	gauges *gauges
	api    *apiServer // nil without api
}

func newMailuStats(cfg config) *MailuStats {
	m := &MailuStats{cfg: cfg, replies: make(map[string]*zoneReplies, len(cfg.zones))}
	for _, z := range cfg.zones {
		m.replies[z] = newZoneReplies(z, cfg)
	}
	if cfg.hashIDs != "" {
		m.hasher = hashid.New(cfg.hashIDs)
	}
	return m
}

// ServeDNS implements the plugin.Handler interface.
func (m *MailuStats) ServeDNS(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	if len(r.Question) == 0 {
		return plugin.NextOrFailure(m.Name(), m.Next, ctx, w, r)
	}
	q := r.Question[0]
	zone := qname.Match(q.Name, m.cfg.zones)
	if zone == "" {
		return plugin.NextOrFailure(m.Name(), m.Next, ctx, w, r)
	}
	server := metrics.WithServer(ctx)
	switch {
	case r.Opcode != dns.OpcodeQuery: // a NOTIFY, or what another plugin lets through
		queriesTotal.WithLabelValues(server, resultNotImp).Inc()
		return dns.RcodeNotImplemented, nil
	case q.Qclass != dns.ClassINET, q.Qtype == dns.TypeAXFR, q.Qtype == dns.TypeIXFR:
		queriesTotal.WithLabelValues(server, resultRefused).Inc()
		return dns.RcodeRefused, nil
	}

	zr := m.replies[zone]
	name := qname.Parse(q.Name, zone)
	var host *hostAddr // a name server inside the zone, which no valid name is
	if name.Kind != qname.Valid {
		host = zr.host(q.Name)
	}
	var reply *dns.Msg
	switch {
	case name.Kind == qname.Valid:
		version := name.Version.String()
		if !m.cfg.recordsVersion(version) {
			queriesTotal.WithLabelValues(server, resultUnlisted).Inc()
			reply = zr.nxdomain(r)
			break
		}
		if !m.record(server, version, name) {
			queriesTotal.WithLabelValues(server, resultUnavailable).Inc()
			return dns.RcodeServerFailure, nil
		}
		reply = zr.valid(r)
	case name.Kind == qname.Apex:
		queriesTotal.WithLabelValues(server, resultApex).Inc()
		reply = zr.apex(r)
	case host != nil:
		queriesTotal.WithLabelValues(server, resultNameServer).Inc()
		reply = zr.addresses(r, host)
	case name.Kind == qname.Partial:
		queriesTotal.WithLabelValues(server, resultPartial).Inc()
		reply = zr.nodata(r)
	default:
		queriesTotal.WithLabelValues(server, resultMalformed).Inc()
		reply = zr.nxdomain(r)
	}
	if err := w.WriteMsg(reply); err != nil {
		return dns.RcodeServerFailure, plugin.Error(m.Name(), err)
	}
	return dns.RcodeSuccess, nil
}

// record queues the announcement. It returns false only when the recorder is shutting down, so
// the query must not be answered as recorded; a full queue is counted and answered all the same,
// since waiting would hold up the DNS path.
func (m *MailuStats) record(server, version string, name qname.Name) bool {
	rec := m.recorder.Load()
	if rec.Add(sink.Record{Time: time.Now(), Version: version, Instance: name.Instance.String()}) {
		queriesTotal.WithLabelValues(server, resultRecorded).Inc()
		return true
	}
	if rec.Closed() {
		return false
	}
	droppedTotal.WithLabelValues(server).Inc()
	return true
}

// Name implements the plugin.Handler interface.
func (m *MailuStats) Name() string { return pluginName }
