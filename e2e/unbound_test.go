package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailustats/mailustats/internal/testutil/corednstest"
)

// resolveTimeout bounds one query through unbound, which may itself retry upstream.
const resolveTimeout = 5 * time.Second

// capsFallback is what unbound logs at verbosity 2 when a reply's question does not echo the
// random letter case it sent (use-caps-for-id).
const capsFallback = "Capsforid"

// unboundConf is a recursive resolver that knows only the stub zone; portVar is its own port.
const unboundConf = `server:
    interface: 127.0.0.1
    port: {port}
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "%[1]s"
    pidfile: ""
    use-syslog: no
    logfile: ""
    verbosity: 2
    qname-minimisation: yes
    use-caps-for-id: yes
    do-ip6: no
    access-control: 127.0.0.0/8 allow
    do-not-query-localhost: no
    module-config: "iterator"
    harden-referral-path: no
    target-fetch-policy: "0 0 0 0 0"
    domain-insecure: "stats.mailu.io"

stub-zone:
    name: "stats.mailu.io"
    stub-addr: %[2]s
`

// lookTool finds a program on PATH or in the sbin directories, or returns "".
func lookTool(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/sbin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// startUnbound starts unbound on a free port with the stub zone pointing at upstream
// (host:port), after checking its configuration when unbound-checkconf is installed.
func startUnbound(t *testing.T, bin, upstream string) *server {
	t.Helper()
	host, port, err := net.SplitHostPort(upstream)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	conf := fmt.Sprintf(unboundConf, dir, host+"@"+port)
	if check := lookTool("unbound-checkconf"); check != "" {
		path := filepath.Join(dir, "check.conf")
		writeFile(t, path, strings.ReplaceAll(conf, portVar, "53"))
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		defer cancel()
		if out, err := exec.CommandContext(ctx, check, path).CombinedOutput(); err != nil {
			t.Fatalf("unbound-checkconf %s: %v\n%s\nconfiguration:\n%s", path, err, out, conf)
		}
	}
	return startServer(t, corednstest.Config{Bin: bin, Args: []string{"-d", "-c", corednstest.ConfVar},
		File: "unbound.conf", Conf: corednstest.Template(conf)})
}

func TestUnboundResolver(t *testing.T) {
	bin := lookTool("unbound")
	if bin == "" {
		t.Skip("unbound not installed")
	}
	sink := filepath.Join(t.TempDir(), "s.csv")
	from := time.Now()
	coredns := startCoreDNS(t, fmt.Sprintf(`stats.mailu.io:{port} {
    bind 127.0.0.1
    mailustats {
        ns ns1.stats.mailu.io 127.0.0.1
        sink file %s csv
        ttl 60
    }
}
`, sink))
	unbound := startUnbound(t, bin, coredns.addr)

	// The question unbound minimises to first: one label below the zone must not be NXDOMAIN.
	oneLabel, _ := named("{id}.{zone}")()
	r := resolve(t, unbound.addr, oneLabel)
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 {
		t.Errorf("%s A through unbound: expected NOERROR with no answer, got %s with %v", oneLabel, dns.RcodeToString[r.Rcode], r.Answer)
	}

	name, ann := valid("MaStEr", mixCase)()
	r = resolve(t, unbound.addr, name)
	if r.Rcode != dns.RcodeNameError || len(r.Answer) != 0 {
		t.Errorf("%s A through unbound: expected NXDOMAIN with no answer, got %s with %v", name, dns.RcodeToString[r.Rcode], r.Answer)
	}

	// unbound retries a reply that does not echo its 0x20 case, logging capsFallback; coredns then
	// sees the name more than once. Both would show here; the control below shows they can.
	unboundOut := unbound.Stop(t)
	if strings.Contains(unboundOut, capsFallback) {
		t.Errorf("unbound fell back from 0x20 (%s in its log): the question was not echoed in the case it was sent", capsFallback)
	}
	checkLog(t, coredns.Stop(t))
	checkStored(t, readCSV(t, sink), []announcement{*ann}, from, time.Now())

	t.Run("control: a server that lower-cases the question is caught", func(t *testing.T) {
		fake := startLowerCasing(t)
		unbound := startUnbound(t, bin, fake.addr)
		name, _ := valid("MaStEr", mixCase)()
		resolve(t, unbound.addr, name)
		out := unbound.Stop(t)
		if !strings.Contains(out, capsFallback) {
			t.Errorf("expected unbound to log %q for a reply that does not echo the case; the check above would prove nothing", capsFallback)
		}
		if n := fake.count(name); n < 2 {
			t.Errorf("expected unbound to ask the lower-casing server %s more than once, got %d", name, n)
		}
	})
}

// resolve asks the resolver at addr for name A with RD set and checks that the reply echoes
// the question exactly.
func resolve(t *testing.T, addr, name string) *dns.Msg {
	t.Helper()
	q := newQuery(name, dns.TypeA, true)
	r, _, err := exchange(addr, "udp", q, resolveTimeout)
	if err != nil {
		t.Fatalf("%s A through unbound: %v", name, err)
	}
	if r.Id != q.Id || len(r.Question) != 1 || r.Question[0] != q.Question[0] {
		t.Errorf("%s A through unbound: expected ID %d and question %v echoed, got %d and %v", name, q.Id, q.Question, r.Id, r.Question)
	}
	return r
}

// lowerCasing is an authoritative server for the zone that answers NXDOMAIN with the question
// in lower case, as a server that does not preserve case would.
type lowerCasing struct {
	addr string
	mu   sync.Mutex
	seen map[string]int // query names in lower case
}

func startLowerCasing(t *testing.T) *lowerCasing {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &lowerCasing{addr: pc.LocalAddr().String(), seen: map[string]int{}}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(l.serveDNS)}
	go srv.ActivateAndServe()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		defer cancel()
		srv.ShutdownContext(ctx)
	})
	return l
}

func (l *lowerCasing) serveDNS(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	m.Rcode = dns.RcodeNameError
	if len(m.Question) == 1 {
		m.Question[0].Name = strings.ToLower(m.Question[0].Name)
		l.mu.Lock()
		l.seen[m.Question[0].Name]++
		l.mu.Unlock()
	}
	m.Ns = soa(60)(zone)
	w.WriteMsg(m)
}

func (l *lowerCasing) count(name string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seen[strings.ToLower(name)]
}
