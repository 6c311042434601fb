package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/miekg/dns"

	"github.com/mailustats/mailustats/internal/testutil/corednstest"
	"github.com/mailustats/mailustats/internal/testutil/proctest"
)

// Bounds on every wait in this package.
const (
	startTimeout = 10 * time.Second // for a reload, a configuration check or a failing start-up
	stopTimeout  = 10 * time.Second // from SIGTERM to exit
	queryTimeout = 2 * time.Second  // one DNS exchange
	probeEvery   = 50 * time.Millisecond
)

// portVar in a server's configuration stands for its DNS port.
const portVar = corednstest.PortVar

// freePort returns a loopback port free for both TCP and UDP at the time of the call.
func freePort(t *testing.T) int {
	t.Helper()
	port, err := proctest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// server is a started DNS server process and the address it answers on, UDP and TCP.
type server struct {
	*proctest.Process
	addr string
}

// startServer starts a DNS server as corednstest.Start does.
func startServer(t *testing.T, c corednstest.Config) *server {
	t.Helper()
	s := corednstest.Start(t, c)
	return &server{Process: s.Process, addr: s.Addr}
}

// statsCorefile is a Corefile serving the zone on 127.0.0.1 at portVar, with its name server and
// lines in the mailustats block; monitored adds the prometheus and ready plugins on
// metricsPortVar and readyPortVar.
func statsCorefile(monitored bool, lines ...string) string {
	var b strings.Builder
	b.WriteString("stats.mailu.io:" + portVar + " {\n    bind 127.0.0.1\n")
	if monitored {
		b.WriteString("    prometheus 127.0.0.1:" + metricsPortVar + "\n    ready 127.0.0.1:" + readyPortVar + "\n")
	}
	b.WriteString("    mailustats {\n        ns ns1.stats.mailu.io 127.0.0.1\n")
	for _, line := range lines {
		b.WriteString("        " + line + "\n")
	}
	b.WriteString("    }\n}\n")
	return b.String()
}

// startCoreDNS starts the binary under test on a free port with corefile, in which portVar
// stands for the port. CoreDNS binds with SO_REUSEPORT, so a port taken by a plain socket makes
// it exit (and corednstest retries), while one shared with another SO_REUSEPORT listener would
// go unnoticed; the harness's free ports make that unlikely but cannot rule it out.
func startCoreDNS(t *testing.T, corefile string) *server {
	t.Helper()
	return startServer(t, corednstest.Config{Bin: coreDNSBin, Conf: corednstest.Template(corefile)})
}

// startFails runs the binary under test on the Corefile at conf, which must make it exit at
// start-up with a non-zero code, and returns its output.
func startFails(t *testing.T, conf string) string {
	t.Helper()
	p := proctest.Start(t, "coredns", exec.Command(coreDNSBin, "-conf", conf))
	code, err := p.Wait(startTimeout)
	if err != nil {
		t.Fatalf("expected coredns to exit at start-up: %v", err)
	}
	if code == 0 {
		t.Errorf("expected a non-zero exit code, got 0")
	}
	return p.Out.String()
}

// Stop sends SIGTERM, waits for the exit and fails the test unless the exit is clean.
func (s *server) Stop(t *testing.T) string {
	t.Helper()
	out, code := s.Terminate(t, stopTimeout)
	if code != 0 {
		t.Errorf("%s exited with code %d after SIGTERM", s.Name, code)
	}
	return out
}

// newQuery returns a query for name with a random ID and RD set, with EDNS0 when edns is true.
func newQuery(name string, qtype uint16, edns bool) *dns.Msg {
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.RecursionDesired = true
	if edns {
		q.SetEdns0(1232, false)
	}
	return q
}

// exchange sends q over netw ("udp" or "tcp") and returns the reply and its wire form.
func exchange(addr, netw string, q *dns.Msg, timeout time.Duration) (*dns.Msg, []byte, error) {
	c := &dns.Client{Net: netw, Timeout: timeout}
	co, err := c.Dial(addr)
	if err != nil {
		return nil, nil, err
	}
	defer co.Close()
	co.UDPSize = dns.MaxMsgSize
	if err := co.SetDeadline(time.Now().Add(timeout)); err != nil {
		return nil, nil, err
	}
	if err := co.WriteMsg(q); err != nil {
		return nil, nil, err
	}
	raw, err := co.ReadMsgHeader(nil)
	if err != nil {
		return nil, nil, err
	}
	r := new(dns.Msg)
	if err := r.Unpack(raw); err != nil {
		return nil, raw, fmt.Errorf("unpack reply: %v", err)
	}
	return r, raw, nil
}

// questionWire returns the question section of q as it goes on the wire.
func questionWire(t *testing.T, q *dns.Msg) []byte {
	t.Helper()
	m := &dns.Msg{Question: q.Question}
	b, err := m.Pack()
	if err != nil {
		t.Fatalf("pack %v: %v", q.Question, err)
	}
	return b[headerLen:]
}

// headerLen is the size of a DNS message header.
const headerLen = 12

// mixCase returns s with its ASCII letters alternately in upper and lower case, starting with
// either, so names are never all one case.
func mixCase(s string) string {
	b := []byte(s)
	upper := rand.IntN(2) == 0
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z' && upper:
			b[i] = c - 'a' + 'A'
		case c >= 'A' && c <= 'Z' && !upper:
			b[i] = c - 'A' + 'a'
		case !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'):
			continue
		}
		upper = !upper
	}
	return string(b)
}

// announcement is what a valid name must leave in a sink.
type announcement struct {
	version  string
	instance string
}

// stored is one line of a sink file.
type stored struct {
	announcement
	unix int64
	line string
}

// summaryJSON is what the tests read of the API's /api/v1/summary.
type summaryJSON struct {
	Instances int `json:"instances"`
	Versions  []struct {
		Version   string `json:"version"`
		Instances int    `json:"instances"`
	} `json:"versions"`
}

// readCSV reads a csv sink: version,instance,unixseconds on each line.
func readCSV(t *testing.T, path string) []stored {
	t.Helper()
	var out []stored
	for _, line := range lines(t, path) {
		f := strings.Split(line, ",")
		if len(f) != 3 {
			t.Errorf("%s: %q: expected 3 comma-separated fields, got %d", path, line, len(f))
			continue
		}
		unix, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			t.Errorf("%s: %q: expected unix seconds, got %q", path, line, f[2])
		}
		out = append(out, stored{announcement{f[0], f[1]}, unix, line})
	}
	return out
}

// readJSONL reads a jsonl sink: {"time":RFC3339 UTC,"version":...,"instance":...} on each line.
func readJSONL(t *testing.T, path string) []stored {
	t.Helper()
	var out []stored
	for _, line := range lines(t, path) {
		var rec struct {
			Time     string `json:"time"`
			Version  string `json:"version"`
			Instance string `json:"instance"`
		}
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rec); err != nil {
			t.Errorf("%s: %q: %v", path, line, err)
			continue
		}
		ts, err := time.Parse(time.RFC3339, rec.Time)
		if err != nil || !strings.HasSuffix(rec.Time, "Z") {
			t.Errorf("%s: %q: expected an RFC 3339 time in UTC, got %q", path, line, rec.Time)
		}
		out = append(out, stored{announcement{rec.Version, rec.Instance}, ts.Unix(), line})
	}
	return out
}

// lines returns the lines of a file that must end in a newline.
func lines(t *testing.T, path string) []string {
	t.Helper()
	data := readFile(t, path)
	if len(data) > 0 && !strings.HasSuffix(data, "\n") {
		t.Errorf("%s: expected to end in a newline, got %q", path, data[max(0, len(data)-80):])
	}
	var out []string
	sc := bufio.NewScanner(strings.NewReader(data))
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkStored checks the sink holds each wanted announcement exactly once, in lower case,
// stamped within [from, to], and nothing else.
func checkStored(t *testing.T, got []stored, want []announcement, from, to time.Time) {
	t.Helper()
	left := map[announcement]int{}
	for _, a := range want {
		left[a]++
	}
	for _, s := range got {
		if s.version != strings.ToLower(s.version) || s.instance != strings.ToLower(s.instance) {
			t.Errorf("stored %q: expected lower case", s.line)
		}
		if id, err := uuid.Parse(s.instance); err != nil || id.Version() != 4 || id.String() != s.instance {
			t.Errorf("stored %q: expected a version 4 UUID in its 36-character form, got %q", s.line, s.instance)
		}
		if s.unix < from.Unix() || s.unix > to.Unix() {
			t.Errorf("stored %q: expected a time from %d to %d, got %d", s.line, from.Unix(), to.Unix(), s.unix)
		}
		if left[s.announcement] == 0 {
			t.Errorf("stored %q: expected no such line (not sent, or stored twice)", s.line)
			continue
		}
		left[s.announcement]--
	}
	var missing []string
	for a, n := range left {
		for range n {
			missing = append(missing, a.version+","+a.instance)
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Errorf("expected %d announcements stored, got %d; missing %d: %s", len(want), len(got), len(missing), strings.Join(missing, " "))
	}
}
