package mailustats

import (
	"github.com/coredns/coredns/plugin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/mailustats/mailustats/plugin/sink"
)

// Values of the result label of queriesTotal.
const (
	resultRecorded    = "recorded"    // a valid name, queued for the sinks
	resultUnlisted    = "unlisted"    // a valid name whose version the versions option leaves out
	resultPartial     = "partial"     // one label below the zone
	resultApex        = "apex"        // the zone itself
	resultNameServer  = "nameserver"  // a name server of the zone, for its addresses
	resultMalformed   = "malformed"   // anything else in the zone
	resultRefused     = "refused"     // a zone transfer (AXFR, IXFR), or not class IN
	resultNotImp      = "notimp"      // not a plain query (opcode NOTIFY, UPDATE...)
	resultUnavailable = "unavailable" // a valid name while shutting down, answered SERVFAIL
)

var results = []string{resultRecorded, resultUnlisted, resultPartial, resultApex, resultNameServer,
	resultMalformed, resultRefused, resultNotImp, resultUnavailable}

var (
	// queriesTotal counts the queries for names in the plugin's zones, by what was made of them.
	queriesTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "queries_total",
		Help:      "Counter of queries for names in the mailustats zones, by result.",
	}, []string{"server", "result"})
	// droppedTotal counts valid names answered but not recorded because the queue was full.
	droppedTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "dropped_total",
		Help:      "Counter of valid names not recorded because the queue was full.",
	}, []string{"server"})
	// newInstancesTotal counts the instances stored for the first time, by the block's first
	// zone: a spike is a flood of invented instance IDs.
	newInstancesTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "new_instances_total",
		Help:      "Counter of instances stored for the first time, by zone.",
	}, []string{"zone"})
	// sinkErrorsTotal counts failed writes, by sink.
	sinkErrorsTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "sink_errors_total",
		Help:      "Counter of failed sink writes, by sink.",
	}, []string{"sink"})
	// sinkDroppedTotal counts queued records a sink never stored: its backlog was full, or it
	// was still failing at shut-down.
	sinkDroppedTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "sink_dropped_total",
		Help:      "Counter of queued records a sink never stored, by sink.",
	}, []string{"sink"})
	// activeInstances is the distinct instances that announced themselves in a window, by zone
	// and the last version they reported there; refreshed from the SQL sink.
	activeInstances = newActiveSeries()
	// buildInfo says which mailustats the binary is, as BuildIdentity does.
	buildInfo = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "build_info",
		Help:      "A metric with a constant '1' value labeled by the version and revision of mailustats.",
	}, []string{"version", "revision"})
	// queueLength is the number of records waiting to be handed to the sinks.
	queueLength = promauto.NewGauge(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "queue_length",
		Help:      "Records waiting in the queue for the sinks.",
	})
)

func init() {
	prometheus.MustRegister(activeInstances)
	buildInfo.WithLabelValues(BuildIdentity()).Set(1)
}

// recorderMetrics are the metrics the recorder keeps itself.
var recorderMetrics = sink.Metrics{SinkErrors: sinkErrorsTotal, SinkDropped: sinkDroppedTotal, QueueLength: queueLength}

// initMetrics creates every label value of the server's counters at 0, so that rate() and
// increase() see the first event.
func initMetrics(servers []string) {
	for _, s := range servers {
		for _, r := range results {
			queriesTotal.WithLabelValues(s, r)
		}
		droppedTotal.WithLabelValues(s)
	}
}

// initSinkMetrics does the same for a sink's counters.
func initSinkMetrics(label string) {
	sinkErrorsTotal.WithLabelValues(label)
	sinkDroppedTotal.WithLabelValues(label)
}
