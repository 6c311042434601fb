package e2e

import (
	"encoding/json"
	"fmt"
	"html"
	"maps"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/google/uuid"
	"github.com/miekg/dns"

	"github.com/mailustats/mailustats/internal/testutil/corednstest"
)

// project is one server block of TestProjects: a zone of its own, with its own database, API
// and page title, and the instances announced to it.
type project struct {
	zone      string         // the block's zone, fully qualified
	title     string         // the block's title option; "" for none, so the page names the zone
	instances map[string]int // instances announced, by version
}

// metricsPort names the prometheus plugin's port in projectsCorefile.
const metricsPort = "metrics"

// TestProjects serves two projects from one CoreDNS, a server block each with its own zone,
// SQLite database and api, and announces other instances and versions to each over UDP and
// TCP: each API counts only its own zone's instances, each page names its own project, and
// /metrics holds the active-instance gauges and new-instance counters of both zones side by
// side, neither overwriting the other.
func TestProjects(t *testing.T) {
	projects := []project{
		{zone: "stats.mailu.io.", instances: map[string]int{"19": 3, "2024-06": 2}},
		{zone: "stats.example.org.", title: "Example & Co", instances: map[string]int{"master": 4, "19": 1}},
	}
	dir := t.TempDir()
	s := corednstest.Start(t, corednstest.Config{Bin: coreDNSBin, Dir: dir, Conf: corednstest.Template(projectsCorefile(dir, projects)),
		Ports: append([]string{metricsPort}, apiPorts(projects)...)})
	srv := &monitored{server: &server{Process: s.Process, addr: s.Addr}, metricsAddr: loopback(s.Ports[metricsPort])}

	for _, p := range projects {
		p.announce(t, srv.addr)
	}
	for i, p := range projects {
		eventually(t, sinkTimeout, p.zone+"'s summary to count its instances", func() (bool, string) {
			return p.summaryCounts(t, loopback(s.Ports[apiPort(i)]))
		})
	}

	// The gauges read the database when the server starts, so the reload's new instances show
	// what was announced.
	if err := srv.Cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	waitOutput(t, srv.Process, "Reloading complete", 1)
	for i, p := range projects {
		api := loopback(s.Ports[apiPort(i)])
		if ok, state := p.summaryCounts(t, api); !ok {
			t.Errorf("%s after the reload: expected the summary of its instances %v, got %s", p.zone, p.instances, state)
		}
		p.checkDaily(t, api)
		p.checkPage(t, api, projects)
	}
	eventually(t, startTimeout, "the active_instances of both zones", func() (bool, string) {
		return gaugesOf(srv.scrape(t), projects)
	})
	metrics := srv.scrape(t)
	for _, p := range projects {
		if got := metrics.must(t, "coredns_mailustats_new_instances_total", "zone", p.zone); got != float64(p.total()) {
			t.Errorf("new_instances_total{zone=%q}: expected %d, got %v", p.zone, p.total(), got)
		}
	}
	srv.Stop(t)
}

// projectsCorefile is a server block on 127.0.0.1 at portVar for each project, each with its
// own SQLite database in dir and its own api, all with the prometheus plugin on one address.
func projectsCorefile(dir string, projects []project) string {
	var b strings.Builder
	for i, p := range projects {
		fmt.Fprintf(&b, `%s:%s {
    bind 127.0.0.1
    prometheus 127.0.0.1:{%s}
    mailustats {
        ns ns1.%s 127.0.0.1
        sink sqlite %s
        api 127.0.0.1:{%s}
        flush 50ms
`, p.zone, portVar, metricsPort, p.zone, filepath.Join(dir, fmt.Sprintf("project%d.db", i)), apiPort(i))
		if p.title != "" {
			fmt.Fprintf(&b, "        title %q\n", p.title)
		}
		b.WriteString("    }\n}\n")
	}
	return b.String()
}

// apiPort names the port of project i's api in projectsCorefile.
func apiPort(i int) string { return "api" + strconv.Itoa(i) }

// apiPorts names the api ports of every project.
func apiPorts(projects []project) []string {
	names := make([]string, len(projects))
	for i := range projects {
		names[i] = apiPort(i)
	}
	return names
}

// loopback is the address of port on 127.0.0.1.
func loopback(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// total is the number of instances announced to the project.
func (p project) total() int {
	n := 0
	for _, c := range p.instances {
		n += c
	}
	return n
}

// pageTitle is what the project's page must name: its title, else its zone without the dot.
func (p project) pageTitle() string {
	if p.title != "" {
		return p.title
	}
	return strings.TrimSuffix(p.zone, ".")
}

// announce sends each of the project's instances once, as a new UUID in mixed case, over UDP
// and TCP in turn, and expects the zone's authoritative NXDOMAIN.
func (p project) announce(t *testing.T, addr string) {
	t.Helper()
	sent := 0
	for version, n := range p.instances {
		for range n {
			name := mixCase(version + "." + uuid.NewString() + "." + p.zone)
			netw := []string{"udp", "tcp"}[sent%2]
			sent++
			r, _, err := exchange(addr, netw, newQuery(name, dns.TypeA, true), queryTimeout)
			if err != nil || r.Rcode != dns.RcodeNameError || !r.Authoritative || len(r.Ns) != 1 || !strings.EqualFold(r.Ns[0].Header().Name, p.zone) {
				t.Fatalf("%s over %s: expected an authoritative NXDOMAIN with the SOA of %s, got %v, %v", name, netw, p.zone, r, err)
			}
		}
	}
}

// apiJSON gets path from the API at addr and decodes its JSON into v; it returns false and
// what it got when that fails.
func apiJSON(t *testing.T, addr, path string, v any) (bool, string) {
	t.Helper()
	body, status := get(t, "http://"+addr+path)
	if status != http.StatusOK {
		return false, fmt.Sprintf("GET %s: status %d: %s", path, status, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		return false, fmt.Sprintf("GET %s: %v: %s", path, err, body)
	}
	return true, body
}

// summaryCounts reports whether today's summary at the project's API counts exactly its
// instances, by version, and what the summary said.
func (p project) summaryCounts(t *testing.T, api string) (bool, string) {
	t.Helper()
	var s summaryJSON
	ok, body := apiJSON(t, api, "/api/v1/summary?days=1", &s)
	if !ok {
		return false, body
	}
	got := map[string]int{}
	for _, v := range s.Versions {
		got[v.Version] = v.Instances
	}
	return s.Instances == p.total() && maps.Equal(got, p.instances), body
}

// checkDaily checks that today, the only day of daily?days=1, counts exactly the project's
// instances, by version.
func (p project) checkDaily(t *testing.T, api string) {
	t.Helper()
	var d struct {
		Days []struct {
			Instances int            `json:"instances"`
			Versions  map[string]int `json:"versions"`
		} `json:"days"`
	}
	ok, body := apiJSON(t, api, "/api/v1/daily?days=1", &d)
	if !ok || len(d.Days) != 1 || d.Days[0].Instances != p.total() || !maps.Equal(d.Days[0].Versions, p.instances) {
		t.Errorf("%s: expected one day of %d instances, %v, got %s", p.zone, p.total(), p.instances, body)
	}
}

// pageTitleElement finds the text of a page's <title>.
var pageTitleElement = regexp.MustCompile(`(?s)<title>(.*?)</title>`)

// checkPage checks that the project's page names its own title, and no other project's.
func (p project) checkPage(t *testing.T, api string, projects []project) {
	t.Helper()
	page, status := get(t, "http://"+api+"/")
	m := pageTitleElement.FindStringSubmatch(page)
	want := html.EscapeString(p.pageTitle())
	if status != http.StatusOK || m == nil || !strings.Contains(m[1], want) {
		t.Errorf("%s: GET /: expected status 200 and a <title> naming %q, got %d, %q", p.zone, want, status, m)
	}
	for _, other := range projects {
		if other.zone != p.zone && strings.Contains(page, html.EscapeString(other.pageTitle())) {
			t.Errorf("%s: GET /: expected no mention of the other project %q", p.zone, other.pageTitle())
		}
	}
}

// gaugesOf reports whether every project's zone has active_instances series, in the same
// windows for all, each window counting exactly the project's instances by version; and it
// describes the series it found.
func gaugesOf(m scrapeResult, projects []project) (bool, string) {
	byZone := map[string]map[string]map[string]int{} // zone -> window -> version -> instances
	for _, s := range m.Metrics["coredns_mailustats_active_instances"] {
		zone, window := s.Labels["zone"], s.Labels["window"]
		if byZone[zone] == nil {
			byZone[zone] = map[string]map[string]int{}
		}
		if byZone[zone][window] == nil {
			byZone[zone][window] = map[string]int{}
		}
		byZone[zone][window][s.Labels["version"]] = int(s.Value)
	}
	state := fmt.Sprint(byZone)
	if len(byZone) != len(projects) {
		return false, state
	}
	windows := slices.Sorted(maps.Keys(byZone[projects[0].zone]))
	for _, p := range projects {
		if got := slices.Sorted(maps.Keys(byZone[p.zone])); !slices.Equal(got, windows) || byZone[p.zone]["1d"] == nil {
			return false, state
		}
		for _, versions := range byZone[p.zone] {
			if !maps.Equal(versions, p.instances) {
				return false, state
			}
		}
	}
	return true, state
}
