package mailustats

import (
	"context"

	"github.com/coredns/coredns/plugin/metadata"
	"github.com/coredns/coredns/request"

	"github.com/mailustats/mailustats/plugin/qname"
)

// Metadata implements the metadata.Provider interface: mailustats/version and
// mailustats/instance (hashed with hash_ids, as the sinks store it) for valid names.
func (m *MailuStats) Metadata(ctx context.Context, state request.Request) context.Context {
	name := state.QName()
	zone := qname.Match(name, m.cfg.zones)
	if zone == "" {
		return ctx
	}
	parsed := qname.Parse(name, zone)
	if parsed.Kind != qname.Valid {
		return ctx
	}
	metadata.SetValueFunc(ctx, pluginName+"/version", parsed.Version.String)
	instance := parsed.Instance.String
	if m.hasher != nil {
		instance = func() string { return m.hasher.Hash(parsed.Instance.String()) }
	}
	metadata.SetValueFunc(ctx, pluginName+"/instance", instance)
	return ctx
}
