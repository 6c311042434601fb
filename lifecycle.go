package mailustats

import (
	"fmt"

	clog "github.com/coredns/coredns/plugin/pkg/log"

	"github.com/mailustats/mailustats/plugin/report"
	"github.com/mailustats/mailustats/plugin/sink"
)

var log = clog.NewWithPlugin(pluginName)

// statsConns bounds the connections the statistics API and gauges open on the database.
const statsConns = 4

// start opens the sinks and starts the recorder; it runs in OnStartup, before the server serves.
func (m *MailuStats) start() error {
	sinks := make([]sink.Labeled, 0, len(m.cfg.sinks))
	for _, sl := range m.cfg.sinks {
		s, err := sl.opener.Open()
		if err != nil {
			for _, opened := range sinks {
				opened.Sink.Close()
			}
			return fmt.Errorf("%s:%d - sink %s: %w", sl.file, sl.line, sl.opener.Label(), err)
		}
		initSinkMetrics(sl.opener.Label())
		sinks = append(sinks, sink.Labeled{Label: sl.opener.Label(), Sink: s})
	}
	m.countNewInstances(sinks)
	opts := sink.Options{Buffer: m.cfg.buffer, Flush: m.cfg.flush, Metrics: recorderMetrics, Log: log}
	if m.hasher != nil {
		opts.Pseudonymize = m.hasher.Hash
	}
	m.recorder.Store(sink.NewRecorder(opts, sinks))
	if err := m.startStatistics(); err != nil {
		m.stop()
		return err
	}
	return nil
}

// newInstanceCounter is a sink that knows which instances it stores for the first time: the
// SQL sinks.
type newInstanceCounter interface {
	OnNewInstances(func(n int))
}

// countNewInstances counts the new instances the first SQL sink stores, so that two SQL sinks
// do not count each one twice.
func (m *MailuStats) countNewInstances(sinks []sink.Labeled) {
	for _, s := range sinks {
		if c, ok := s.Sink.(newInstanceCounter); ok {
			counter := newInstancesTotal.WithLabelValues(m.cfg.zones[0])
			c.OnNewInstances(func(n int) { counter.Add(float64(n)) })
			return
		}
	}
}

// startStatistics opens the first SQL sink for reading and starts the gauges and the API.
func (m *MailuStats) startStatistics() error {
	if m.cfg.stats == nil {
		return nil
	}
	db, err := m.cfg.stats.reader.OpenReader()
	if err != nil {
		return fmt.Errorf("statistics: %w", err)
	}
	db.SetMaxOpenConns(statsConns)
	m.store = report.NewStore(db, m.cfg.stats.dialect)
	m.gauges = newGauges(m.store, m.cfg.zones[0])
	m.gauges.start()
	if m.cfg.api == "" {
		return nil
	}
	m.api = &apiServer{addr: m.cfg.api, handler: report.NewHandler(m.store, report.Options{Title: m.cfg.title, Log: log})}
	if err := m.api.listen(); err != nil {
		return fmt.Errorf("%s - api: %w", m.cfg.apiLine, err)
	}
	return nil
}

// stop writes what was accepted and closes the sinks; it runs in OnShutdown, while the server
// may still be answering, so from here on valid names get SERVFAIL instead of a lost record.
func (m *MailuStats) stop() {
	m.releaseAPI()
	if m.gauges != nil {
		m.gauges.stop()
		m.gauges = nil
	}
	if m.store != nil {
		m.store.Close()
		m.store = nil
	}
	if rec := m.recorder.Load(); rec != nil {
		rec.Close()
	}
}

// releaseAPI stops the API and frees its address: at shut-down, and before a reload whose new
// instance listens on it.
func (m *MailuStats) releaseAPI() {
	if m.api != nil {
		m.api.close()
	}
}

// retakeAPI listens again after a reload failed and this instance stays.
func (m *MailuStats) retakeAPI() error {
	if m.api != nil {
		return m.api.listen()
	}
	return nil
}

// Ready implements the ready.Readiness interface: ready once the sinks are open and writing.
func (m *MailuStats) Ready() bool {
	rec := m.recorder.Load()
	return rec != nil && !rec.Closed() && rec.Healthy()
}
