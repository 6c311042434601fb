package e2e

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Bounds of loadLoop.
const (
	loadTimeout = 500 * time.Millisecond // one query; a later reply counts as unanswered
	loadMax     = 1_000_000              // the most queries one loadLoop sends
	loadWait    = 5 * time.Second        // from the stop of a background load to its end
)

// loadVersions are the versions loadLoop announces, in turn.
var loadVersions = []string{"19", "2024-06", "master"}

// loadOutcome is how one query of loadLoop ended.
type loadOutcome int

const (
	loadRecorded   loadOutcome = iota // NXDOMAIN: answered, so its record was accepted
	loadRefused                       // SERVFAIL: refused while shutting down, not recorded
	loadUnanswered                    // no reply in time (or another network error): may be recorded
	loadNoListener                    // port unreachable: nothing listened, so not recorded
	loadUnexpected                    // any other reply, which no test allows
)

func (o loadOutcome) String() string {
	return [...]string{"NXDOMAIN", "SERVFAIL", "unanswered", "port unreachable", "unexpected"}[o]
}

// loadQuery is one query of loadLoop: the announcement it made and how it ended.
type loadQuery struct {
	ann     announcement
	rcode   int // the reply's rcode; -1 when there was none
	outcome loadOutcome
	err     error // why there was no reply, or what was wrong with it
}

// loadLoop sends A queries for valid names, each with a fresh instance and in mixed case, over
// UDP from workers goroutines at full speed (each waits for its reply before the next query),
// until stop closes (nil: never) or count queries were sent (0 or more than loadMax: loadMax).
// It returns every query it sent and how it ended.
func loadLoop(addr string, workers, count int, stop <-chan struct{}) []loadQuery {
	if count <= 0 || count > loadMax {
		count = loadMax
	}
	var sent atomic.Int64
	results := make([][]loadQuery, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			c := &dns.Client{Net: "udp", Timeout: loadTimeout}
			var co *dns.Conn
			defer func() {
				if co != nil {
					co.Close()
				}
			}()
			for n := sent.Add(1); n <= int64(count); n = sent.Add(1) {
				select {
				case <-stop:
					return
				default:
				}
				qname, ann := valid(loadVersions[n%int64(len(loadVersions))], mixCase)()
				q := newQuery(qname, dns.TypeA, false)
				res := loadQuery{ann: *ann, rcode: -1, outcome: loadUnanswered}
				var r *dns.Msg
				var err error
				if co == nil {
					co, err = c.Dial(addr)
				}
				if err == nil {
					r, _, err = c.ExchangeWithConn(q, co)
				}
				switch {
				case err != nil:
					res.err = err
					if errors.Is(err, syscall.ECONNREFUSED) {
						res.outcome = loadNoListener
					}
					if co != nil { // a refused port is reported once per socket; start afresh
						co.Close()
						co = nil
					}
				case len(r.Question) != 1 || r.Question[0] != q.Question[0]:
					res.rcode, res.outcome = r.Rcode, loadUnexpected
					res.err = fmt.Errorf("expected the question %v echoed, got %v", q.Question[0], r.Question)
				case r.Rcode == dns.RcodeNameError:
					res.rcode, res.outcome = r.Rcode, loadRecorded
				case r.Rcode == dns.RcodeServerFailure:
					res.rcode, res.outcome = r.Rcode, loadRefused
				default:
					res.rcode, res.outcome = r.Rcode, loadUnexpected
					res.err = fmt.Errorf("expected NXDOMAIN or SERVFAIL, got %s", dns.RcodeToString[r.Rcode])
				}
				results[w] = append(results[w], res)
			}
		})
	}
	wg.Wait()
	return slices.Concat(results...)
}

// backgroundLoad is a loadLoop running while the test does something else.
type backgroundLoad struct {
	stop    chan struct{}
	once    sync.Once
	results chan []loadQuery
	qs      []loadQuery // what results gave, once ended
	ended   bool
}

// startLoad runs loadLoop against addr from workers goroutines until finish is called, until
// closes (nil: never) or the test ends, whichever comes first.
func startLoad(t *testing.T, addr string, workers int, until <-chan struct{}) *backgroundLoad {
	l := &backgroundLoad{stop: make(chan struct{}), results: make(chan []loadQuery, 1)}
	stop := l.stop
	if until != nil {
		stop = make(chan struct{})
		go func() {
			select {
			case <-until:
			case <-l.stop:
			}
			close(stop)
		}()
	}
	go func() { l.results <- loadLoop(addr, workers, 0, stop) }()
	t.Cleanup(func() { l.end() })
	return l
}

// end stops the load and waits a bounded time for it; ended is false if it did not end.
func (l *backgroundLoad) end() (qs []loadQuery, ended bool) {
	l.once.Do(func() {
		close(l.stop)
		select {
		case l.qs = <-l.results:
			l.ended = true
		case <-time.After(loadWait):
		}
	})
	return l.qs, l.ended
}

// finish stops the load and returns its queries.
func (l *backgroundLoad) finish(t *testing.T) []loadQuery {
	t.Helper()
	qs, ended := l.end()
	if !ended {
		t.Fatalf("load still running %s after it was stopped", loadWait)
	}
	return qs
}

// loadTally counts queries by outcome.
type loadTally [loadUnexpected + 1]int

func tallyLoad(qs []loadQuery) loadTally {
	var n loadTally
	for _, q := range qs {
		n[q.outcome]++
	}
	return n
}

func (n loadTally) String() string {
	var parts []string
	for o, c := range n {
		parts = append(parts, fmt.Sprintf("%d %s", c, loadOutcome(o)))
	}
	return strings.Join(parts, ", ")
}

// checkOutcomes fails t for each query whose outcome is not among allowed, showing a few.
func checkOutcomes(t *testing.T, qs []loadQuery, allowed ...loadOutcome) {
	t.Helper()
	var bad []string
	for _, q := range qs {
		if !slices.Contains(allowed, q.outcome) {
			bad = append(bad, fmt.Sprintf("%s.%s: %s (%v)", q.ann.version, q.ann.instance, q.outcome, q.err))
		}
	}
	if len(bad) > 0 {
		t.Errorf("expected only %v, got %d other answers of %d (%s), e.g.:\n%s",
			allowed, len(bad), len(qs), tallyLoad(qs), strings.Join(bad[:min(5, len(bad))], "\n"))
	}
}

// storedCount is what checkLoadStored found in a sink beside the NXDOMAIN-answered records.
type storedCount struct {
	unanswered int // records of queries that went unanswered
	missing    int // NXDOMAIN-answered announcements not stored
}

// checkLoadStored checks what a sink stored, one announcement per record, against the load
// and the announcements extra that were answered NXDOMAIN beside it. A query answered SERVFAIL
// or never sent is never stored, and no announcement is stored twice. One that went unanswered
// may have been recorded before its reply was lost, so it is stored at most once. With complete,
// each query answered NXDOMAIN must be stored; without (after a crash), it may be missing.
func checkLoadStored(t *testing.T, sink string, got []announcement, qs []loadQuery, complete bool, extra ...announcement) storedCount {
	t.Helper()
	outcome := make(map[announcement]loadOutcome, len(qs)+len(extra))
	for _, q := range qs {
		outcome[q.ann] = q.outcome
	}
	for _, a := range extra {
		outcome[a] = loadRecorded
	}
	var n storedCount
	seen := make(map[announcement]bool, len(got))
	var errs []error
	for _, a := range got {
		o, sent := outcome[a]
		switch {
		case !sent:
			errs = append(errs, fmt.Errorf("%s %s: stored, but never sent", a.version, a.instance))
		case seen[a]:
			errs = append(errs, fmt.Errorf("%s %s (%s): stored more than once", a.version, a.instance, o))
		case o != loadRecorded && o != loadUnanswered:
			errs = append(errs, fmt.Errorf("%s %s (%s): stored, but it was not answered as recorded", a.version, a.instance, o))
		case o == loadUnanswered:
			n.unanswered++
		}
		seen[a] = true
	}
	var missing []error
	for a, o := range outcome {
		if o == loadRecorded && !seen[a] {
			n.missing++
			missing = append(missing, fmt.Errorf("%s %s: answered NXDOMAIN, but not stored", a.version, a.instance))
		}
	}
	wrong := len(errs)
	if complete {
		errs = append(errs, missing...)
	}
	if len(errs) > 0 {
		t.Errorf("%s: expected each NXDOMAIN-answered announcement stored once%s and nothing else; %d records stored, %d missing, %d wrong, e.g.:\n%v",
			sink, map[bool]string{true: "", false: " at most"}[complete], len(got), n.missing, wrong, errors.Join(errs[:min(10, len(errs))]...))
	}
	return n
}
