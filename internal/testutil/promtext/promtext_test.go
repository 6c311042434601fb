package promtext

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// sample is the text of a CoreDNS scrape, cut down, with a few of the format's corners.
const sample = `# HELP coredns_mailustats_dropped_total Counter of valid names not recorded because the queue was full.
# TYPE coredns_mailustats_dropped_total counter
coredns_mailustats_dropped_total{server="dns://127.0.0.1:15353"} 2
# HELP coredns_mailustats_queries_total Counter of queries by result.
# TYPE coredns_mailustats_queries_total counter
coredns_mailustats_queries_total{result="malformed",server="dns://127.0.0.1:15353"} 54002
coredns_mailustats_queries_total{result="recorded",server="dns://127.0.0.1:15353"} 54003
coredns_mailustats_queries_total{server="dns://127.0.0.1:15354",result="recorded"} 1e+06 1700000000000
# TYPE coredns_mailustats_queue_length gauge
coredns_mailustats_queue_length 17
coredns_mailustats_sink_dropped_total{sink="file:/tmp/a \"b\",c}\\d\ne.csv",} 5
# TYPE coredns_dns_request_duration_seconds histogram
coredns_dns_request_duration_seconds_bucket{le="0.001"} 3
coredns_dns_request_duration_seconds_bucket{le="+Inf"} 4
coredns_dns_request_duration_seconds_sum 0.01
coredns_dns_request_duration_seconds_count 4
`

func TestParse(t *testing.T) {
	m, err := Parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		match []string
		want  float64
		found bool
	}{
		{"coredns_mailustats_queries_total", []string{"result", "recorded"}, 1054003, true},
		{"coredns_mailustats_queries_total", []string{"server", "dns://127.0.0.1:15353", "result", "recorded"}, 54003, true},
		{"coredns_mailustats_queries_total", nil, 1108005, true},
		{"coredns_mailustats_queries_total", []string{"result", "refused"}, 0, false},
		{"coredns_mailustats_queries_total", []string{"zone", ""}, 1108005, true},
		{"coredns_mailustats_dropped_total", nil, 2, true},
		{"coredns_mailustats_queue_length", nil, 17, true},
		{"coredns_mailustats_sink_dropped_total", []string{"sink", "file:/tmp/a \"b\",c}\\d\ne.csv"}, 5, true},
		{"coredns_mailustats_sink_errors_total", nil, 0, false},
		{"coredns_dns_request_duration_seconds", nil, 0, false},
	} {
		if got, found := m.Sum(tc.name, tc.match...); got != tc.want || found != tc.found {
			t.Errorf("Sum(%s, %q): expected %v, %v, got %v, %v", tc.name, tc.match, tc.want, tc.found, got, found)
		}
	}
	if got := m.Select("coredns_mailustats_dropped_total"); len(got) != 1 || got[0].Labels["server"] != "dns://127.0.0.1:15353" {
		t.Errorf("Select(dropped_total): expected one series of server dns://127.0.0.1:15353, got %v", got)
	}
}

func TestParseErrors(t *testing.T) {
	for _, bad := range []string{
		"{x=\"1\"} 1\n",
		"a{x=\"1} 1\n",
		"a{x=1} 1\n",
		"a\n",
		"a 1 2 3\n",
		"a x\n",
		"# TYPE a counter\na 1\n# TYPE a gauge\n",
	} {
		if m, err := Parse(strings.NewReader(bad)); err == nil {
			t.Errorf("%q: expected an error, got %v", bad, m)
		}
	}
}

func TestSelectOddLabels(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("expected a panic for labels that are not pairs")
		}
	}()
	Metrics{}.Select("a", "x")
}

// TestScrape reads what client_golang serves.
func TestScrape(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x_total", Help: "X."}, []string{"path", "code"})
	reg.MustRegister(c)
	c.WithLabelValues("/a\n\"b\"\\", "200").Add(3)
	c.WithLabelValues("/c", "500").Inc()
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")

	m, err := Scrape(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := m.Sum("x_total", "code", "200", "path", "/a\n\"b\"\\"); got != 3 {
		t.Errorf("x_total{path=/a...,code=200}: expected 3, got %v", got)
	}
	if got, _ := m.Sum("x_total"); got != 4 {
		t.Errorf("x_total: expected 4, got %v", got)
	}
	if _, err := Scrape(context.Background(), addr+"/x"); err == nil {
		t.Error("expected an error for a status 404")
	}
}
