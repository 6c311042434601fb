package mailustats

import (
	"sync"

	"github.com/coredns/coredns/plugin"
	"github.com/prometheus/client_golang/prometheus"
)

// activeCount is the value of one active_instances series of a zone.
type activeCount struct {
	version, window string
	instances       int64
}

// activeSeries is coredns_mailustats_active_instances. It is a collector rather than a GaugeVec
// so that the gauges of a zone replace all of its series at once, and so that after a reload the
// new instance's gauges own the zone's series: those the old instance set and the new one does
// not are gone with its first refresh, and the old instance's stop removes nothing it no
// longer owns.
type activeSeries struct {
	desc *prometheus.Desc

	mu     sync.Mutex
	byZone map[string]zoneSeries
}

// zoneSeries is a zone's series and the gauges that set them.
type zoneSeries struct {
	owner  *gauges
	counts []activeCount
}

func newActiveSeries() *activeSeries {
	return &activeSeries{
		desc: prometheus.NewDesc(
			prometheus.BuildFQName(plugin.Namespace, pluginName, "active_instances"),
			"Distinct instances that started in the window (1d: today, UTC), by their last version.",
			[]string{"zone", "version", "window"}, nil),
		byZone: map[string]zoneSeries{},
	}
}

// set replaces the series of zone with counts, owned by g from now on.
func (a *activeSeries) set(zone string, g *gauges, counts []activeCount) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.byZone[zone] = zoneSeries{owner: g, counts: counts}
}

// release removes the series of zone if g still owns them.
func (a *activeSeries) release(zone string, g *gauges) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.byZone[zone].owner == g {
		delete(a.byZone, zone)
	}
}

// Describe implements prometheus.Collector.
func (a *activeSeries) Describe(ch chan<- *prometheus.Desc) { ch <- a.desc }

// Collect implements prometheus.Collector.
func (a *activeSeries) Collect(ch chan<- prometheus.Metric) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for zone, s := range a.byZone {
		for _, c := range s.counts {
			ch <- prometheus.MustNewConstMetric(a.desc, prometheus.GaugeValue, float64(c.instances), zone, c.version, c.window)
		}
	}
}
