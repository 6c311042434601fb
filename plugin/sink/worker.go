package sink

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// Retry timing of a failing sink, the longest one write may take, and how long a failing sink
// may keep trying at shut-down before its backlog is counted as dropped.
const (
	retryMin      = 100 * time.Millisecond
	retryMax      = 5 * time.Second
	writeTimeout  = 30 * time.Second
	shutdownGrace = 5 * time.Second
)

// worker owns one sink: it keeps that sink's backlog, so a slow or failing sink holds back
// nothing but itself.
type worker struct {
	label   string
	sink    Sink
	limit   int
	metrics Metrics
	log     Logger
	healthy atomic.Bool

	mu      sync.Mutex
	pending []Record
	wake    chan struct{}
	ctx     context.Context // ends when the worker is asked to stop
	cancel  context.CancelFunc
}

func newWorker(label string, s Sink, opts Options) *worker {
	w := &worker{
		label:   label,
		sink:    s,
		limit:   opts.Buffer,
		metrics: opts.Metrics,
		log:     opts.Log,
		wake:    make(chan struct{}, 1),
	}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	w.healthy.Store(true)
	return w
}

// offer appends batch to the backlog; what does not fit is dropped and counted.
func (w *worker) offer(batch []Record) {
	if len(batch) == 0 {
		return
	}
	w.mu.Lock()
	room := max(w.limit-len(w.pending), 0)
	take := min(room, len(batch))
	w.pending = append(w.pending, batch[:take]...)
	w.mu.Unlock()
	if dropped := len(batch) - take; dropped > 0 {
		w.metrics.SinkDropped.WithLabelValues(w.label).Add(float64(dropped))
	}
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// stop asks the worker to write its backlog and close the sink.
func (w *worker) stop() { w.cancel() }

func (w *worker) run() {
	defer w.close()
	if p, ok := w.sink.(Preparer); ok {
		w.healthy.Store(false)
		if !w.retry(w.ctx, p.Prepare) {
			w.finish()
			return
		}
	}
	for {
		select {
		case <-w.wake:
			w.drain(w.ctx)
		case <-w.ctx.Done():
			w.finish()
			return
		}
	}
}

// finish writes the backlog left at shut-down, giving a failing sink shutdownGrace.
func (w *worker) finish() {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	w.drain(ctx)
	w.mu.Lock()
	lost := len(w.pending)
	w.pending = nil
	w.mu.Unlock()
	if lost > 0 {
		w.metrics.SinkDropped.WithLabelValues(w.label).Add(float64(lost))
		w.log.Warningf("sink %s: %d records not stored at shut-down", w.label, lost)
	}
}

// drain writes the backlog in batches of at most MaxBatch until it is empty, retrying a failed
// batch with backoff until ctx ends.
func (w *worker) drain(ctx context.Context) {
	var records []Record
	for {
		w.mu.Lock()
		n := min(len(w.pending), MaxBatch)
		records = append(records[:0], w.pending[:n]...)
		w.mu.Unlock()
		if n == 0 {
			return
		}
		batch := Batch{ID: uuid.NewString(), Records: records}
		write := func(ctx context.Context) error { return w.sink.Write(ctx, batch) }
		if !w.retry(ctx, write) {
			return
		}
		w.mu.Lock()
		w.pending = w.pending[n:]
		if len(w.pending) == 0 {
			w.pending = nil // let the backing array go after a burst
		}
		w.mu.Unlock()
	}
}

// retry calls op until it succeeds, with backoff; it returns false if ctx ended first. Each
// attempt gets at most writeTimeout, so a hung connection is given up and tried again.
func (w *worker) retry(ctx context.Context, op func(context.Context) error) bool {
	delay := retryMin
	for {
		attempt, cancel := context.WithTimeout(ctx, writeTimeout)
		err := op(attempt)
		cancel()
		if err == nil {
			if !w.healthy.Swap(true) {
				w.log.Infof("sink %s: writing", w.label)
			}
			return true
		}
		w.metrics.SinkErrors.WithLabelValues(w.label).Inc()
		if w.healthy.Swap(false) {
			w.log.Warningf("sink %s: %v; retrying", w.label, err)
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(delay):
		}
		delay = min(2*delay, retryMax)
	}
}

func (w *worker) close() {
	if err := w.sink.Close(); err != nil {
		w.log.Warningf("sink %s: close: %v", w.label, err)
	}
}
