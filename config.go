package mailustats

import (
	"net"
	"time"

	"github.com/mailustats/mailustats/plugin/sink"
)

// config is a parsed mailustats block.
type config struct {
	zones    []string
	a        []net.IP // addresses answered for valid names; with neither a nor aaaa, NXDOMAIN
	aaaa     []net.IP
	nxdomain bool // answer nxdomain was given explicitly
	ttl      uint32
	mname    string // SOA primary name server; "" means ns.<zone>
	rname    string // SOA mailbox; "" means hostmaster.<zone>
	ns       []string
	sinks    []sinkLine
	buffer   int
	flush    time.Duration
}

// sinkLine is a sink and the Corefile line that configured it, for errors at start-up.
type sinkLine struct {
	opener sink.Opener
	file   string
	line   int
}

func defaultConfig() config {
	return config{ttl: 300, buffer: 65536, flush: time.Second}
}
