package sink

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// Retry timing of a failing sink and the longest one write may take.
const (
	retryMin     = 100 * time.Millisecond
	retryMax     = 5 * time.Second
	writeTimeout = 30 * time.Second
)

// ShutdownGrace is how long a failing sink may keep trying at shut-down before its backlog is
// counted as dropped; a sink's own waits that cannot be cut short must end before it.
const ShutdownGrace = 5 * time.Second

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

	// head is the batch at the front of pending whose write has not been confirmed: a write
	// that failed or was cut short may still have been stored, so it is retried with the same
	// ID and the same records, never merged into a new batch.
	head Batch

	quit      chan struct{}      // closed when the worker is asked to stop
	deadline  context.Context    // ends ShutdownGrace after quit: writes in flight are cut short
	expire    context.CancelFunc // ends deadline
	stopTimer *time.Timer
}

func newWorker(label string, s Sink, opts Options) *worker {
	w := &worker{
		label:   label,
		sink:    s,
		limit:   opts.Buffer,
		metrics: opts.Metrics,
		log:     opts.Log,
		wake:    make(chan struct{}, 1),
		quit:    make(chan struct{}),
	}
	w.deadline, w.expire = context.WithCancel(context.Background())
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

// stop asks the worker to write its backlog and close the sink. Writes in flight may finish;
// after ShutdownGrace they are cut short and the rest is counted as dropped.
func (w *worker) stop() {
	w.stopTimer = time.AfterFunc(ShutdownGrace, w.expire)
	close(w.quit) // after the timer is set: close reads it once quit is seen
}

func (w *worker) run() {
	defer w.close()
	if p, ok := w.sink.(Preparer); ok {
		w.healthy.Store(false)
		if !w.retry(w.quit, p.Prepare) {
			w.finish()
			return
		}
	}
	for {
		select {
		case <-w.wake:
			w.drain(w.quit)
		case <-w.quit:
			w.finish()
			return
		}
	}
}

// finish writes the backlog left at shut-down, until the deadline.
func (w *worker) finish() {
	w.drain(w.deadline.Done())
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
// batch with backoff until giveUp is closed.
func (w *worker) drain(giveUp <-chan struct{}) {
	for {
		if w.head.Records == nil {
			w.mu.Lock()
			n := min(len(w.pending), MaxBatch)
			w.head = Batch{ID: uuid.NewString(), Records: w.pending[:n:n], Behind: func() bool { return w.behind(n) }}
			w.mu.Unlock()
			if n == 0 {
				w.head = Batch{}
				return
			}
		}
		write := func(ctx context.Context) error { return w.sink.Write(ctx, w.head) }
		if !w.retry(giveUp, write) {
			return
		}
		w.mu.Lock()
		// Move what arrived meanwhile to the front, keeping the backing array for the next
		// records rather than making garbage of it at every write.
		left := copy(w.pending, w.pending[len(w.head.Records):])
		clear(w.pending[left:])
		w.pending = w.pending[:left]
		w.mu.Unlock()
		w.head = Batch{}
	}
}

// hurryShare is the share of the backlog that, waiting behind a batch, makes the sink hurry:
// a quarter, so that a hand-off, up to half the backlog, still finds room while the sink
// catches up at full speed.
const hurryShare = 4

// behind reports whether a quarter of the backlog waits behind a head batch of n records, or
// the worker is asked to stop; the sink writes in a hurry then. Until then it has time to
// spare: a few records behind the batch are written soon enough at the sink's resting pace,
// which leaves the processors to the answers.
func (w *worker) behind(n int) bool {
	select {
	case <-w.quit:
		return true
	default:
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.pending)-n >= max(1, w.limit/hurryShare)
}

// retry calls op until it succeeds, waiting with backoff between attempts; it returns false if
// giveUp closed first. Each attempt gets at most writeTimeout, so a hung connection is given up
// and tried again, and ends at the shut-down deadline.
func (w *worker) retry(giveUp <-chan struct{}, op func(context.Context) error) bool {
	delay := retryMin
	for {
		attempt, cancel := context.WithTimeout(w.deadline, writeTimeout)
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
		case <-giveUp:
			return false
		case <-time.After(delay):
		}
		delay = min(2*delay, retryMax)
	}
}

func (w *worker) close() {
	if w.stopTimer != nil {
		w.stopTimer.Stop()
	}
	w.expire()
	if err := w.sink.Close(); err != nil {
		w.log.Warningf("sink %s: close: %v", w.label, err)
	}
}
