package mailustats

import (
	"fmt"

	clog "github.com/coredns/coredns/plugin/pkg/log"

	"github.com/mailustats/mailustats/plugin/sink"
)

var log = clog.NewWithPlugin(pluginName)

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
	m.recorder.Store(sink.NewRecorder(sink.Options{
		Buffer:  m.cfg.buffer,
		Flush:   m.cfg.flush,
		Metrics: recorderMetrics,
		Log:     log,
	}, sinks))
	return nil
}

// stop writes what was accepted and closes the sinks; it runs in OnShutdown, while the server
// may still be answering, so from here on valid names get SERVFAIL instead of a lost record.
func (m *MailuStats) stop() {
	if rec := m.recorder.Load(); rec != nil {
		rec.Close()
	}
}

// Ready implements the ready.Readiness interface: ready once the sinks are open and writing.
func (m *MailuStats) Ready() bool {
	rec := m.recorder.Load()
	return rec != nil && !rec.Closed() && rec.Healthy()
}
