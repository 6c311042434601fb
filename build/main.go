// Command coredns is CoreDNS with the plugins a Mailu statistics server needs, plus mailustats.
package main

import (
	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	// The CoreDNS plugins compiled in, in no particular order: the chain order is Directives.
	_ "github.com/coredns/coredns/plugin/acl"
	_ "github.com/coredns/coredns/plugin/any"
	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/bufsize"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/cancel"
	_ "github.com/coredns/coredns/plugin/chaos"
	_ "github.com/coredns/coredns/plugin/debug"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/metadata"
	_ "github.com/coredns/coredns/plugin/metrics"
	_ "github.com/coredns/coredns/plugin/minimal"
	_ "github.com/coredns/coredns/plugin/pprof"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
	_ "github.com/coredns/coredns/plugin/template"
	_ "github.com/coredns/coredns/plugin/timeouts"
	_ "github.com/coredns/coredns/plugin/whoami"

	"github.com/mailustats/mailustats"
)

func init() {
	directives, err := insertAfter(dnsserver.Directives, anchor, "mailustats")
	if err != nil {
		panic(err) // a CoreDNS without the anchor directive is a build mistake, caught by its test
	}
	dnsserver.Directives = directives

	// -version and coredns_build_info say which mailustats this is.
	version, revision := mailustats.BuildIdentity()
	caddy.AppVersion = coremain.CoreVersion + "+mailustats-" + version
	if coremain.GitCommit == "" {
		coremain.GitCommit = revision
	}
}

func main() { coremain.Run() }
