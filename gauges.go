package mailustats

import (
	"context"
	"strconv"
	"time"

	"github.com/mailustats/mailustats/plugin/report"
)

// gaugeInterval is how often the active-instance gauges are read from the database.
const gaugeInterval = time.Minute

// gaugeWindows are the windows of the active-instance gauges, in days. Each ends today, so
// Summary reads it from the instances' state, one index range, however long the window.
var gaugeWindows = []int{1, 7, 30, 90, 365}

// gaugeVersions bounds the version series of a zone's window, whatever versions outsiders
// announce: the largest versions keep a series each, and the rest are summed in otherVersion.
const gaugeVersions = 20

// otherVersion is the version label of the instances of the versions past gaugeVersions; no
// announced version can be spelled so.
const otherVersion = "(other)"

// gauges keeps a zone's series of coredns_mailustats_active_instances up to date from the
// database. Each refresh replaces all of the zone's series, so a version that left a window
// loses its series rather than keeping its last value.
type gauges struct {
	store    *report.Store
	zone     string
	interval time.Duration
	now      func() time.Time

	failed bool // the last refresh failed; logged once per state change
	quit   chan struct{}
	done   chan struct{}
}

func newGauges(store *report.Store, zone string) *gauges {
	return &gauges{store: store, zone: zone, interval: gaugeInterval, now: time.Now}
}

// start refreshes the gauges now and then every interval, until stop.
func (g *gauges) start() {
	g.quit, g.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(g.done)
		ticker := time.NewTicker(g.interval)
		defer ticker.Stop()
		for {
			g.refresh()
			select {
			case <-ticker.C:
			case <-g.quit:
				return
			}
		}
	}()
}

// stop ends the refreshing, waits for it and removes the zone's series, unless a reloaded
// instance has refreshed them since and owns them now.
func (g *gauges) stop() {
	close(g.quit)
	<-g.done
	activeInstances.release(g.zone, g)
}

func (g *gauges) refresh() {
	ctx, cancel := context.WithTimeout(context.Background(), g.interval)
	defer cancel()
	var counts []activeCount
	for _, days := range gaugeWindows {
		summary, err := g.store.Summary(ctx, report.LastDays(g.now(), days), 1)
		if err != nil {
			if !g.failed {
				log.Warningf("active instance gauges: %v", err)
			}
			g.failed = true
			return
		}
		window := strconv.Itoa(days) + "d"
		for i, v := range summary.Versions { // largest first
			if i < gaugeVersions {
				counts = append(counts, activeCount{version: v.Version, window: window, instances: v.Instances})
				continue
			}
			if i == gaugeVersions {
				counts = append(counts, activeCount{version: otherVersion, window: window})
			}
			counts[len(counts)-1].instances += v.Instances
		}
	}
	activeInstances.set(g.zone, g, counts)
	if g.failed {
		log.Infof("active instance gauges: reading again")
	}
	g.failed = false
}
