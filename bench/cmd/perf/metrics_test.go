//go:build linux

package main

import (
	"strings"
	"testing"

	"github.com/mailustats/mailustats/internal/testutil/promtext"
)

func TestCountersOf(t *testing.T) {
	text := `# HELP coredns_mailustats_dropped_total Counter of valid names not recorded because the queue was full.
# TYPE coredns_mailustats_dropped_total counter
coredns_mailustats_dropped_total{server="dns://127.0.0.1:15353"} 2
coredns_mailustats_queries_total{result="malformed",server="dns://127.0.0.1:15353"} 54002
coredns_mailustats_queries_total{result="recorded",server="dns://127.0.0.1:15353"} 54003
coredns_mailustats_queries_total{result="recorded",server="dns://127.0.0.1:15354"} 1e+06
coredns_mailustats_queue_length 17
coredns_mailustats_sink_dropped_total{sink="file:/tmp/a b.csv"} 5
coredns_dns_requests_total{server="dns://127.0.0.1:15353"} 1.2e+07
`
	m, err := promtext.Parse(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	got := countersOf(m)
	if want := (counters{Recorded: 1054003, Dropped: 2, SinkDropped: 5}); got != want {
		t.Errorf("expected %+v, got %+v", want, got)
	}
}
