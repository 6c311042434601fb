package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/miekg/dns"

	"github.com/mailustats/mailustats/plugin/sink"
	"github.com/mailustats/mailustats/plugin/sink/sqlite"
)

// The statistics API, the active-instance gauges and hash_ids through the built binary, across
// ten reloads: the API answers after each, the counts stay exact, the sink holds only hashed IDs
// and no instance ID appears in any answer, metric or record.
func TestAPIAcrossReloads(t *testing.T) {
	dir := t.TempDir()
	csv := filepath.Join(dir, "s.csv")
	apiAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	srv := startMonitored(t, fmt.Sprintf(`stats.mailu.io:{port} {
    bind 127.0.0.1
    prometheus 127.0.0.1:{mport}
    ready 127.0.0.1:{rport}
    mailustats {
        ns ns1.stats.mailu.io 127.0.0.1
        sink sqlite %s
        sink file %s
        api %s
        hash_ids s3cret
        flush 50ms
    }
}
`, filepath.Join(dir, "stats.db"), csv, apiAddr))

	sent := map[string]int{} // instances by version
	var ids []string
	for i := range 30 {
		version := []string{"19", "19", "master"}[i%3]
		qname, ann := valid(version, mixCase)()
		r, _, err := exchange(srv.addr, "udp", newQuery(qname, dns.TypeA, false), 2*time.Second)
		if err != nil || r.Rcode != dns.RcodeNameError {
			t.Fatalf("%s: expected NXDOMAIN, got %v, %v", qname, r, err)
		}
		sent[version]++
		ids = append(ids, ann.instance)
	}
	wantSummary := func() (bool, string) {
		body, status := get(t, "http://"+apiAddr+"/api/v1/summary?days=1")
		if status != http.StatusOK {
			return false, fmt.Sprintf("status %d: %s", status, body)
		}
		var s summaryJSON
		if err := json.Unmarshal([]byte(body), &s); err != nil {
			return false, err.Error()
		}
		if s.Instances != 30 || len(s.Versions) != 2 || s.Versions[0].Instances != sent["19"] || s.Versions[1].Instances != sent["master"] {
			return false, body
		}
		return true, ""
	}
	eventually(t, sinkTimeout, "the summary to count every instance", wantSummary)

	for reload := 1; reload <= 10; reload++ {
		if err := srv.Cmd.Process.Signal(syscall.SIGUSR1); err != nil {
			t.Fatal(err)
		}
		waitOutput(t, srv.Process, "Reloading complete", reload)
		if ok, why := wantSummary(); !ok {
			t.Fatalf("after reload %d: expected the summary of 30 instances, got %s", reload, why)
		}
	}

	// The new instance read the gauges when it started.
	metrics := srv.scrape(t)
	for version, n := range sent {
		if got := metrics.must(t, "coredns_mailustats_active_instances", "version", version, "window", "1d"); got != float64(n) {
			t.Errorf("active_instances{version=%q,window=\"1d\"}: expected %d, got %v", version, n, got)
		}
	}
	page, status := get(t, "http://"+apiAddr+"/")
	if status != http.StatusOK || !strings.Contains(page, "<title>") {
		t.Errorf("GET /: expected the page, got %d", status)
	}
	srv.Stop(t)

	hashed := map[string]bool{}
	for _, id := range ids {
		mac := hmac.New(sha256.New, []byte("s3cret"))
		mac.Write([]byte(id))
		hashed[hex.EncodeToString(mac.Sum(nil))[:32]] = true
	}
	lines := readFile(t, csv)
	for _, line := range strings.Split(strings.TrimSpace(lines), "\n") {
		if f := strings.Split(line, ","); len(f) != 3 || !hashed[f[1]] {
			t.Errorf("%s: expected version,hashed-id,time with a hash of a sent ID, got %q", csv, line)
		}
	}
	everything := lines + page + fmt.Sprint(metrics)
	for _, id := range ids {
		if strings.Contains(everything, id) {
			t.Errorf("instance %s appears in a sink, a metric or the API", id)
		}
	}
}

// get returns the body and status of a GET, or an empty body and status 0 when it fails.
func get(t *testing.T, url string) (string, int) {
	t.Helper()
	c := &http.Client{Timeout: httpTimeout}
	resp, err := c.Get(url)
	if err != nil {
		return err.Error(), 0
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err.Error(), 0
	}
	return string(b), resp.StatusCode
}

// TestSummaryMinDays serves a database with instances seen on one, two and three days: min_days
// counts only those seen on that many days or more, over their whole history.
func TestSummaryMinDays(t *testing.T) {
	db := filepath.Join(t.TempDir(), "s.db")
	now := time.Now().UTC()
	var records []sink.Record
	for i, days := range []int{1, 1, 2, 3, 3, 3} { // each instance's days, the last one today
		id := uuid.NewString()
		for d := range days {
			records = append(records, sink.Record{Time: now.AddDate(0, 0, -10*d), Version: fmt.Sprint(18 + i%2), Instance: id})
		}
	}
	o, err := sqlite.Parse([]string{db})
	if err != nil {
		t.Fatal(err)
	}
	s, err := o.Open()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(t.Context(), sink.Batch{ID: "history", Records: records}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	apiAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	srv := startCoreDNS(t, statsCorefile(false, "sink sqlite "+db, "api "+apiAddr))
	for _, tc := range []struct {
		query string
		want  int64
	}{{"", 6}, {"&min_days=1", 6}, {"&min_days=2", 4}, {"&min_days=3", 3}, {"&min_days=4", 0}} {
		body, status := get(t, "http://"+apiAddr+"/api/v1/summary?days=1"+tc.query)
		var sum struct {
			Instances int64 `json:"instances"`
		}
		if err := json.Unmarshal([]byte(body), &sum); status != http.StatusOK || err != nil || sum.Instances != tc.want {
			t.Errorf("summary?days=1%s: expected %d instances, got status %d, %s", tc.query, tc.want, status, body)
		}
	}
	srv.Stop(t)
}
