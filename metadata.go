package mailustats

import (
	"context"

	"github.com/coredns/coredns/plugin/metadata"
	"github.com/coredns/coredns/request"

	"github.com/mailustats/mailustats/plugin/qname"
)

// Metadata implements the metadata.Provider interface: mailustats/version and
// mailustats/instance for valid names, for the log plugin and others.
func (m *MailuStats) Metadata(ctx context.Context, state request.Request) context.Context {
	name := state.QName()
	zone := qname.Match(name, m.zones)
	if zone == "" {
		return ctx
	}
	parsed := qname.Parse(name, zone)
	if parsed.Kind != qname.Valid {
		return ctx
	}
	metadata.SetValueFunc(ctx, pluginName+"/version", parsed.Version.String)
	metadata.SetValueFunc(ctx, pluginName+"/instance", parsed.Instance.String)
	return ctx
}
