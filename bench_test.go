package mailustats

import (
	"context"
	"testing"

	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/test"
	"github.com/coredns/coredns/plugin/whoami"
	"github.com/miekg/dns"
)

// packWriter packs every reply, as the server does before sending it.
type packWriter struct{ test.ResponseWriter }

func (w *packWriter) WriteMsg(m *dns.Msg) error {
	_, err := m.Pack()
	return err
}

// BenchmarkServeDNS compares the plugin's cost per query with whoami's, the cheapest answer
// CoreDNS gives, on the same request and writer.
func BenchmarkServeDNS(b *testing.B) {
	m, _ := newTestHandler(b, "")
	names := map[string]string{
		"recorded":  "19.0b7c3D3E-1111-4222-8333-444455556666.StAtS.mailu.io.",
		"partial":   "0b7c3d3e-1111-4222-8333-444455556666.stats.mailu.io.",
		"malformed": "19.0b7c3d3e-1111-4222-8333-44445555666x.stats.mailu.io.",
	}
	for name, qname := range names {
		b.Run("mailustats/"+name, func(b *testing.B) { serve(b, m, qname) })
	}
	b.Run("whoami", func(b *testing.B) { serve(b, whoami.Whoami{}, names["recorded"]) })
}

func serve(b *testing.B, h plugin.Handler, qname string) {
	req := new(dns.Msg).SetQuestion(qname, dns.TypeA)
	req.SetEdns0(1232, false)
	w := &packWriter{}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.ServeDNS(ctx, w, req); err != nil {
			b.Fatal(err)
		}
	}
}
