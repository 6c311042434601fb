package e2e

import (
	"context"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailustats/mailustats/internal/testutil/corednstest"
	"github.com/mailustats/mailustats/internal/testutil/proctest"
	"github.com/mailustats/mailustats/internal/testutil/promtext"
)

// Placeholders for the ports of the prometheus and ready plugins in a Corefile, beside portVar.
const (
	metricsPortVar = "{mport}"
	readyPortVar   = "{rport}"
)

// httpTimeout bounds one scrape or readiness check.
const httpTimeout = 2 * time.Second

// monitored is a CoreDNS server with the prometheus and ready plugins.
type monitored struct {
	*server
	metricsAddr string // host:port of /metrics
	readyAddr   string // host:port of /ready
}

// httpPorts replaces metricsPortVar and readyPortVar in corefile by two distinct free ports.
func httpPorts(t *testing.T, corefile string) (conf, metricsAddr, readyAddr string) {
	t.Helper()
	mport := freePort(t)
	rport := freePort(t)
	for rport == mport {
		rport = freePort(t)
	}
	conf = strings.NewReplacer(metricsPortVar, strconv.Itoa(mport), readyPortVar, strconv.Itoa(rport)).Replace(corefile)
	return conf, net.JoinHostPort("127.0.0.1", strconv.Itoa(mport)), net.JoinHostPort("127.0.0.1", strconv.Itoa(rport))
}

// startMonitored is startCoreDNS for a corefile that also holds metricsPortVar and readyPortVar.
func startMonitored(t *testing.T, corefile string) *monitored {
	t.Helper()
	conf, m, r := httpPorts(t, corefile)
	return &monitored{server: startCoreDNS(t, conf), metricsAddr: m, readyAddr: r}
}

// launchMonitored starts CoreDNS like startMonitored but returns at once, so that several
// servers start together; waitUp then waits until it answers.
func launchMonitored(t *testing.T, corefile string) *monitored {
	t.Helper()
	conf, m, r := httpPorts(t, corefile)
	port := strconv.Itoa(freePort(t))
	path := t.TempDir() + "/Corefile"
	writeFile(t, path, strings.ReplaceAll(conf, portVar, port))
	p := proctest.Start(t, "coredns", exec.Command(coreDNSBin, "-conf", path))
	return &monitored{server: &server{Process: p, addr: net.JoinHostPort("127.0.0.1", port)}, metricsAddr: m, readyAddr: r}
}

// waitUp waits until a launched server answers over UDP and TCP.
func (s *monitored) waitUp(t *testing.T) {
	t.Helper()
	if err := corednstest.WaitAnswers(s.Process, s.addr); err != nil {
		t.Fatalf("coredns on %s: %v", s.addr, err)
	}
}

// readyStatus returns the HTTP status of /ready, or 0 when it cannot be had.
func (s *monitored) readyStatus() int {
	c := &http.Client{Timeout: httpTimeout}
	resp, err := c.Get("http://" + s.readyAddr + "/ready")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// scrapeResult is one scrape of /metrics.
type scrapeResult struct{ promtext.Metrics }

// scrape reads /metrics in the Prometheus text format.
func (s *monitored) scrape(t *testing.T) scrapeResult {
	t.Helper()
	m, err := scrapeMetrics(s.metricsAddr)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func scrapeMetrics(addr string) (scrapeResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), httpTimeout)
	defer cancel()
	m, err := promtext.Scrape(ctx, addr)
	return scrapeResult{m}, err
}

// must is Sum for a series that has to be there.
func (m scrapeResult) must(t *testing.T, name string, match ...string) float64 {
	t.Helper()
	v, ok := m.Sum(name, match...)
	if !ok {
		t.Fatalf("expected a series %s%v in the scrape, got none; %s has %v", name, match, name, m.Metrics[name])
	}
	return v
}

// eventually calls cond every probeEvery until it returns true, and fails t with the last
// state cond described if within passes first.
func eventually(t *testing.T, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("expected %s within %s; last: %s", what, within, state)
		}
		time.Sleep(probeEvery) // polling interval, not an assertion
	}
}
