package sink

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// MaxBatch is the most records handed to a sink in one Write. Larger batches cost a SQL sink
// less per record (one transaction or statement each), so a sink that fell behind catches up
// in large ones.
const MaxBatch = 1 << 15

// Metrics are the counters the recorder keeps; all must be set.
type Metrics struct {
	SinkErrors  *prometheus.CounterVec // by sink: failed writes
	SinkDropped *prometheus.CounterVec // by sink: records a sink could not take or never stored
	QueueLength prometheus.Gauge       // records waiting in all recorders' queues
}

// Options configure a Recorder.
type Options struct {
	Buffer  int           // records the queue and each sink's backlog hold
	Flush   time.Duration // longest a record waits in the queue
	Metrics Metrics
	Log     Logger
	// Pseudonymize, when set, replaces each record's instance before any sink sees it.
	Pseudonymize func(instance string) string
}

// Recorder takes records from the DNS path without blocking and writes them to every sink in
// batches. Add is safe for concurrent use; Close waits until every accepted record was written
// or counted as dropped.
type Recorder struct {
	opts    Options
	queue   chan Record
	workers []*worker

	adding atomic.Int64 // Add calls between their closed check and their send
	closed atomic.Bool
	quit   chan struct{}
	done   sync.WaitGroup
	once   sync.Once
}

// Labeled is an open sink with the label it has in metrics and logs.
type Labeled struct {
	Label string
	Sink  Sink
}

// NewRecorder returns a recorder for the sinks, which it owns from then on and closes in Close.
func NewRecorder(opts Options, sinks []Labeled) *Recorder {
	r := &Recorder{
		opts:  opts,
		queue: make(chan Record, opts.Buffer),
		quit:  make(chan struct{}),
	}
	for _, s := range sinks {
		r.workers = append(r.workers, newWorker(s.Label, s.Sink, opts))
	}
	for _, w := range r.workers {
		r.done.Add(1)
		go func() { defer r.done.Done(); w.run() }()
	}
	r.done.Add(1)
	go func() { defer r.done.Done(); r.collect() }()
	return r
}

// Add queues rec. It returns false when the queue is full or the recorder is closing; the
// caller counts the first and must not report the record as stored in either case.
func (r *Recorder) Add(rec Record) (queued bool) {
	r.adding.Add(1)
	defer r.adding.Add(-1)
	if r.closed.Load() {
		return false
	}
	select {
	case r.queue <- rec:
		return true
	default:
		return false
	}
}

// Closed reports whether Close has begun.
func (r *Recorder) Closed() bool { return r.closed.Load() }

// Healthy reports whether every sink's last write succeeded.
func (r *Recorder) Healthy() bool {
	for _, w := range r.workers {
		if !w.healthy.Load() {
			return false
		}
	}
	return true
}

// Close stops accepting records, writes what was accepted and closes the sinks.
func (r *Recorder) Close() {
	r.once.Do(func() {
		r.closed.Store(true)
		for r.adding.Load() > 0 { // an Add that passed its check before Store is still sending
			runtime.Gosched()
		}
		close(r.quit)
	})
	r.done.Wait()
}

// collect drains the queue into batches and hands each batch to every worker when it is full
// or its first record has waited one flush interval. Timing the interval from the first record
// rather than with a ticker means a steady stream is handed off in full batches only, not each
// followed by the few records that came in before the tick.
func (r *Recorder) collect() {
	deadline := time.NewTimer(r.opts.Flush)
	defer deadline.Stop()
	b := batcher{r: r, limit: batchLimit(r.opts.Buffer)}
	b.batch = make([]Record, 0, b.limit)
	for {
		select {
		case rec := <-r.queue:
			if len(b.batch) == 0 {
				deadline.Reset(r.opts.Flush)
			}
			b.add(rec)
		case <-deadline.C:
			b.handOff()
		case <-r.quit:
			for len(r.queue) > 0 {
				b.add(<-r.queue)
			}
			b.handOff()
			for _, w := range r.workers {
				w.stop()
			}
			return
		}
	}
}

// batcher is the collector's state: the batch it fills and the queue length it last reported.
type batcher struct {
	r        *Recorder
	limit    int // hand off when the batch holds this many
	batch    []Record
	reported int
}

// batchLimit is the most records handed off at once: at most half a sink's backlog, so that a
// backlog can take a hand-off while the sink is still writing the previous one.
func batchLimit(buffer int) int { return max(1, min(MaxBatch, buffer/2)) }

func (b *batcher) add(rec Record) {
	if b.r.opts.Pseudonymize != nil {
		rec.Instance = b.r.opts.Pseudonymize(rec.Instance)
	}
	b.batch = append(b.batch, rec)
	if len(b.batch) == b.limit {
		b.handOff()
	}
}

// handOff gives the batch to every worker, which copy it, and reports the queue length.
func (b *batcher) handOff() {
	for _, w := range b.r.workers {
		w.offer(b.batch)
	}
	clear(b.batch) // the workers have copies; let the strings go with them
	b.batch = b.batch[:0]
	n := len(b.r.queue)
	b.r.opts.Metrics.QueueLength.Add(float64(n - b.reported))
	b.reported = n
}
