package sink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// waitTimeout bounds every wait for something the recorder does in the background; it is a
// deadline for a hung test, not a measure of speed.
const waitTimeout = 20 * time.Second

func newMetrics() Metrics {
	return Metrics{
		SinkErrors:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sink_errors_total"}, []string{"sink"}),
		SinkDropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sink_dropped_total"}, []string{"sink"}),
		QueueLength: prometheus.NewGauge(prometheus.GaugeOpts{Name: "queue_length"}),
	}
}

func errorsOf(m Metrics, label string) float64 {
	return testutil.ToFloat64(m.SinkErrors.WithLabelValues(label))
}

func droppedOf(m Metrics, label string) float64 {
	return testutil.ToFloat64(m.SinkDropped.WithLabelValues(label))
}

// startRecorder starts a recorder that is closed at the end of the test at the latest.
func startRecorder(t *testing.T, opts Options, sinks ...Labeled) *Recorder {
	t.Helper()
	r := NewRecorder(opts, sinks)
	t.Cleanup(r.Close)
	return r
}

// fileLabeled opens a file sink as setup does.
func fileLabeled(t *testing.T, path string, args ...string) Labeled {
	t.Helper()
	o, err := ParseFile(append([]string{path}, args...))
	if err != nil {
		t.Fatal(err)
	}
	s, err := o.Open()
	if err != nil {
		t.Fatal(err)
	}
	return Labeled{Label: o.Label(), Sink: s}
}

// waitFor polls cond until it holds, failing the test after waitTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitClosed runs Close and fails the test if it does not return within waitTimeout.
func waitClosed(t *testing.T, r *Recorder) {
	t.Helper()
	done := make(chan struct{})
	go func() { r.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(waitTimeout):
		t.Fatal("Close did not return")
	}
}

func countLines(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(data, []byte{'\n'})
}

func rec(g, i int) Record {
	return Record{
		Time:     time.Unix(1_700_000_000+int64(i), 0),
		Version:  "2024.06",
		Instance: fmt.Sprintf("g%d-i%d", g, i),
	}
}

// addConcurrently adds each records from each of goroutines goroutines and returns those Add
// accepted.
func addConcurrently(r *Recorder, goroutines, each int) []Record {
	var (
		mu       sync.Mutex
		accepted []Record
		wg       sync.WaitGroup
	)
	for g := range goroutines {
		wg.Go(func() {
			var mine []Record
			for i := range each {
				if x := rec(g, i); r.Add(x) {
					mine = append(mine, x)
				}
			}
			mu.Lock()
			accepted = append(accepted, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return accepted
}

// counts turns records into a multiset.
func counts(recs []Record) map[string]int {
	m := make(map[string]int, len(recs))
	for _, r := range recs {
		m[recordKey(r)]++
	}
	return m
}

// diffCounts describes how got differs from want, or returns "" if they are equal.
func diffCounts(want, got map[string]int) string {
	var d []string
	for k, n := range want {
		if got[k] != n {
			d = append(d, fmt.Sprintf("%s: expected %d, got %d", k, n, got[k]))
		}
	}
	for k, n := range got {
		if _, ok := want[k]; !ok {
			d = append(d, fmt.Sprintf("%s: expected 0, got %d", k, n))
		}
	}
	if len(d) == 0 {
		return ""
	}
	sort.Strings(d)
	if len(d) > 10 {
		d = append(d[:10], fmt.Sprintf("... and %d more", len(d)-10))
	}
	return fmt.Sprint(d)
}

// failSink fails every write.
type failSink struct {
	calls  atomic.Int64
	closed atomic.Bool
}

func (s *failSink) Write(context.Context, Batch) error {
	s.calls.Add(1)
	return errors.New("disk on fire")
}

func (s *failSink) Close() error { s.closed.Store(true); return nil }

// blockSink blocks every write until release is closed, then keeps the records.
type blockSink struct {
	entered chan struct{} // closed when the first write begins
	release chan struct{}
	once    sync.Once

	mu      sync.Mutex
	got     []Record
	batches []Batch // as written, the first before it is released
}

func newBlockSink() *blockSink {
	return &blockSink{entered: make(chan struct{}), release: make(chan struct{})}
}

func (s *blockSink) Write(_ context.Context, batch Batch) error {
	s.mu.Lock()
	s.batches = append(s.batches, batch)
	s.mu.Unlock()
	s.once.Do(func() { close(s.entered) })
	<-s.release
	s.mu.Lock()
	s.got = append(s.got, batch.Records...)
	s.mu.Unlock()
	return nil
}

func (s *blockSink) first() Batch {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.batches[0]
}

func (s *blockSink) last() Batch {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.batches[len(s.batches)-1]
}

func (s *blockSink) Close() error { return nil }

func (s *blockSink) records() []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Record(nil), s.got...)
}

// flakySink fails its first fails writes, holds the next one until release is closed, and
// from then on writes to next.
type flakySink struct {
	fails   int64
	calls   atomic.Int64
	atGate  chan struct{}
	release chan struct{}
	next    Sink
}

func (s *flakySink) Write(ctx context.Context, batch Batch) error {
	n := s.calls.Add(1)
	if n <= s.fails {
		return fmt.Errorf("failure %d", n)
	}
	if n == s.fails+1 {
		close(s.atGate)
		<-s.release
	}
	return s.next.Write(ctx, batch)
}

func (s *flakySink) Close() error { return s.next.Close() }

// stallGauge blocks its first Add until release is closed. The collector updates the queue
// gauge on every hand-off, so this holds the collector still and lets the queue fill up.
type stallGauge struct {
	prometheus.Gauge
	stalled chan struct{}
	release chan struct{}
	once    sync.Once
}

func (g *stallGauge) Add(v float64) {
	g.once.Do(func() {
		close(g.stalled)
		<-g.release
	})
	g.Gauge.Add(v)
}

func TestRecorderStoresEverything(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.csv")
	m := newMetrics()
	f := fileLabeled(t, path)
	r := startRecorder(t, Options{Buffer: 1 << 15, Flush: 20 * time.Millisecond, Metrics: m, Log: &testLogger{}}, f)

	accepted := addConcurrently(r, 8, 2500)
	if len(accepted) != 20000 {
		t.Fatalf("expected Add to accept all 20000 records into a queue of %d, got %d", 1<<15, len(accepted))
	}
	waitClosed(t, r)

	got := readCSV(t, path)
	if len(got) != len(accepted) {
		t.Errorf("expected %d lines, got %d", len(accepted), len(got))
	}
	if d := diffCounts(counts(accepted), counts(got)); d != "" {
		t.Errorf("file differs from the records added: %s", d)
	}
	if n := droppedOf(m, f.Label); n != 0 {
		t.Errorf("expected no drops, got %v", n)
	}
	if n := errorsOf(m, f.Label); n != 0 {
		t.Errorf("expected no sink errors, got %v", n)
	}
	if n := testutil.ToFloat64(m.QueueLength); n != 0 {
		t.Errorf("expected queue length 0 after Close, got %v", n)
	}
}

// Records accepted while Close is starting are all written; records refused are not.
func TestRecorderCloseRacesAdd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.jsonl")
	m := newMetrics()
	f := fileLabeled(t, path, "jsonl")
	r := startRecorder(t, Options{Buffer: 1 << 16, Flush: 5 * time.Millisecond, Metrics: m, Log: &testLogger{}}, f)

	var (
		mu       sync.Mutex
		accepted []Record
		refused  atomic.Int64
		total    atomic.Int64
		wg       sync.WaitGroup
	)
	for g := range 8 {
		wg.Go(func() {
			var mine []Record
			for i := 0; i < 5000 && !r.Closed(); i++ {
				if x := rec(g, i); r.Add(x) {
					mine = append(mine, x)
					total.Add(1)
				} else {
					refused.Add(1)
				}
			}
			mu.Lock()
			accepted = append(accepted, mine...)
			mu.Unlock()
		})
	}
	waitFor(t, "the first records", func() bool { return total.Load() >= 2000 })
	waitClosed(t, r)
	wg.Wait()
	t.Logf("accepted %d, refused %d", len(accepted), refused.Load())

	got := readJSONL(t, path)
	if d := diffCounts(counts(accepted), counts(got)); d != "" {
		t.Errorf("file differs from the records Add accepted: %s", d)
	}
	if n := droppedOf(m, f.Label); n != 0 {
		t.Errorf("expected no drops, got %v", n)
	}
	if n := testutil.ToFloat64(m.QueueLength); n != 0 {
		t.Errorf("expected queue length 0 after Close, got %v", n)
	}
}

func TestRecorderClosed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.csv")
	m := newMetrics()
	r := startRecorder(t, Options{Buffer: 10, Flush: time.Second, Metrics: m, Log: &testLogger{}}, fileLabeled(t, path))

	if r.Closed() {
		t.Error("expected a new recorder not to be closed")
	}
	if !r.Add(rec(0, 0)) {
		t.Fatal("expected Add to an open recorder to succeed")
	}
	waitClosed(t, r)
	if !r.Closed() {
		t.Error("expected Closed after Close")
	}
	if r.Add(rec(0, 1)) {
		t.Error("expected Add after Close to return false")
	}
	waitClosed(t, r) // a second Close returns too

	if got, want := readCSV(t, path), []Record{rec(0, 0)}; !sameRecords(got, want) {
		t.Errorf("expected records %v, got %v", want, got)
	}
}

func TestRecorderNoSinks(t *testing.T) {
	m := newMetrics()
	r := startRecorder(t, Options{Buffer: 10, Flush: time.Millisecond, Metrics: m, Log: &testLogger{}})
	if !r.Add(rec(0, 0)) {
		t.Error("expected Add to succeed")
	}
	if !r.Healthy() {
		t.Error("expected a recorder without sinks to be healthy")
	}
	waitClosed(t, r)
	if n := testutil.ToFloat64(m.QueueLength); n != 0 {
		t.Errorf("expected queue length 0 after Close, got %v", n)
	}
}

func TestRecorderQueueFull(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.csv")
	m := newMetrics()
	g := &stallGauge{Gauge: m.QueueLength, stalled: make(chan struct{}), release: make(chan struct{})}
	m.QueueLength = g
	r := startRecorder(t, Options{Buffer: 10, Flush: 10 * time.Millisecond, Metrics: m, Log: &testLogger{}}, fileLabeled(t, path))
	released := false
	t.Cleanup(func() {
		if !released {
			close(g.release)
		}
	})

	select {
	case <-g.stalled:
	case <-time.After(waitTimeout):
		t.Fatal("the collector never updated the queue gauge")
	}
	// The collector now takes nothing from the queue.
	var want []Record
	for i := range 10 {
		if !r.Add(rec(0, i)) {
			t.Fatalf("expected Add %d to a queue of 10 to succeed", i)
		}
		want = append(want, rec(0, i))
	}
	for i := 10; i < 20; i++ {
		if r.Add(rec(0, i)) {
			t.Fatalf("expected Add %d to a full queue to return false", i)
		}
	}
	close(g.release)
	released = true
	waitClosed(t, r)

	if got := readCSV(t, path); !sameRecords(got, want) {
		t.Errorf("expected records %v, got %v", want, got)
	}
	if n := testutil.ToFloat64(m.QueueLength); n != 0 {
		t.Errorf("expected queue length 0 after Close, got %v", n)
	}
}

// A sink that never returns holds back neither Add nor the other sinks; what it cannot take
// is counted as dropped.
func TestRecorderSlowSink(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.csv")
	m := newMetrics()
	slow := newBlockSink()
	f := fileLabeled(t, path)
	r := startRecorder(t, Options{Buffer: 10, Flush: 10 * time.Millisecond, Metrics: m, Log: &testLogger{}},
		Labeled{Label: "slow", Sink: slow}, f)
	released := false
	t.Cleanup(func() {
		if !released {
			close(slow.release)
		}
	})

	const rounds, each = 10, 5
	var accepted []Record
	for round := range rounds {
		for i := range each {
			x := rec(round, i)
			if !r.Add(x) {
				t.Fatalf("round %d: expected Add %d to succeed: the queue holds 10 and was drained", round, i)
			}
			accepted = append(accepted, x)
		}
		waitFor(t, fmt.Sprintf("round %d in the file", round), func() bool { return countLines(t, path) == len(accepted) })
		if round == 0 {
			select {
			case <-slow.entered:
			case <-time.After(waitTimeout):
				t.Fatal("the slow sink was never written to")
			}
		}
	}
	if !r.Healthy() {
		t.Error("expected a slow but not failing sink to count as healthy")
	}
	close(slow.release)
	released = true
	waitClosed(t, r)

	if d := diffCounts(counts(accepted), counts(readCSV(t, path))); d != "" {
		t.Errorf("file differs from the records added: %s", d)
	}
	stored := slow.records()
	dropped := droppedOf(m, "slow")
	if int(dropped)+len(stored) != len(accepted) {
		t.Errorf("expected the slow sink's stored (%d) and dropped (%v) records to add up to %d", len(stored), dropped, len(accepted))
	}
	if dropped == 0 {
		t.Error("expected the slow sink to drop records beyond its backlog of 10")
	}
	all := counts(accepted)
	for k, n := range counts(stored) {
		if n != 1 || all[k] != 1 {
			t.Errorf("slow sink: %s stored %d times, added %d times", k, n, all[k])
		}
	}
	if n := droppedOf(m, f.Label); n != 0 {
		t.Errorf("expected the file sink to drop nothing, got %v", n)
	}
}

// TestRecorderHurry checks what a sink is told while it writes: not to hurry with nothing
// behind its batch, to hurry once a record waits behind it, and at shut-down.
func TestRecorderHurry(t *testing.T) {
	slow := newBlockSink()
	r := startRecorder(t, Options{Buffer: 100, Flush: 10 * time.Millisecond, Metrics: newMetrics(), Log: &testLogger{}},
		Labeled{Label: "slow", Sink: slow})
	released := false
	t.Cleanup(func() {
		if !released {
			close(slow.release)
		}
	})
	for i := range 5 {
		r.Add(rec(0, i))
	}
	select {
	case <-slow.entered:
	case <-time.After(waitTimeout):
		t.Fatal("the sink was never written to")
	}
	first := slow.first()
	if first.Hurry() {
		t.Error("expected no hurry with nothing behind the batch")
	}
	for i := range 24 { // a quarter of the backlog, less one
		r.Add(rec(1, i))
	}
	time.Sleep(50 * time.Millisecond) // five flush intervals: the records are in the backlog
	if first.Hurry() {
		t.Error("expected no hurry with less than a quarter of the backlog behind the batch")
	}
	r.Add(rec(2, 0))
	waitFor(t, "the hurry once a quarter of the backlog waits behind the batch", first.Hurry)
	close(slow.release)
	released = true
	waitFor(t, "all 30 records written", func() bool { return len(slow.records()) == 30 })

	last := slow.last()
	if last.Hurry() {
		t.Error("expected no hurry for the last batch, with nothing behind it")
	}
	go r.Close()
	waitFor(t, "the hurry at shut-down", last.Hurry)
	waitClosed(t, r)
}

func TestRecorderFailingSink(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.csv")
	m := newMetrics()
	log := &testLogger{}
	bad := &failSink{}
	f := fileLabeled(t, path)
	r := startRecorder(t, Options{Buffer: 4096, Flush: 10 * time.Millisecond, Metrics: m, Log: log},
		Labeled{Label: "bad", Sink: bad}, f)

	accepted := addConcurrently(r, 4, 250)
	if len(accepted) != 1000 {
		t.Fatalf("expected Add to accept all 1000 records, got %d", len(accepted))
	}
	waitFor(t, "all records in the file", func() bool { return countLines(t, path) == len(accepted) })
	waitFor(t, "a retry of the failing sink", func() bool { return errorsOf(m, "bad") >= 2 })
	if r.Healthy() {
		t.Error("expected the recorder to be unhealthy while a sink fails")
	}
	waitClosed(t, r) // waits out the shut-down grace of the failing sink

	if d := diffCounts(counts(accepted), counts(readCSV(t, path))); d != "" {
		t.Errorf("file differs from the records added: %s", d)
	}
	if n := droppedOf(m, "bad"); n != float64(len(accepted)) {
		t.Errorf("expected the failing sink to count all %d records as dropped, got %v", len(accepted), n)
	}
	if n, calls := errorsOf(m, "bad"), bad.calls.Load(); n != float64(calls) {
		t.Errorf("expected one sink error per failed write (%d), got %v", calls, n)
	}
	if n := droppedOf(m, f.Label); n != 0 {
		t.Errorf("expected the file sink to drop nothing, got %v", n)
	}
	if n := errorsOf(m, f.Label); n != 0 {
		t.Errorf("expected no errors from the file sink, got %v", n)
	}
	if !bad.closed.Load() {
		t.Error("expected Close to close the failing sink")
	}
	if n := log.count("warning", "sink bad: disk on fire"); n != 1 {
		t.Errorf("expected the failure logged once over %d failed writes, got %d times:\n%s", bad.calls.Load(), n, log)
	}
	if n := log.count("warning", fmt.Sprintf("sink bad: %d records not stored", len(accepted))); n != 1 {
		t.Errorf("expected the loss at shut-down logged once, got %d times:\n%s", n, log)
	}
	if n := log.count("warning", f.Label); n != 0 {
		t.Errorf("expected no warnings about the file sink, got:\n%s", log)
	}
	if n := testutil.ToFloat64(m.QueueLength); n != 0 {
		t.Errorf("expected queue length 0 after Close, got %v", n)
	}
}

func TestRecorderRecovers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.csv")
	m := newMetrics()
	log := &testLogger{}
	flaky := &flakySink{fails: 3, atGate: make(chan struct{}), release: make(chan struct{}), next: fileLabeled(t, path).Sink}
	r := startRecorder(t, Options{Buffer: 1000, Flush: 10 * time.Millisecond, Metrics: m, Log: log},
		Labeled{Label: "flaky", Sink: flaky})
	released := false
	t.Cleanup(func() {
		if !released {
			close(flaky.release)
		}
	})

	accepted := addConcurrently(r, 4, 25)
	if len(accepted) != 100 {
		t.Fatalf("expected Add to accept all 100 records, got %d", len(accepted))
	}
	select {
	case <-flaky.atGate:
	case <-time.After(waitTimeout):
		t.Fatal("the sink was not retried after three failures")
	}
	if r.Healthy() {
		t.Error("expected the recorder to be unhealthy after a failed write")
	}
	if n := errorsOf(m, "flaky"); n != 3 {
		t.Errorf("expected 3 sink errors, got %v", n)
	}
	close(flaky.release)
	released = true

	waitFor(t, "all records in the file", func() bool { return countLines(t, path) == len(accepted) })
	waitFor(t, "the recorder to be healthy again", r.Healthy)
	waitClosed(t, r)

	got := readCSV(t, path)
	if len(got) != len(accepted) {
		t.Errorf("expected %d lines, got %d", len(accepted), len(got))
	}
	if d := diffCounts(counts(accepted), counts(got)); d != "" {
		t.Errorf("file differs from the records added: %s", d)
	}
	if n := errorsOf(m, "flaky"); n != 3 {
		t.Errorf("expected 3 sink errors, got %v", n)
	}
	if n := droppedOf(m, "flaky"); n != 0 {
		t.Errorf("expected no drops, got %v", n)
	}
	if n := log.count("warning", "sink flaky: failure"); n != 1 {
		t.Errorf("expected the failure logged once over 3 failed writes, got %d times:\n%s", n, log)
	}
	if n := log.count("info", "sink flaky: writing"); n != 1 {
		t.Errorf("expected the recovery logged once, got %d times:\n%s", n, log)
	}
}

// A record reaches its sink after about one flush interval, without waiting for Close or a
// full batch.
func TestRecorderFlushInterval(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.jsonl")
	m := newMetrics()
	r := startRecorder(t, Options{Buffer: 100, Flush: 50 * time.Millisecond, Metrics: m, Log: &testLogger{}}, fileLabeled(t, path, "jsonl"))

	want := []Record{rec(0, 0)}
	if !r.Add(want[0]) {
		t.Fatal("expected Add to succeed")
	}
	waitFor(t, "the record in the file", func() bool { return countLines(t, path) == 1 })
	if r.Closed() {
		t.Fatal("expected the recorder to be still open")
	}
	if got := readJSONL(t, path); !sameRecords(got, want) {
		t.Errorf("expected records %v, got %v", want, got)
	}
	waitFor(t, "queue length 0", func() bool { return testutil.ToFloat64(m.QueueLength) == 0 })
}

// sizeSink keeps the size of each batch it is given.
type sizeSink struct {
	mu    sync.Mutex
	sizes []int
}

func (s *sizeSink) Write(_ context.Context, batch Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sizes = append(s.sizes, len(batch.Records))
	return nil
}

func (s *sizeSink) Close() error { return nil }

// A steady stream that fills a batch well within the flush interval is handed off in full
// batches, even where it runs across the end of an interval.
func TestRecorderFullBatches(t *testing.T) {
	sizes := &sizeSink{}
	r := startRecorder(t, Options{Buffer: 20, Flush: time.Second, Metrics: newMetrics(), Log: &testLogger{}},
		Labeled{Label: "sizes", Sink: sizes})
	for i := range 30 { // 1.2 s; a batch of 10 fills in 0.4 s
		r.Add(rec(0, i))
		time.Sleep(40 * time.Millisecond)
	}
	waitClosed(t, r)
	if !slices.Equal(sizes.sizes, []int{10, 10, 10}) {
		t.Errorf("expected three full batches of 10, got %v", sizes.sizes)
	}
}

// During a reload two recorders append to the same file; every line stays whole.
func TestRecorderReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.csv")
	m := newMetrics() // shared like the package-level metrics of the plugin
	opts := Options{Buffer: 1 << 15, Flush: time.Millisecond, Metrics: m, Log: &testLogger{}}
	oldR := startRecorder(t, opts, fileLabeled(t, path))

	var (
		wg          sync.WaitGroup
		oldAccepted []Record
		newAccepted []Record
		oldDone     = make(chan struct{})
		newR        *Recorder
	)
	wg.Go(func() {
		defer close(oldDone)
		oldAccepted = addConcurrently(oldR, 4, 5000)
	})
	newR = startRecorder(t, opts, fileLabeled(t, path))
	wg.Go(func() { newAccepted = addConcurrently(newR, 4, 5000) }) // the same records again
	<-oldDone
	waitClosed(t, oldR)
	wg.Wait()
	waitClosed(t, newR)

	if len(oldAccepted) != 20000 || len(newAccepted) != 20000 {
		t.Fatalf("expected both recorders to accept 20000 records, got %d and %d", len(oldAccepted), len(newAccepted))
	}
	got := readCSV(t, path) // fails on a torn or merged line
	if len(got) != 40000 {
		t.Errorf("expected 40000 lines, got %d", len(got))
	}
	want := counts(oldAccepted)
	for k, n := range counts(newAccepted) {
		want[k] += n
	}
	if d := diffCounts(want, counts(got)); d != "" {
		t.Errorf("file differs from the records added: %s", d)
	}
	if n := droppedOf(m, "file:"+path); n != 0 {
		t.Errorf("expected no drops, got %v", n)
	}
	if n := testutil.ToFloat64(m.QueueLength); n != 0 {
		t.Errorf("expected queue length 0 after both recorders closed, got %v", n)
	}
}

// ctxSink blocks each write until its context is done, as a network sink would.
type ctxSink struct {
	entered chan struct{}
	once    sync.Once
}

func (s *ctxSink) Write(ctx context.Context, _ Batch) error {
	s.once.Do(func() { close(s.entered) })
	<-ctx.Done()
	return ctx.Err()
}

func (s *ctxSink) Close() error { return nil }

// A sink whose write hangs must not hold up Close beyond the shut-down grace.
func TestRecorderCloseBoundsHungWrite(t *testing.T) {
	m := newMetrics()
	s := &ctxSink{entered: make(chan struct{})}
	r := NewRecorder(Options{Buffer: 10, Flush: 10 * time.Millisecond, Metrics: m, Log: &testLogger{}},
		[]Labeled{{Label: "hung", Sink: s}})
	if !r.Add(rec(0, 0)) {
		t.Fatal("expected Add to succeed")
	}
	select {
	case <-s.entered:
	case <-time.After(waitTimeout):
		t.Fatal("the sink was never written to")
	}
	waitClosed(t, r)
	if n := droppedOf(m, "hung"); n != 1 {
		t.Errorf("expected the record counted as dropped, got %v", n)
	}
}

func TestRecorderPseudonymizes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.csv")
	r := startRecorder(t, Options{Buffer: 100, Flush: time.Hour, Metrics: newMetrics(), Log: &testLogger{},
		Pseudonymize: strings.ToUpper}, fileLabeled(t, path))
	for _, id := range []string{"abc", "def"} {
		if !r.Add(Record{Time: time.Unix(1795317425, 0), Version: "19", Instance: id}) {
			t.Fatal("expected Add to queue the record")
		}
	}
	r.Close()
	got := readCSV(t, path)
	if len(got) != 2 || got[0].Instance != "ABC" || got[1].Instance != "DEF" {
		t.Errorf("expected the instances ABC and DEF as Pseudonymize made them, got %+v", got)
	}
}
