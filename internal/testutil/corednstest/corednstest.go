// Package corednstest runs the custom CoreDNS binary for tests and benchmarks: built once from
// ./build, started with a Corefile on free loopback ports, waited for until it answers DNS over
// UDP and TCP, and stopped with SIGTERM within a bound (see proctest.Process). Another DNS server
// that reads a configuration file, such as unbound, is run the same way.
package corednstest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailustats/mailustats/internal/testutil/proctest"
)

// Placeholders: PortVar in a configuration given to Template stands for the DNS port, ConfVar in
// Config.Args for the configuration file's path.
const (
	PortVar = "{" + dnsPort + "}"
	ConfVar = "{conf}"
)

// dnsPort is the name of the DNS port in Server.Ports.
const dnsPort = "port"

// probeName is asked for until a server answers: a special-use name (RFC 6761) that CoreDNS
// refuses outside its zones and unbound answers from a default local zone.
const probeName = "probe.invalid."

// Bounds on building, starting and probing.
const (
	buildTimeout = 10 * time.Minute
	startTimeout = 30 * time.Second // until a started server answers
	probeTimeout = 250 * time.Millisecond
	probeEvery   = 50 * time.Millisecond
	startTries   = 5 // starts on fresh ports when one was taken meanwhile
)

// errPortTaken says another listener bound a port between its choice and the server's start.
var errPortTaken = errors.New("port taken")

// Main builds the custom binary into a temporary directory with make build, as a release is
// built (so it carries the build identity), sets *bin to its path, runs the tests and removes the
// directory: a package's TestMain passes the result to os.Exit.
func Main(m *testing.M, bin *string) int {
	dir, err := os.MkdirTemp("", "mailustats-coredns-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	*bin = filepath.Join(dir, "coredns")
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	root, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		fmt.Fprintf(os.Stderr, "go env GOMOD: %v\n", err)
		return 1
	}
	cmd := exec.CommandContext(ctx, "make", "-s", "-C", filepath.Dir(strings.TrimSpace(string(root))), "build", "BIN="+*bin,
		"TOOL="+filepath.Join(dir, "mailustats")) // make build builds the offline tool too; not into the checkout
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
		return 1
	}
	return m.Run()
}

// Config is a server to start.
type Config struct {
	Bin  string   // the server's binary
	Args []string // its arguments, with ConfVar for the configuration file; default -conf ConfVar
	File string   // the configuration file's name in Dir; default "Corefile"
	Dir  string   // holds the configuration file, and the server runs in it; Start's default: t.TempDir()
	Env  []string // added to the server's environment

	// Conf returns the configuration for the ports chosen: ports["port"] for DNS and one for
	// each name in Ports.
	Conf  func(ports map[string]int) string
	Ports []string
}

// Template returns a Conf that replaces "{name}" in text by the port of each name, so PortVar
// by the DNS port.
func Template(text string) func(map[string]int) string {
	return func(ports map[string]int) string {
		var pairs []string
		for name, port := range ports {
			pairs = append(pairs, "{"+name+"}", strconv.Itoa(port))
		}
		return strings.NewReplacer(pairs...).Replace(text)
	}
}

// Server is a started DNS server.
type Server struct {
	*proctest.Process
	Addr  string         // 127.0.0.1:port, where it answers DNS over UDP and TCP
	Ports map[string]int // the ports Conf was given, "port" for DNS
}

// Launch writes the configuration into c.Dir on free loopback ports, starts the server and waits
// until it answers. When a port was taken before the server bound it (or the same port was
// chosen twice, which makes the second listener fail), it starts again on others.
func Launch(c Config) (*Server, error) {
	if c.Args == nil {
		c.Args = []string{"-conf", ConfVar}
	}
	if c.File == "" {
		c.File = "Corefile"
	}
	for try := 1; ; try++ {
		s, err := launch(c)
		if err == nil || try == startTries || !errors.Is(err, errPortTaken) {
			return s, err
		}
	}
}

// launch is one attempt of Launch.
func launch(c Config) (*Server, error) {
	ports := map[string]int{}
	for _, name := range append([]string{dnsPort}, c.Ports...) {
		port, err := proctest.FreePort()
		if err != nil {
			return nil, err
		}
		ports[name] = port
	}
	path := filepath.Join(c.Dir, c.File)
	conf := c.Conf(ports)
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	args := make([]string, len(c.Args))
	for i, a := range c.Args {
		args[i] = strings.ReplaceAll(a, ConfVar, path)
	}
	cmd := exec.Command(c.Bin, args...)
	cmd.Dir = c.Dir
	if c.Env != nil {
		cmd.Env = append(os.Environ(), c.Env...)
	}
	p, err := proctest.Launch(filepath.Base(c.Bin), cmd)
	if err != nil {
		return nil, err
	}
	s := &Server{Process: p, Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[dnsPort])), Ports: ports}
	if err := WaitAnswers(p, s.Addr); err != nil {
		p.Kill()
		if strings.Contains(strings.ToLower(p.Out.String()), "address already in use") {
			err = fmt.Errorf("%w: %v", errPortTaken, err)
		}
		return nil, fmt.Errorf("%s on %s: %w\nconfiguration %s:\n%s\noutput:\n%s", p.Name, s.Addr, err, path, conf, p.Out)
	}
	return s, nil
}

// Start is Launch for a test, in a temporary directory unless c.Dir is set: it fails t when the
// server does not answer, and kills it at the end of the test.
func Start(t testing.TB, c Config) *Server {
	t.Helper()
	if c.Dir == "" {
		c.Dir = t.TempDir()
	}
	s, err := Launch(c)
	if err != nil {
		t.Fatal(err)
	}
	s.KillAtEnd(t)
	return s
}

// WaitAnswers asks the server p runs on addr for probeName until it answers over UDP and then
// over TCP. It fails when p exits first or startTimeout passes.
func WaitAnswers(p *proctest.Process, addr string) error {
	deadline := time.Now().Add(startTimeout)
	q := new(dns.Msg)
	for _, netw := range []string{"udp", "tcp"} {
		c := &dns.Client{Net: netw, Timeout: probeTimeout}
		for {
			if p.Exited() {
				return fmt.Errorf("exited with code %d before answering", p.Cmd.ProcessState.ExitCode())
			}
			_, _, err := c.Exchange(q.SetQuestion(probeName, dns.TypeA), addr) // a new ID each time
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("no %s answer to %s within %s: %v", netw, probeName, startTimeout, err)
			}
			time.Sleep(probeEvery) // polling interval, not an assertion
		}
	}
	return nil
}
