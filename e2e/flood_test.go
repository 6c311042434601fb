package e2e

import (
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// The flood: as many distinct valid names as the test can send at once, with a small queue.
const (
	floodDefaultQueries = 1_000_000              // FLOOD_QUERIES overrides it
	floodBuffer         = 4096                   // the server's queue and sink backlog
	floodTinyBuffer     = 8                      // a queue the flood fills
	floodTinyShare      = 10                     // the tiny queue gets this share of the queries
	floodTinyFills      = 10000                  // queries that surely overflow the tiny queue
	floodSenders        = 4                      // goroutines sending, each on its own socket
	floodWindow         = 256                    // queries a sender may have unanswered
	floodSendTime       = 120 * time.Second      // sending stops here, whatever was sent
	floodWriteOff       = 200 * time.Millisecond // a full window without an answer is lost
	floodLinger         = time.Second            // answers still read after the last query
	floodRSSEvery       = 200 * time.Millisecond
	floodRSSLimit       = 150 << 20        // bytes: 2 x buffer records, SQLite's 32 MiB cache, the runtime
	floodSettle         = 60 * time.Second // the queue and the sink catch up after the flood
	floodAfter          = 1000             // names sent at a modest pace after the flood
)

// A full queue drops records, but never answers: a million distinct names as fast as this
// machine sends them leave the server within its memory bound and answering; the records it
// took (recorded, minus what the sink could not hold) are exactly the rows of the database, and
// once the flood is over nothing is dropped any more. A tiny queue makes the flood fill the
// queue itself, so dropped_total counts too.
func TestFlood(t *testing.T) {
	n := floodQueries(t)
	t.Run(fmt.Sprintf("buffer %d", floodBuffer), func(t *testing.T) {
		floodRun(t, floodBuffer, n)
	})
	t.Run(fmt.Sprintf("buffer %d", floodTinyBuffer), func(t *testing.T) {
		tiny := max(n/floodTinyShare, 1)
		dropped := floodRun(t, floodTinyBuffer, tiny)
		if dropped == 0 && tiny >= floodTinyFills {
			t.Errorf("expected %d queries to overflow a queue of %d and dropped_total to count it, got 0", tiny, floodTinyBuffer)
		}
	})
}

// floodRun floods a server whose queue holds buffer records with n queries, checks what it
// answered and stored, and returns its dropped_total.
func floodRun(t *testing.T, buffer, n int) float64 {
	db := filepath.Join(t.TempDir(), "s.db")
	srv := startMonitored(t, fmt.Sprintf(`stats.mailu.io:{port} {
    bind 127.0.0.1
    prometheus 127.0.0.1:{mport}
    mailustats {
        ns ns1.stats.mailu.io 127.0.0.1
        sink sqlite %s
        buffer %d
        flush 100ms
    }
}
`, db, buffer))

	queries, size := floodPack(t, n)
	before := floodRSS(t, srv.Cmd.Process.Pid)
	rss := floodSampleRSS(t, srv.Cmd.Process.Pid)
	res := floodSend(t, srv.server, queries, size)
	t.Logf("flood: sent %d of %d queries in %s (%.0f/s), answered %d (%.0f/s), %d write errors, rcodes %v",
		res.sent, n, res.took.Round(time.Millisecond), float64(res.sent)/res.took.Seconds(),
		res.answered, float64(res.answered)/res.took.Seconds(), res.writeErrs, res.rcodes)
	if res.sent == 0 || res.answered == 0 {
		t.Fatalf("expected queries sent and answered, got %d sent and %d answered", res.sent, res.answered)
	}
	if res.answered < res.sent/2 {
		t.Errorf("expected answers to keep coming, got %d answers to %d queries", res.answered, res.sent)
	}
	for rcode, count := range res.rcodes {
		if rcode != dns.RcodeNameError {
			t.Errorf("expected every answer NXDOMAIN, got %d %s", count, dns.RcodeToString[rcode])
		}
	}

	conn, err := sql.Open("sqlite", "file:"+db+"?_busy_timeout=10000&_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	recorded, dropped, sinkDropped := floodSettled(t, srv, conn)
	t.Logf("flood: recorded %.0f, dropped (queue full) %.0f, sink_dropped %.0f", recorded, dropped, sinkDropped)
	if seen := recorded + dropped; seen < float64(res.answered) || seen > float64(res.sent) {
		t.Errorf("expected recorded + dropped between the answered %d and the sent %d, got %.0f + %.0f", res.answered, res.sent, recorded, dropped)
	}

	announce(t, srv.addr, fresh(floodAfter, "19"), 1)
	recorded2, dropped2, sinkDropped2 := floodSettled(t, srv, conn)
	conn.Close()
	if dropped2 != dropped {
		t.Errorf("after the flood: expected dropped_total to stay %.0f, got %.0f", dropped, dropped2)
	}
	if recorded2 != recorded+floodAfter {
		t.Errorf("after the flood: expected %.0f recorded, got %.0f", recorded+floodAfter, recorded2)
	}
	// A backlog that holds every name sent after the flood cannot overflow, however they come.
	if buffer >= floodAfter && sinkDropped2 != sinkDropped {
		t.Errorf("after the flood: expected sink_dropped_total to stay %.0f, got %.0f", sinkDropped, sinkDropped2)
	}

	peak := rss()
	t.Logf("flood: server RSS %.1f MiB before, peak %.1f MiB", float64(before)/(1<<20), float64(peak)/(1<<20))
	if peak >= floodRSSLimit {
		t.Errorf("expected the server's RSS under %d MiB with buffer %d, got a peak of %.1f MiB", floodRSSLimit>>20, buffer, float64(peak)/(1<<20))
	}
	out := srv.Stop(t)
	if strings.Contains(out, "panic") || strings.Contains(out, "[ERROR]") {
		t.Errorf("server logged errors:\n%s", out)
	}

	conn, err = sql.Open("sqlite", db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Each instance was sent once, so it has one row even if a UTC day ended meanwhile.
	want := int64(recorded2 - sinkDropped2)
	rows := floodQueryInt(t, conn, "SELECT count(*) FROM daily")
	instances := floodQueryInt(t, conn, "SELECT count(DISTINCT instance) FROM daily")
	hits := floodQueryInt(t, conn, "SELECT coalesce(sum(hits), 0) FROM daily")
	t.Logf("flood: daily holds %d rows, %d instances, %d hits; recorded - sink_dropped = %d", rows, instances, hits, want)
	if instances != want || hits != want || rows != want {
		t.Errorf("expected %d rows, instances and hits (recorded %.0f - sink_dropped %.0f), got %d rows, %d instances, %d hits",
			want, recorded2, sinkDropped2, rows, instances, hits)
	}
	return dropped2
}

// floodSettled waits until the queue is empty and the sink has stored every record it took, and
// returns the counters of recorded, dropped (queue full) and sink-dropped records then. A record
// still in the collector's batch counts as recorded but neither stored nor sink-dropped, so the
// sum of hits catches up only once everything was handed to the sink.
func floodSettled(t *testing.T, srv *monitored, conn *sql.DB) (recorded, dropped, sinkDropped float64) {
	t.Helper()
	eventually(t, floodSettle, "the queue to be empty", func() (bool, string) {
		q := srv.scrape(t).must(t, "coredns_mailustats_queue_length")
		return q == 0, fmt.Sprintf("queue_length %v", q)
	})
	eventually(t, floodSettle, "the sink to store every record it took", func() (bool, string) {
		m := srv.scrape(t)
		recorded = m.must(t, "coredns_mailustats_queries_total", "result", "recorded")
		dropped = m.must(t, "coredns_mailustats_dropped_total")
		sinkDropped = m.must(t, "coredns_mailustats_sink_dropped_total")
		hits := floodQueryInt(t, conn, "SELECT coalesce(sum(hits), 0) FROM daily")
		return float64(hits) == recorded-sinkDropped, fmt.Sprintf("recorded %v, sink_dropped %v, stored hits %d", recorded, sinkDropped, hits)
	})
	return recorded, dropped, sinkDropped
}

// floodQueries is FLOOD_QUERIES, or floodDefaultQueries.
func floodQueries(t *testing.T) int {
	t.Helper()
	s := os.Getenv("FLOOD_QUERIES")
	if s == "" {
		return floodDefaultQueries
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("FLOOD_QUERIES: expected a positive number, got %q", s)
	}
	return n
}

// floodPack returns n A queries for distinct valid names with random instances, packed back to
// back, and the size of each: a query packed by miekg/dns with its ID and instance rewritten.
func floodPack(t *testing.T, n int) ([]byte, int) {
	t.Helper()
	const version = "19"
	tmpl, err := newQuery(version+".00000000-0000-4000-8000-000000000000."+zone, dns.TypeA, false).Pack()
	if err != nil {
		t.Fatal(err)
	}
	at := headerLen + 1 + len(version) + 1 // the instance label's first byte
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], uint64(time.Now().UnixNano()))
	rng := rand.NewChaCha8(seed)
	buf := make([]byte, n*len(tmpl))
	var id [16]byte
	for i := range n {
		q := buf[i*len(tmpl) : (i+1)*len(tmpl)]
		copy(q, tmpl)
		binary.BigEndian.PutUint16(q, uint16(i))
		rng.Read(id[:])
		id[6] = id[6]&0x0f | 0x40 // version 4
		id[8] = id[8]&0x3f | 0x80 // RFC 9562 variant
		u := q[at : at+36]
		hex.Encode(u[0:8], id[0:4])
		hex.Encode(u[9:13], id[4:6])
		hex.Encode(u[14:18], id[6:8])
		hex.Encode(u[19:23], id[8:10])
		hex.Encode(u[24:36], id[10:16])
	}
	return buf, len(tmpl)
}

// floodResult is what a flood sent and got back.
type floodResult struct {
	sent, answered, writeErrs int64
	rcodes                    map[int]int64
	took                      time.Duration // from the first query to the last
}

// floodSend sends the packed queries over UDP from floodSenders goroutines, each with its own
// socket and a reader counting the answers, keeping at most floodWindow queries unanswered per
// socket; it stops after floodSendTime.
func floodSend(t *testing.T, srv *server, queries []byte, size int) floodResult {
	t.Helper()
	raddr, err := net.ResolveUDPAddr("udp", srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	n := len(queries) / size
	var (
		sent, writeErrs atomic.Int64
		rcodes          [16]atomic.Int64
		senders         sync.WaitGroup
		readers         sync.WaitGroup
	)
	var conns []*net.UDPConn
	for range floodSenders {
		c, err := net.DialUDP("udp", nil, raddr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetReadBuffer(4 << 20)
		c.SetWriteBuffer(4 << 20)
		conns = append(conns, c)
	}
	start := time.Now()
	deadline := start.Add(floodSendTime)
	for g, c := range conns {
		credit := make(chan struct{}, floodWindow)
		for range floodWindow {
			credit <- struct{}{}
		}
		readers.Go(func() {
			buf := make([]byte, 512)
			for {
				m, err := c.Read(buf)
				if err != nil {
					if errors.Is(err, net.ErrClosed) {
						return
					}
					continue // an ICMP error for an earlier query
				}
				if m >= headerLen {
					rcodes[buf[3]&0x0f].Add(1)
				}
				select {
				case credit <- struct{}{}:
				default:
				}
			}
		})
		senders.Go(func() {
			wait := time.NewTimer(floodWriteOff)
			defer wait.Stop()
			for i := g * n / floodSenders; i < (g+1)*n/floodSenders; i++ {
				select {
				case <-credit:
				default:
					wait.Reset(floodWriteOff)
					select {
					case <-credit:
					case <-wait.C: // the window's queries or answers were lost: open it again
						for range floodWindow - 1 {
							select {
							case credit <- struct{}{}:
							default:
							}
						}
					}
				}
				if i%64 == 0 && (time.Now().After(deadline) || srv.Exited()) {
					return
				}
				if _, err := c.Write(queries[i*size : (i+1)*size]); err != nil {
					writeErrs.Add(1)
					continue
				}
				sent.Add(1)
			}
		})
	}
	senders.Wait()
	took := time.Since(start)
	time.Sleep(floodLinger) // the last answers are still on their way
	for _, c := range conns {
		c.Close()
	}
	readers.Wait()
	res := floodResult{sent: sent.Load(), writeErrs: writeErrs.Load(), rcodes: map[int]int64{}, took: took}
	for rcode := range rcodes {
		if v := rcodes[rcode].Load(); v > 0 {
			res.rcodes[rcode] = v
			res.answered += v
		}
	}
	return res
}

// floodSampleRSS samples the resident memory of process pid every floodRSSEvery until the
// returned function is called, which returns the peak seen.
func floodSampleRSS(t *testing.T, pid int) func() int64 {
	t.Helper()
	var peak atomic.Int64
	peak.Store(floodRSS(t, pid))
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(floodRSSEvery)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if v, err := floodReadRSS(pid); err == nil && v > peak.Load() {
					peak.Store(v)
				}
			}
		}
	}()
	var once sync.Once
	finish := func() int64 {
		once.Do(func() { close(stop); <-done })
		return peak.Load()
	}
	t.Cleanup(func() { finish() })
	return finish
}

// floodRSS is floodReadRSS for a process that must be running.
func floodRSS(t *testing.T, pid int) int64 {
	t.Helper()
	v, err := floodReadRSS(pid)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// floodReadRSS returns VmRSS from /proc/PID/status, in bytes.
func floodReadRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) != 2 || f[1] != "kB" {
				return 0, fmt.Errorf("/proc/%d/status: unexpected %q", pid, line)
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
}

// floodQueryInt runs a query that returns one integer.
func floodQueryInt(t *testing.T, conn *sql.DB, query string) int64 {
	t.Helper()
	var v int64
	if err := conn.QueryRow(query).Scan(&v); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return v
}
