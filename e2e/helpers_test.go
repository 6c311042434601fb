package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/miekg/dns"

	"github.com/mailustats/mailustats/plugin/freeport"
	"github.com/mailustats/mailustats/plugin/proctest"
)

// Bounds on every wait in this package.
const (
	startTimeout = 10 * time.Second // until a started server answers
	stopTimeout  = 10 * time.Second // from SIGTERM to exit
	queryTimeout = 2 * time.Second  // one DNS exchange
	probeTimeout = 250 * time.Millisecond
	probeEvery   = 50 * time.Millisecond
	startTries   = 5 // starts on a fresh port when the last one was taken meanwhile
)

// Placeholders: portVar in a server's configuration stands for its port, confVar in its
// arguments for its configuration file.
const (
	portVar = "{port}"
	confVar = "{conf}"
)

// freePort returns a loopback port free for both TCP and UDP at the time of the call.
func freePort(t *testing.T) int {
	t.Helper()
	port, err := freeport.Both()
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

// startServer writes conf, with portVar replaced by a free port, to a temporary file, runs bin
// with args (confVar replaced by that file's path) and waits until it answers probe over UDP and
// TCP. When the port was taken before the server bound it, it starts again on another.
func startServer(t *testing.T, name, bin, file, conf string, probe dns.Question, args ...string) *server {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, file)
	for try := 1; ; try++ {
		port := strconv.Itoa(freePort(t))
		writeFile(t, path, strings.ReplaceAll(conf, portVar, port))
		argv := make([]string, len(args))
		for i, a := range args {
			argv[i] = strings.ReplaceAll(a, confVar, path)
		}
		s := &server{Process: proctest.Start(t, name, exec.Command(bin, argv...)), addr: net.JoinHostPort("127.0.0.1", port)}
		err := s.waitAnswers(probe)
		if err == nil {
			return s
		}
		s.Kill()
		if try < startTries && strings.Contains(strings.ToLower(s.Out.String()), "address already in use") {
			t.Logf("%s: port %s was taken, trying another", name, port)
			continue
		}
		t.Fatalf("%s on %s: %v\nconfiguration %s:\n%s\noutput:\n%s", name, s.addr, err, path, readFile(t, path), s.Out)
	}
}

// waitAnswers polls with probe until the server replies to it over UDP and TCP.
func (s *server) waitAnswers(probe dns.Question) error {
	deadline := time.Now().Add(startTimeout)
	var lastErr error
	for _, netw := range []string{"udp", "tcp"} {
		for {
			if s.Exited() {
				return fmt.Errorf("exited with code %d before answering", s.Cmd.ProcessState.ExitCode())
			}
			q := newQuery(probe.Name, probe.Qtype, false)
			r, _, err := exchange(s.addr, netw, q, probeTimeout)
			if err == nil && r.Id == q.Id {
				break
			}
			lastErr = err
			if time.Now().After(deadline) {
				return fmt.Errorf("no %s answer to %s within %s: %v", netw, probe.Name, startTimeout, lastErr)
			}
			time.Sleep(probeEvery) // polling interval, not an assertion
		}
	}
	return nil
}

// startCoreDNS starts the binary under test on a free port with corefile, in which portVar
// stands for the port. CoreDNS binds with SO_REUSEPORT, so a port taken by a plain socket makes
// it exit (and startServer retries), while one shared with another SO_REUSEPORT listener would
// go unnoticed; freePort makes that unlikely but cannot rule it out.
func startCoreDNS(t *testing.T, corefile string) *server {
	t.Helper()
	probe := dns.Question{Name: "probe.invalid.", Qtype: dns.TypeA, Qclass: dns.ClassINET}
	return startServer(t, "coredns", coreDNSBin, "Corefile", corefile, probe, "-conf", confVar)
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
