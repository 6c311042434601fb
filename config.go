package mailustats

import (
	"net"
	"time"

	"github.com/mailustats/mailustats/plugin/report"
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
	api      string       // address of the statistics API; "" for none
	apiLine  string       // FILE:LINE of the api option, for errors at start-up
	hashIDs  string       // secret for hashing instance IDs; "" stores them as they are
	report   reportOpener // the first SQL sink, which statistics are read from; nil for none
}

// reportOpener is a sink that statistics can be read from: the SQL sinks.
type reportOpener interface {
	OpenReport() (*report.Store, error)
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
