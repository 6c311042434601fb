package mailustats

import (
	"database/sql"
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
	mname    string       // SOA primary name server; "" means the first name server, else ns.<zone>
	rname    string       // SOA mailbox; "" means hostmaster.<zone>
	ns       []nameServer // the apex's NS RRset; none means the SOA MNAME alone
	nsLine   int          // the line of the ns option, for errors about it
	versions []string     // patterns of the versions recorded; none records every valid version
	sinks    []sinkLine
	buffer   int
	flush    time.Duration
	api      string       // address of the statistics API; "" for none
	apiLine  string       // FILE:LINE of the api option, for errors at start-up
	hashIDs  string       // secret for hashing instance IDs; "" stores them as they are
	title    string       // what the statistics page names; by default the first zone, without its dot
	stats    *statsSource // the first SQL sink, which statistics are read from; nil for none
}

// statsSource is a SQL sink that the statistics are read from, and the SQL it speaks.
type statsSource struct {
	reader  sqlReader
	dialect report.Dialect
}

// sqlReader is a sink whose database can be read: the SQL sinks.
type sqlReader interface {
	OpenReader() (*sql.DB, error)
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
