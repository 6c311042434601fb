package mailustats

import (
	"fmt"
	"net"

	"github.com/coredns/caddy"
	"github.com/miekg/dns"
)

// nameServer is a name server of the zones and the addresses answered for it, which a name
// inside a zone must have (the parent zone's glue) and one outside needs not.
type nameServer struct {
	name    string
	a, aaaa []net.IP
}

// parseNS reads `ns NAME [ADDRESS...] [NAME [ADDRESS...]]...`: each address belongs to the name
// before it.
func parseNS(c *caddy.Controller, cfg *config, args []string) error {
	if len(args) == 0 {
		return c.ArgErr()
	}
	cfg.nsLine = c.Line()
	for _, arg := range args {
		if arg == "" {
			return c.Err("ns: an empty argument; is the environment variable it names set?")
		}
		if ip := net.ParseIP(arg); ip != nil {
			if len(cfg.ns) == 0 {
				return c.Errf("ns: address '%s' before any name server's name", arg)
			}
			last := &cfg.ns[len(cfg.ns)-1]
			if v4 := ip.To4(); v4 != nil {
				last.a = append(last.a, v4)
			} else {
				last.aaaa = append(last.aaaa, ip)
			}
			continue
		}
		names, err := domainNames(c, []string{arg})
		if err != nil {
			return err
		}
		cfg.ns = append(cfg.ns, nameServer{name: names[0]})
	}
	return nil
}

// soaMName is the SOA's primary name server of zone: the configured one, else the first name
// server, else ns.<zone>.
func (cfg *config) soaMName(zone string) string {
	switch {
	case cfg.mname != "":
		return cfg.mname
	case len(cfg.ns) > 0:
		return cfg.ns[0].name
	}
	return "ns." + zone
}

// nameServers is zone's NS RRset: the configured name servers, else the SOA's MNAME.
func (cfg *config) nameServers(zone string) []nameServer {
	if len(cfg.ns) > 0 {
		return cfg.ns
	}
	return []nameServer{{name: cfg.soaMName(zone)}}
}

// checkNameServers returns an error unless every name server resolves: one inside a zone has
// an address, and one with addresses is inside a zone, where they are answered.
func checkNameServers(cfg *config) error {
	for _, zone := range cfg.zones {
		for _, ns := range cfg.nameServers(zone) {
			if dns.IsSubDomain(zone, ns.name) && len(ns.a)+len(ns.aaaa) == 0 {
				return fmt.Errorf("name server %s is inside the zone %s and has no address: "+
					"give it the parent zone's glue, as in 'ns %s ADDRESS...', or name a server outside the zone", ns.name, zone, ns.name)
			}
		}
	}
	for _, ns := range cfg.ns {
		if len(ns.a)+len(ns.aaaa) > 0 && !inZones(ns.name, cfg.zones) {
			return fmt.Errorf("name server %s is outside the zones, so its addresses would never be answered", ns.name)
		}
	}
	return nil
}

// inZones reports whether name is one of zones or below one.
func inZones(name string, zones []string) bool {
	for _, z := range zones {
		if dns.IsSubDomain(z, name) {
			return true
		}
	}
	return false
}
