package mailustats

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/plugin"
	"github.com/miekg/dns"

	"github.com/mailustats/mailustats/plugin/report"
	"github.com/mailustats/mailustats/plugin/sink"
	"github.com/mailustats/mailustats/plugin/sink/postgres"
	"github.com/mailustats/mailustats/plugin/sink/sqlite"
)

// Limits on the numeric options.
const (
	maxBuffer = 1 << 24
	maxTTL    = 7 * 24 * 3600
)

func init() { plugin.Register(pluginName, setup) }

func setup(c *caddy.Controller) error {
	cfg, err := parse(c)
	if err != nil {
		return plugin.Error(pluginName, err)
	}
	m := newMailuStats(cfg)
	c.OnStartup(func() error {
		initMetrics(serverLabels(dnsserver.GetConfig(c)))
		if err := m.start(); err != nil {
			return plugin.Error(pluginName, err)
		}
		return nil
	})
	c.OnShutdown(func() error { m.stop(); return nil })
	c.OnRestart(func() error { m.releaseAPI(); return nil })
	c.OnRestartFailed(m.retakeAPI)
	dnsserver.GetConfig(c).AddPlugin(func(next plugin.Handler) plugin.Handler {
		m.Next = next
		return m
	})
	return nil
}

// parse reads the mailustats block without side effects.
func parse(c *caddy.Controller) (config, error) {
	cfg := defaultConfig()
	var noSink error
	seen := map[string]bool{} // the options given
	for i := 0; c.Next(); i++ {
		if i > 0 {
			return cfg, plugin.ErrOnce
		}
		noSink = c.Err("no sink configured: add a line such as 'sink file data/mailustats.csv'")
		cfg.zones = plugin.OriginsFromArgsOrServerBlock(c.RemainingArgs(), c.ServerBlockKeys)
		for c.NextBlock() {
			option, args := c.Val(), c.RemainingArgs()
			key := option
			if option == "answer" && len(args) > 0 {
				key += " " + args[0] // answer a and answer aaaa are separate lines
			}
			if seen[key] && option != "sink" {
				return cfg, c.Errf("'%s' given twice", key)
			}
			seen[key] = true
			if err := parseOption(c, &cfg, option, args); err != nil {
				return cfg, err
			}
		}
	}
	if len(cfg.sinks) == 0 {
		return cfg, noSink
	}
	if err := checkNameServers(&cfg); err != nil {
		return cfg, c.Err(err.Error())
	}
	if cfg.api != "" && cfg.stats == nil {
		return cfg, c.Err("api reads the statistics from a sqlite or postgres sink; add one")
	}
	if seen["title"] && cfg.api == "" {
		return cfg, c.Err("title names the statistics page, which api serves; add api")
	}
	if !seen["title"] && len(cfg.zones) > 0 {
		cfg.title = strings.TrimSuffix(cfg.zones[0], ".")
	}
	return cfg, nil
}

func parseOption(c *caddy.Controller, cfg *config, option string, args []string) error {
	switch option {
	case "answer":
		return parseAnswer(c, cfg, args)
	case "ttl":
		ttl, err := parseUint(c, args, maxTTL)
		cfg.ttl = uint32(ttl)
		return err
	case "soa":
		return parseSOA(c, cfg, args)
	case "ns":
		return parseNS(c, cfg, args)
	case "sink":
		return parseSink(c, cfg, args)
	case "buffer":
		n, err := parseUint(c, args, maxBuffer)
		if err == nil && n == 0 {
			return c.Err("buffer must be at least 1")
		}
		cfg.buffer = int(n)
		return err
	case "flush":
		return parseFlush(c, cfg, args)
	case "api":
		return parseAPI(c, cfg, args)
	case "versions":
		return parseVersions(c, cfg, args)
	case "title":
		return parseTitle(c, cfg, args)
	case "hash_ids":
		if len(args) != 1 || args[0] == "" {
			return c.Err("hash_ids takes one non-empty SECRET; is the environment variable it names set?")
		}
		cfg.hashIDs = args[0]
		return nil
	}
	return c.Errf("unknown property '%s'", option)
}

// parseAnswer reads `answer nxdomain`, `answer a ADDRESS...` or `answer aaaa ADDRESS...`; the
// a and aaaa forms may both be given, on lines of their own.
func parseAnswer(c *caddy.Controller, cfg *config, args []string) error {
	if len(args) == 0 {
		return c.ArgErr()
	}
	kind, addrs := args[0], args[1:]
	switch {
	case kind == "nxdomain" && len(addrs) > 0:
		return c.ArgErr()
	case kind == "nxdomain" && len(cfg.a)+len(cfg.aaaa) > 0, kind != "nxdomain" && cfg.nxdomain:
		return c.Err("'answer nxdomain' excludes 'answer a' and 'answer aaaa'")
	case kind == "nxdomain":
		cfg.nxdomain = true
		return nil
	case kind != "a" && kind != "aaaa":
		return c.Errf("unknown answer '%s', want nxdomain, a or aaaa", kind)
	case len(addrs) == 0:
		return c.ArgErr()
	}
	ips := make([]net.IP, 0, len(addrs))
	for _, s := range addrs {
		ip := net.ParseIP(s)
		if ip == nil || (ip.To4() != nil) != (kind == "a") {
			return c.Errf("'%s' is not an %s address", s, map[string]string{"a": "IPv4", "aaaa": "IPv6"}[kind])
		}
		if kind == "a" {
			ip = ip.To4()
		}
		ips = append(ips, ip)
	}
	if kind == "a" {
		cfg.a = ips
	} else {
		cfg.aaaa = ips
	}
	return nil
}

func parseSOA(c *caddy.Controller, cfg *config, args []string) error {
	if len(args) != 2 {
		return c.ArgErr()
	}
	names, err := domainNames(c, args)
	if err != nil {
		return err
	}
	cfg.mname, cfg.rname = names[0], names[1]
	return nil
}

func parseSink(c *caddy.Controller, cfg *config, args []string) error {
	if len(args) == 0 {
		return c.ArgErr()
	}
	var opener sink.Opener
	var dialect report.Dialect
	var err error
	switch args[0] {
	case "file":
		opener, err = sink.ParseFile(args[1:])
	case "sqlite":
		opener, err = sqlite.Parse(args[1:])
		dialect = report.SQLite
	case "postgres":
		opener, err = postgres.Parse(args[1:])
		dialect = report.Postgres
	default:
		err = fmt.Errorf("unknown sink %q", args[0])
	}
	if err != nil {
		return c.Err(err.Error())
	}
	cfg.sinks = append(cfg.sinks, sinkLine{opener: opener, file: c.File(), line: c.Line()})
	if r, ok := opener.(sqlReader); ok && cfg.stats == nil {
		cfg.stats = &statsSource{reader: r, dialect: dialect}
	}
	return nil
}

// parseAPI reads `api ADDRESS`, a host and port to listen on such as 127.0.0.1:9154.
func parseAPI(c *caddy.Controller, cfg *config, args []string) error {
	if len(args) != 1 {
		return c.ArgErr()
	}
	_, port, err := net.SplitHostPort(args[0])
	if n, perr := strconv.ParseUint(port, 10, 16); err != nil || perr != nil || n == 0 {
		return c.Errf("api wants HOST:PORT such as 127.0.0.1:9154, got '%s'", args[0])
	}
	cfg.api = args[0]
	cfg.apiLine = fmt.Sprintf("%s:%d", c.File(), c.Line())
	return nil
}

// parseTitle reads `title TEXT`, what the statistics page names.
func parseTitle(c *caddy.Controller, cfg *config, args []string) error {
	if len(args) != 1 || strings.TrimSpace(args[0]) == "" {
		return c.Err(`title takes one non-empty TEXT; quote one with spaces, as in title "Example Mail"`)
	}
	cfg.title = args[0]
	return nil
}

func parseFlush(c *caddy.Controller, cfg *config, args []string) error {
	if len(args) != 1 {
		return c.ArgErr()
	}
	d, err := time.ParseDuration(args[0])
	if err != nil || d <= 0 {
		return c.Errf("flush wants a positive duration such as 1s, got '%s'", args[0])
	}
	cfg.flush = d
	return nil
}

// parseUint reads the one argument as a whole number no larger than limit.
func parseUint(c *caddy.Controller, args []string, limit uint64) (uint64, error) {
	if len(args) != 1 {
		return 0, c.ArgErr()
	}
	n, err := strconv.ParseUint(args[0], 10, 64)
	if err != nil || n > limit {
		return 0, c.Errf("'%s' is not a whole number from 0 to %d", args[0], limit)
	}
	return n, nil
}

// domainNames checks and fully qualifies names, in lower case.
func domainNames(c *caddy.Controller, names []string) ([]string, error) {
	out := make([]string, len(names))
	for i, n := range names {
		if _, ok := dns.IsDomainName(n); !ok {
			return nil, c.Errf("'%s' is not a domain name", n)
		}
		out[i] = plugin.Name(n).Normalize()
	}
	return out, nil
}

// serverLabels returns the values of the metrics' server label for this server block, as
// metrics.WithServer will see them.
func serverLabels(conf *dnsserver.Config) []string {
	var labels []string
	for _, h := range conf.ListenHosts {
		addr, err := net.ResolveTCPAddr("tcp", net.JoinHostPort(h, conf.Port))
		if err != nil {
			continue
		}
		labels = append(labels, fmt.Sprintf("%s://%s", conf.Transport, addr))
	}
	return labels
}
