package corednstest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/miekg/dns"
)

// serveVar set in the environment makes the test binary a DNS server instead of running the
// tests.
const serveVar = "COREDNSTEST_SERVE"

func TestMain(m *testing.M) {
	if os.Getenv(serveVar) != "" {
		os.Exit(serve(os.Args[len(os.Args)-1]))
	}
	os.Exit(m.Run())
}

// serve answers every query with NXDOMAIN on the address in the first line of the file conf
// until SIGTERM. A second line "taken" makes the first start in a directory fail as a port
// taken would, "fail" every start.
func serve(conf string) int {
	b, err := os.ReadFile(conf)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	lines := strings.Split(string(b), "\n")
	switch lines[1] {
	case "fail":
		fmt.Println("bad configuration")
		return 1
	case "taken":
		if _, err := os.Stat("taken"); errors.Is(err, fs.ErrNotExist) {
			os.WriteFile("taken", nil, 0o644)
			fmt.Println("listen udp " + lines[0] + ": bind: address already in use")
			return 1
		}
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		w.WriteMsg(new(dns.Msg).SetRcode(r, dns.RcodeNameError))
	})
	for _, netw := range []string{"udp", "tcp"} {
		s := &dns.Server{Addr: lines[0], Net: netw, Handler: h}
		go func() { fmt.Println(s.ListenAndServe()) }()
	}
	<-term
	fmt.Println("terminated")
	return 0
}

// config runs serve with conf's lines after the address, and the extra port "metrics".
func config(dir, mode string) Config {
	return Config{Bin: os.Args[0], Dir: dir, Env: []string{serveVar + "=1"}, Ports: []string{"metrics"},
		Conf: Template("127.0.0.1:" + PortVar + "\n" + mode + "\n{metrics}\n")}
}

func TestStart(t *testing.T) {
	dir := t.TempDir()
	s := Start(t, config(dir, "taken"))
	port, metrics := s.Ports["port"], s.Ports["metrics"]
	if s.Addr != "127.0.0.1:"+strconv.Itoa(port) || metrics == 0 || metrics == port {
		t.Errorf("expected the DNS address on its port and a distinct metrics port, got %s and %v", s.Addr, s.Ports)
	}
	if _, err := os.Stat(filepath.Join(dir, "taken")); err != nil {
		t.Errorf("expected a second start after the port was taken: %v", err)
	}
	for _, netw := range []string{"udp", "tcp"} {
		r, _, err := (&dns.Client{Net: netw}).Exchange(new(dns.Msg).SetQuestion("x.", dns.TypeA), s.Addr)
		if err != nil || r.Rcode != dns.RcodeNameError {
			t.Errorf("%s: expected NXDOMAIN, got %v, %v", netw, r, err)
		}
	}
	if out, code := s.Terminate(t, startTimeout); code != 0 || !strings.HasSuffix(out, "terminated\n") {
		t.Errorf("expected exit code 0 after terminated, got %d, %q", code, out)
	}
}

func TestLaunchFails(t *testing.T) {
	dir := t.TempDir()
	_, err := Launch(config(dir, "fail"))
	if err == nil || !strings.Contains(err.Error(), "exited with code 1 before answering") || !strings.Contains(err.Error(), "bad configuration") {
		t.Errorf("expected the exit code and the output, got %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "Corefile")); err != nil {
		t.Errorf("expected the configuration in the directory: %v", err)
	}
}
