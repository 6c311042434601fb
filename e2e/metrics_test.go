package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailustats/mailustats/plugin/proctest"
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
	probe := dns.Question{Name: "probe.invalid.", Qtype: dns.TypeA, Qclass: dns.ClassINET}
	if err := s.waitAnswers(probe); err != nil {
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

// sample is one series of a scrape: its labels and value.
type sample struct {
	labels map[string]string
	value  float64
}

// scrapeResult holds every sample of one scrape, by metric name.
type scrapeResult map[string][]sample

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
	c := &http.Client{Timeout: httpTimeout}
	resp, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s/metrics: %s", addr, resp.Status)
	}
	out := scrapeResult{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, smp, err := parseSample(line)
		if err != nil {
			return nil, fmt.Errorf("%s/metrics: %q: %v", addr, line, err)
		}
		out[name] = append(out[name], smp)
	}
	return out, sc.Err()
}

// parseSample parses `name{label="value",...} value [timestamp]`.
func parseSample(line string) (string, sample, error) {
	smp := sample{labels: map[string]string{}}
	end := strings.IndexAny(line, "{ ")
	if end <= 0 {
		return "", smp, fmt.Errorf("no metric name")
	}
	name, rest := line[:end], line[end:]
	if rest[0] == '{' {
		var err error
		if rest, err = parseLabels(rest[1:], smp.labels); err != nil {
			return "", smp, err
		}
	}
	fields := strings.Fields(rest)
	if len(fields) < 1 || len(fields) > 2 {
		return "", smp, fmt.Errorf("expected a value and an optional timestamp, got %q", rest)
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return "", smp, err
	}
	smp.value = v
	return name, smp, nil
}

// parseLabels reads `label="value",...}` into labels and returns what follows the brace.
func parseLabels(s string, labels map[string]string) (string, error) {
	for {
		s = strings.TrimLeft(s, " ,")
		if strings.HasPrefix(s, "}") {
			return s[1:], nil
		}
		eq := strings.Index(s, "=\"")
		if eq <= 0 {
			return "", fmt.Errorf("expected label=\"value\" in %q", s)
		}
		key := s[:eq]
		s = s[eq+2:]
		var val strings.Builder
		for {
			if s == "" {
				return "", fmt.Errorf("unterminated value of label %s", key)
			}
			c := s[0]
			s = s[1:]
			if c == '"' {
				break
			}
			if c == '\\' && s != "" {
				switch s[0] {
				case 'n':
					c = '\n'
				default:
					c = s[0]
				}
				s = s[1:]
			}
			val.WriteByte(c)
		}
		labels[key] = val.String()
	}
}

// sum adds the values of the series of name that have every label in match (pairs of name and
// value); found is false when there is none.
func (m scrapeResult) sum(name string, match ...string) (total float64, found bool) {
	for _, smp := range m[name] {
		ok := true
		for i := 0; i+1 < len(match); i += 2 {
			if smp.labels[match[i]] != match[i+1] {
				ok = false
				break
			}
		}
		if ok {
			total += smp.value
			found = true
		}
	}
	return total, found
}

// must is sum for a series that has to be there.
func (m scrapeResult) must(t *testing.T, name string, match ...string) float64 {
	t.Helper()
	v, ok := m.sum(name, match...)
	if !ok {
		t.Fatalf("expected a series %s%v in the scrape, got none; %s has %v", name, match, name, m[name])
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

func TestParseSample(t *testing.T) {
	for _, tc := range []struct {
		line   string
		name   string
		labels map[string]string
		value  float64
	}{
		{`up 1`, "up", map[string]string{}, 1},
		{`a_total{sink="postgres:127.0.0.1:5432/db"} 3 1700000000000`, "a_total", map[string]string{"sink": "postgres:127.0.0.1:5432/db"}, 3},
		{`b{x="1",y="q\"u,o}te"} 2.5e+06`, "b", map[string]string{"x": "1", "y": `q"u,o}te`}, 2.5e6},
		{`c{x="1",} 0`, "c", map[string]string{"x": "1"}, 0},
	} {
		name, smp, err := parseSample(tc.line)
		if err != nil || name != tc.name || smp.value != tc.value || fmt.Sprint(smp.labels) != fmt.Sprint(tc.labels) {
			t.Errorf("%s: expected %s %v %v, got %s %v %v, %v", tc.line, tc.name, tc.labels, tc.value, name, smp.labels, smp.value, err)
		}
	}
	for _, bad := range []string{`{x="1"} 1`, `a{x="1} 1`, `a{x=1} 1`, `a`, `a 1 2 3`, `a x`} {
		if _, _, err := parseSample(bad); err == nil {
			t.Errorf("%s: expected an error, got none", bad)
		}
	}
}
