package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/miekg/dns"

	"github.com/mailustats/mailustats/internal/testutil/pgtest"
	"github.com/mailustats/mailustats/plugin/sink/postgres"
)

// Bounds on the waits for the postgres sink.
const (
	sinkTimeout = 20 * time.Second // a sink recovers: retry backoff reaches 5 s
	settle      = 500 * time.Millisecond
	senders     = 4 // goroutines sending queries at once
)

// pgCorefile is a server with the prometheus and ready plugins (watched continuously, so /ready
// follows the sink both ways) and a postgres sink; extra goes into the mailustats block.
func pgCorefile(dsn, extra string) string {
	return fmt.Sprintf(`stats.mailu.io:{port} {
    bind 127.0.0.1
    prometheus 127.0.0.1:{mport}
    ready 127.0.0.1:{rport} {
        monitor continuously
    }
    mailustats {
        ns ns1.stats.mailu.io 127.0.0.1
        sink postgres %s
        flush 100ms
%s    }
}
`, dsn, extra)
}

// sinkLabel is the sink label of the metrics of a postgres sink on srv's database db.
func sinkLabel(srv *pgtest.Server, db string) string {
	return fmt.Sprintf("postgres:127.0.0.1:%d/%s", srv.Port, db)
}

// fresh returns n announcements of version, each with a new instance.
func fresh(n int, version string) []announcement {
	out := make([]announcement, n)
	for i := range out {
		out[i] = announcement{version, uuid.NewString()}
	}
	return out
}

// announce sends an A query for each announcement, in mixed case over UDP, from workers
// goroutines (1 keeps the order), and fails t unless each gets NXDOMAIN.
func announce(t *testing.T, addr string, anns []announcement, workers int) {
	t.Helper()
	if err := sendAll(addr, anns, workers); err != nil {
		t.Fatal(err)
	}
}

// sendAll is announce for any goroutine: it returns what went wrong.
func sendAll(addr string, anns []announcement, workers int) error {
	var (
		mu   sync.Mutex
		errs []string
		wg   sync.WaitGroup
	)
	next := make(chan announcement)
	for range workers {
		wg.Go(func() {
			for a := range next {
				qname := mixCase(a.version + "." + a.instance + "." + zone)
				q := newQuery(qname, dns.TypeA, false)
				r, _, err := exchange(addr, "udp", q, queryTimeout)
				if err == nil && (r.Rcode != dns.RcodeNameError || r.Id != q.Id) {
					err = fmt.Errorf("expected NXDOMAIN with ID %d, got %s with ID %d", q.Id, dns.RcodeToString[r.Rcode], r.Id)
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, qname+": "+err.Error())
					mu.Unlock()
				}
			}
		})
	}
	for _, a := range anns {
		next <- a
	}
	close(next)
	wg.Wait()
	if len(errs) > 0 {
		return fmt.Errorf("%d of %d queries to %s not answered NXDOMAIN, e.g.:\n%s", len(errs), len(anns), addr, strings.Join(errs[:min(5, len(errs))], "\n"))
	}
	return nil
}

// dailyRow is a row of the daily table.
type dailyRow struct {
	day               string
	version, instance string
	hits              int64
	first, last       time.Time
}

// pgContext bounds one query of the test's own.
func pgContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// readDaily returns the whole daily table.
func readDaily(t *testing.T, dsn string) []dailyRow {
	t.Helper()
	ctx := pgContext(t)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SELECT day::text, version, instance, hits, first_seen, last_seen FROM daily")
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (dailyRow, error) {
		var d dailyRow
		err := r.Scan(&d.day, &d.version, &d.instance, &d.hits, &d.first, &d.last)
		return d, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkRowTimes checks that a row's day and times lie within [from, to] and agree.
func checkRowTimes(t *testing.T, d dailyRow, from, to time.Time) {
	t.Helper()
	if d.first.Before(from.Truncate(time.Second)) || d.last.After(to) || d.first.After(d.last) {
		t.Errorf("daily %s %s: expected %s <= first_seen %s <= last_seen %s <= %s", d.version, d.instance,
			from.Format(time.RFC3339Nano), d.first.Format(time.RFC3339Nano), d.last.Format(time.RFC3339Nano), to.Format(time.RFC3339Nano))
	}
	if day := d.first.UTC().Format(time.DateOnly); d.day != day {
		t.Errorf("daily %s %s: expected day %s, the UTC day of first_seen, got %s", d.version, d.instance, day, d.day)
	}
}

// waitReady waits until /ready answers 200 (want true) or anything else (want false).
func waitReady(t *testing.T, s *monitored, want bool, within time.Duration) {
	t.Helper()
	what := map[bool]string{true: "/ready 200", false: "/ready not 200"}[want]
	eventually(t, within, what, func() (bool, string) {
		code := s.readyStatus()
		return (code == http.StatusOK) == want, fmt.Sprintf("status %d", code)
	})
}

// The database is killed (as in a crash) while records flow, and restarted: every query is
// answered meanwhile, the sink's backlog keeps what fits and counts the rest as dropped, and
// once the database is back each record that was kept is stored exactly once, retries
// notwithstanding.
// waitSettled waits until the server is ready, its queue empty and the count of daily rows in
// the database at dsn unchanged for a while.
func waitSettled(t *testing.T, srv *monitored, dsn string) {
	t.Helper()
	last, same := -1, 0
	eventually(t, sinkTimeout, "the sink to settle: ready, empty queue, daily count unchanged", func() (bool, string) {
		code := srv.readyStatus()
		m, err := scrapeMetrics(srv.metricsAddr)
		if err != nil {
			return false, err.Error()
		}
		queue, _ := m.Sum("coredns_mailustats_queue_length")
		n, err := pgtest.QueryInt(dsn, "SELECT count(*) FROM daily")
		if err != nil {
			return false, err.Error()
		}
		if n == last {
			same++
		} else {
			last, same = n, 0
		}
		state := fmt.Sprintf("ready %d, queue %v, %d rows, unchanged %d times", code, queue, n, same)
		return code == http.StatusOK && queue == 0 && time.Duration(same)*probeEvery >= settle, state
	})
}

func TestPostgresFault(t *testing.T) {
	pg := pgtest.Start(t)
	dsn := pg.CreateDatabase(t, "fault")
	label := sinkLabel(pg, "fault")
	t.Setenv("MAILUSTATS_DSN", dsn) // the DSN comes from the environment, as the README advises
	srv := startMonitored(t, pgCorefile("{$MAILUSTATS_DSN}", "        buffer 2000\n"))
	from := time.Now()

	before, down, after := fresh(1500, "19"), fresh(3000, "2024-06"), fresh(500, "master")
	waitReady(t, srv, true, sinkTimeout) // connected and migrated
	announce(t, srv.addr, before, senders)

	// Not waiting for the 1500 to be written: a write in flight may be cut off by the kill
	// after its commit, and its retry must not count it again. They cannot be dropped: the
	// backlog (2000) keeps the oldest records and drops what arrives when it is full.
	pg.Kill(t)
	announce(t, srv.addr, down, senders)
	waitReady(t, srv, false, sinkTimeout)

	pg.Restart(t)
	waitReady(t, srv, true, sinkTimeout)
	// The backlog is written before the rest is sent, so that none of it can be dropped for
	// room: readiness comes with the first batch that succeeds.
	waitSettled(t, srv, dsn)
	announce(t, srv.addr, after, senders)
	waitSettled(t, srv, dsn)

	m := srv.scrape(t)
	recorded := int(m.must(t, "coredns_mailustats_queries_total", "result", "recorded"))
	queueDropped := int(m.must(t, "coredns_mailustats_dropped_total"))
	sinkDropped := int(m.must(t, "coredns_mailustats_sink_dropped_total", "sink", label))
	sinkErrors := m.must(t, "coredns_mailustats_sink_errors_total", "sink", label)
	t.Logf("recorded %d, queue dropped %d, sink dropped %d, sink errors %v", recorded, queueDropped, sinkDropped, sinkErrors)
	srv.Stop(t)
	to := time.Now()

	sent := len(before) + len(down) + len(after)
	if recorded+queueDropped != sent {
		t.Errorf("expected recorded %d + dropped %d = %d queries sent", recorded, queueDropped, sent)
	}
	if sinkErrors == 0 {
		t.Error("expected sink errors while the database was down, got 0")
	}
	// The backlog holds 2000, so of the 3000 sent while down at least 1000 did not fit; and
	// none that arrived before the kill or after the recovery was dropped.
	if sinkDropped < len(down)-2000-queueDropped || sinkDropped > len(down) {
		t.Errorf("expected %d to %d records dropped by the sink, got %d", len(down)-2000-queueDropped, len(down), sinkDropped)
	}

	rows := readDaily(t, dsn)
	if len(rows) != recorded-sinkDropped {
		t.Errorf("expected recorded %d - sink dropped %d = %d daily rows, got %d", recorded, sinkDropped, recorded-sinkDropped, len(rows))
	}
	phase := map[announcement]string{}
	for name, anns := range map[string][]announcement{"before": before, "down": down, "after": after} {
		for _, a := range anns {
			phase[a] = name
		}
	}
	stored := map[string]int{}
	seen := map[announcement]bool{}
	for _, d := range rows {
		a := announcement{d.version, d.instance}
		p, ok := phase[a]
		if !ok {
			t.Errorf("daily %s %s: expected only announcements that were sent", d.version, d.instance)
			continue
		}
		if d.hits != 1 {
			t.Errorf("daily %s %s (%s): expected 1 hit, got %d", d.version, d.instance, p, d.hits)
		}
		if seen[a] {
			t.Errorf("daily %s %s (%s): expected one row, got more", d.version, d.instance, p)
		}
		seen[a] = true
		checkRowTimes(t, d, from, to)
		stored[p]++
	}
	if stored["before"] != len(before) || stored["after"] != len(after) {
		t.Errorf("expected all %d sent before the kill and %d after the recovery stored, got %d and %d",
			len(before), len(after), stored["before"], stored["after"])
	}
	t.Logf("stored: %d before the kill, %d of %d while down, %d after the recovery",
		stored["before"], stored["down"], len(down), stored["after"])
}

// Two servers writing to one fresh database start together (their migrations take turns)
// and then upsert the same instances at once, in opposite orders: every announcement is counted
// once, with no failed write (a deadlock or a migration clash would show as one).
func TestTwoServersOnePostgres(t *testing.T) {
	pg := pgtest.Start(t)
	dsn := pg.CreateDatabase(t, "two")
	label := sinkLabel(pg, "two")
	a := launchMonitored(t, pgCorefile(dsn, ""))
	b := launchMonitored(t, pgCorefile(dsn, ""))
	a.waitUp(t)
	b.waitUp(t)
	from := time.Now()

	instances := fresh(400, "19")
	var toA, toB []announcement
	for range 3 {
		toA = append(toA, instances...)
	}
	for range 2 {
		for i := len(instances) - 1; i >= 0; i-- {
			toB = append(toB, instances[i])
		}
	}
	errB := make(chan error, 1)
	go func() { errB <- sendAll(b.addr, toB, 1) }()
	errA := sendAll(a.addr, toA, 1)
	if err := errors.Join(errA, <-errB); err != nil {
		t.Fatal(err)
	}

	// Everything is written before the servers stop: a write cut off by the shut-down may be
	// stored twice (see TestPostgresShutdownMidWrite), which is not what this test is about.
	eventually(t, sinkTimeout, "all hits written", func() (bool, string) {
		n, err := pgtest.QueryInt(dsn, "SELECT coalesce(sum(hits), 0) FROM daily")
		return err == nil && n >= len(toA)+len(toB), fmt.Sprintf("%d hits, %v", n, err)
	})
	for _, s := range []*monitored{a, b} {
		waitReady(t, s, true, sinkTimeout)
		m := s.scrape(t)
		if errs := m.must(t, "coredns_mailustats_sink_errors_total", "sink", label); errs != 0 {
			t.Errorf("coredns on %s: expected no failed writes, got %v", s.addr, errs)
		}
		if dropped := m.must(t, "coredns_mailustats_sink_dropped_total", "sink", label); dropped != 0 {
			t.Errorf("coredns on %s: expected no records dropped, got %v", s.addr, dropped)
		}
	}
	for _, s := range []*monitored{a, b} { // both flush at once
		if err := s.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
	}
	a.Stop(t)
	b.Stop(t)
	to := time.Now()

	rows := readDaily(t, dsn)
	hits := map[announcement]int64{}
	days := map[string]bool{}
	for _, d := range rows {
		hits[announcement{d.version, d.instance}] += d.hits
		days[d.day] = true
		checkRowTimes(t, d, from, to)
	}
	for _, in := range instances {
		if hits[in] != 5 {
			t.Errorf("daily %s %s: expected 5 hits, got %d", in.version, in.instance, hits[in])
		}
	}
	if len(hits) != len(instances) {
		t.Errorf("expected %d instances in daily, got %d", len(instances), len(hits))
	}
	if len(days) == 1 && len(rows) != len(instances) { // a test across midnight UTC has two days
		t.Errorf("expected %d daily rows, got %d", len(instances), len(rows))
	}

	ctx := pgContext(t)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n, version int
	if err := conn.QueryRow(ctx, "SELECT count(*), coalesce(max(version), 0) FROM mailustats_schema").Scan(&n, &version); err != nil {
		t.Fatal(err)
	}
	if want := postgres.SchemaVersion(); n != want || version != want { // one row per migration, each applied once
		t.Errorf("mailustats_schema: expected %d rows, version %d, got %d rows, version %d", want, want, n, version)
	}
	// Each instance was new once, whichever server wrote it first.
	var known, added int
	if err := conn.QueryRow(ctx, "SELECT (SELECT count(*) FROM instances WHERE days > 0), (SELECT coalesce(sum(new_instances), 0) FROM day_counts)").Scan(&known, &added); err != nil {
		t.Fatal(err)
	}
	if known != len(instances) || added != len(instances) {
		t.Errorf("expected %d instances, each counted new once, got %d instances and %d new", len(instances), known, added)
	}
}

// A database that is down when CoreDNS starts does not keep it from answering; it is not ready
// until the database is there, and then stores what came before and after.
func TestPostgresDownAtStartup(t *testing.T) {
	pg := pgtest.Start(t)
	dsn := pg.CreateDatabase(t, "late")
	label := sinkLabel(pg, "late")
	pg.Stop(t)
	// The ready plugin's default monitoring, until ready once: it has not been yet.
	srv := startMonitored(t, fmt.Sprintf(`stats.mailu.io:{port} {
    bind 127.0.0.1
    prometheus 127.0.0.1:{mport}
    ready 127.0.0.1:{rport}
    mailustats {
        ns ns1.stats.mailu.io 127.0.0.1
        sink postgres %s
        flush 100ms
    }
}
`, dsn))
	from := time.Now()

	early, late := fresh(300, "19"), fresh(300, "20")
	announce(t, srv.addr, early, senders)
	waitReady(t, srv, false, sinkTimeout)
	eventually(t, sinkTimeout, "failed attempts to reach the database counted", func() (bool, string) {
		m, err := scrapeMetrics(srv.metricsAddr)
		if err != nil {
			return false, err.Error()
		}
		errs, _ := m.Sum("coredns_mailustats_sink_errors_total", "sink", label)
		return errs > 0, fmt.Sprintf("sink_errors_total %v", errs)
	})

	pg.Restart(t)
	waitReady(t, srv, true, sinkTimeout)
	announce(t, srv.addr, late, senders)
	m := srv.scrape(t)
	if dropped := m.must(t, "coredns_mailustats_sink_dropped_total", "sink", label); dropped != 0 {
		t.Errorf("expected no records dropped, got %v", dropped)
	}
	srv.Stop(t) // writes what it holds
	to := time.Now()

	want := map[announcement]bool{}
	for _, a := range append(early, late...) {
		want[a] = true
	}
	rows := readDaily(t, dsn)
	for _, d := range rows {
		a := announcement{d.version, d.instance}
		if !want[a] {
			t.Errorf("daily %s %s: expected only announcements that were sent, once", d.version, d.instance)
			continue
		}
		delete(want, a)
		if d.hits != 1 {
			t.Errorf("daily %s %s: expected 1 hit, got %d", d.version, d.instance, d.hits)
		}
		checkRowTimes(t, d, from, to)
	}
	if len(want) > 0 {
		t.Errorf("expected all %d announcements in daily, %d missing", len(early)+len(late), len(want))
	}
}

// A server stopped while it writes must store each record once. A write in flight at stop may
// have committed even if it reports an error; the worker retries it with the same batch ID, so
// it is not counted again (before that fix, about one round in ten stored rows with 2 hits).
func TestPostgresShutdownMidWrite(t *testing.T) {
	pg := pgtest.Start(t)
	for round := range 8 {
		db := fmt.Sprintf("round%d", round)
		dsn := pg.CreateDatabase(t, db)
		srv := startCoreDNS(t, fmt.Sprintf(`stats.mailu.io:{port} {
    bind 127.0.0.1
    mailustats {
        ns ns1.stats.mailu.io 127.0.0.1
        sink postgres %s
        flush 5ms
    }
}
`, dsn))
		var stop atomic.Bool
		var wg sync.WaitGroup
		for range senders {
			wg.Go(func() {
				for !stop.Load() {
					sendAll(srv.addr, fresh(20, "19"), 1) // SERVFAIL once stopping; not recorded
				}
			})
		}
		time.Sleep(500 * time.Millisecond) // load before the stop, not an assertion
		srv.Stop(t)
		stop.Store(true)
		wg.Wait()
		twice := 0
		for _, d := range readDaily(t, dsn) {
			if d.hits != 1 {
				twice++
			}
		}
		if twice > 0 {
			t.Errorf("round %d: expected 1 hit for each instance, sent once; got more for %d", round, twice)
		}
	}
}
