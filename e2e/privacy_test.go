package e2e

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Client source addresses of the privacy test: Linux routes all of 127/8 to lo.
const (
	privacyUDPSource = "127.0.0.77"
	privacyTCPSource = "127.0.0.78"
	privacyPerSocket = 5 // valid names sent on each socket
)

// The server never keeps where a query came from: after queries from two client addresses, no
// sink, metric, API answer or log line holds either address or the clients' ports, and the API
// holds no instance ID.
func TestPrivacy(t *testing.T) {
	dir := t.TempDir()
	csv, db := filepath.Join(dir, "s.csv"), filepath.Join(dir, "s.db")
	apiAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	srv := startMonitored(t, fmt.Sprintf(`stats.mailu.io:{port} {
    bind 127.0.0.1
    prometheus 127.0.0.1:{mport}
    mailustats {
        ns ns1.stats.mailu.io 127.0.0.1
        sink sqlite %s
        sink file %s
        api %s
        flush 100ms
    }
}
`, db, csv, apiAddr))

	var ids []string
	var ports []int
	for _, c := range []struct{ netw, source string }{
		{"udp", privacyUDPSource}, {"udp", privacyUDPSource},
		{"tcp", privacyTCPSource}, {"tcp", privacyTCPSource},
	} {
		port, sent := privacySend(t, srv.addr, c.netw, c.source)
		ports = append(ports, port)
		ids = append(ids, sent...)
	}
	t.Logf("sent %d valid names from %s (udp) and %s (tcp), source ports %v", len(ids), privacyUDPSource, privacyTCPSource, ports)

	docs := map[string]string{} // what the server shows, by where it showed it
	eventually(t, sinkTimeout, "the summary to count every instance", func() (bool, string) {
		body, status := get(t, "http://"+apiAddr+"/api/v1/summary?days=1")
		var s struct {
			Instances int `json:"instances"`
		}
		if status != http.StatusOK || json.Unmarshal([]byte(body), &s) != nil || s.Instances != len(ids) {
			return false, fmt.Sprintf("%d %s", status, body)
		}
		return true, ""
	})
	for _, path := range []string{"/api/v1/summary", "/api/v1/summary?days=1", "/api/v1/daily?days=1", "/api/v1/new?days=1", "/api/v1/upgrades?days=1", "/api/v1/daily", "/"} {
		body, status := get(t, "http://"+apiAddr+path)
		if status != http.StatusOK {
			t.Errorf("GET %s: expected 200, got %d: %s", path, status, body)
		}
		docs["GET "+path] = body
	}
	metrics, status := get(t, "http://"+srv.metricsAddr+"/metrics")
	if status != http.StatusOK {
		t.Fatalf("GET /metrics: expected 200, got %d", status)
	}
	if !strings.Contains(metrics, "coredns_mailustats_queries_total{") {
		t.Errorf("GET /metrics: expected the mailustats counters, got:\n%s", metrics)
	}
	docs["/metrics"] = metrics
	docs["log"] = srv.Stop(t)
	for _, id := range ids {
		for what, doc := range docs {
			if strings.Contains(strings.ToLower(doc), id) {
				t.Errorf("%s: expected no instance ID, got %s", what, id)
			}
		}
	}

	docs["csv"] = readFile(t, csv)
	if got := len(readCSV(t, csv)); got != len(ids) {
		t.Errorf("%s: expected %d records, got %d", csv, len(ids), got)
	}
	for table, rows := range privacyTables(t, db) {
		docs["table "+table] = rows
	}
	files, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs["file "+filepath.Base(f)] = string(b)
		for _, ip := range []string{privacyUDPSource, privacyTCPSource} {
			if strings.Contains(string(b), string(net.ParseIP(ip).To4())) {
				t.Errorf("%s: expected no client address, got %s in binary form", f, ip)
			}
		}
	}

	server := map[string]bool{}
	for _, a := range []string{srv.addr, srv.metricsAddr, apiAddr} {
		_, p, _ := net.SplitHostPort(a)
		server[p] = true
	}
	patterns := []*regexp.Regexp{regexp.MustCompile(regexp.QuoteMeta(privacyUDPSource)), regexp.MustCompile(regexp.QuoteMeta(privacyTCPSource))}
	for _, p := range ports {
		if server[strconv.Itoa(p)] { // the same number on another address: cannot tell apart
			t.Logf("source port %d is also a server port; not looked for", p)
			continue
		}
		patterns = append(patterns, regexp.MustCompile(fmt.Sprintf(`[:\]]%d(\D|$)`, p)))
	}
	for what, doc := range docs {
		for _, re := range patterns {
			if loc := re.FindStringIndex(doc); loc != nil {
				t.Errorf("%s: expected no client address, got %q in %q", what, re, doc[max(0, loc[0]-60):min(len(doc), loc[1]+60)])
			}
		}
	}
	t.Logf("looked for %d patterns in %d documents, %d octets", len(patterns), len(docs), privacyLen(docs))
}

// privacySend sends privacyPerSocket valid names, a one-label name and a malformed one over one
// socket from source, and returns the socket's port and the instances sent.
func privacySend(t *testing.T, addr, netw, source string) (int, []string) {
	t.Helper()
	d := net.Dialer{Timeout: queryTimeout}
	if netw == "udp" {
		d.LocalAddr = &net.UDPAddr{IP: net.ParseIP(source)}
	} else {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(source)}
	}
	c, err := d.Dial(netw, addr)
	if err != nil {
		t.Fatalf("dial %s %s from %s: %v", netw, addr, source, err)
	}
	co := &dns.Conn{Conn: c}
	defer co.Close()
	local := c.LocalAddr().String()
	host, port, _ := net.SplitHostPort(local)
	if host != source {
		t.Fatalf("expected to send from %s, got %s", source, local)
	}
	var ids []string
	names := []nameFunc{named("{id}.{zone}"), named("a.b.{id}.{zone}")}
	for range privacyPerSocket {
		names = append(names, valid("19", mixCase))
	}
	for _, next := range names {
		qname, ann := next()
		q := newQuery(qname, dns.TypeA, true)
		if err := co.SetDeadline(time.Now().Add(queryTimeout)); err != nil {
			t.Fatal(err)
		}
		if err := co.WriteMsg(q); err != nil {
			t.Fatalf("%s from %s: %v", netw, local, err)
		}
		r, err := co.ReadMsg()
		if err != nil || r.Id != q.Id {
			t.Fatalf("%s from %s: %s: expected an answer with ID %d, got %v, %v", netw, local, qname, q.Id, r, err)
		}
		if ann != nil {
			ids = append(ids, ann.instance)
		}
	}
	p, _ := strconv.Atoi(port)
	return p, ids
}

// privacyTables returns every row of every table of the SQLite database, as text, by table.
func privacyTables(t *testing.T, path string) map[string]string {
	t.Helper()
	conn, err := sql.Open("sqlite", "file:"+path+"?_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var tables []string
	rows, err := conn.Query("SELECT name FROM sqlite_master WHERE type = 'table'")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if len(tables) == 0 {
		t.Fatalf("%s: expected tables, got none", path)
	}
	out := map[string]string{}
	for _, table := range tables {
		out[table] = privacyDump(t, conn, table)
	}
	return out
}

// privacyDump returns the column names and every row of table as text.
func privacyDump(t *testing.T, conn *sql.DB, table string) string {
	t.Helper()
	rows, err := conn.Query(`SELECT * FROM "` + strings.ReplaceAll(table, `"`, `""`) + `"`)
	if err != nil {
		t.Fatalf("table %s: %v", table, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString(strings.Join(cols, ",") + "\n")
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for i, v := range vals {
			if i > 0 {
				b.WriteByte(',')
			}
			if raw, ok := v.([]byte); ok {
				v = string(raw)
			}
			fmt.Fprint(&b, v)
		}
		b.WriteByte('\n')
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func privacyLen(docs map[string]string) int {
	n := 0
	for _, d := range docs {
		n += len(d)
	}
	return n
}
