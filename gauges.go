package mailustats

import (
	"context"
	"strconv"
	"time"

	"github.com/mailustats/mailustats/plugin/report"
)

// gaugeInterval is how often the active-instance gauges are read from the database.
const gaugeInterval = time.Minute

// gaugeWindows are the windows of the active-instance gauges, in days.
var gaugeWindows = []int{1, 7, 30}

// gauges keeps coredns_mailustats_active_instances up to date from the database, removing the
// series of versions that left a window rather than leaving them at their last value.
type gauges struct {
	store    *report.Store
	interval time.Duration
	now      func() time.Time

	shown  map[string]map[string]bool // by window: the versions that have a series
	failed bool                       // the last refresh failed; logged once per state change
	quit   chan struct{}
	done   chan struct{}
}

func newGauges(store *report.Store) *gauges {
	return &gauges{store: store, interval: gaugeInterval, now: time.Now, shown: map[string]map[string]bool{}}
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

// stop ends the refreshing and waits for it; the series keep their last values, which a
// reloaded instance goes on refreshing.
func (g *gauges) stop() {
	close(g.quit)
	<-g.done
}

func (g *gauges) refresh() {
	ctx, cancel := context.WithTimeout(context.Background(), g.interval)
	defer cancel()
	for _, days := range gaugeWindows {
		window := strconv.Itoa(days) + "d"
		summary, err := g.store.Summary(ctx, report.LastDays(g.now(), days))
		if err != nil {
			if !g.failed {
				log.Warningf("active instance gauges: %v", err)
			}
			g.failed = true
			return
		}
		now := map[string]bool{}
		for _, v := range summary.Versions {
			activeInstances.WithLabelValues(v.Version, window).Set(float64(v.Instances))
			now[v.Version] = true
		}
		for v := range g.shown[window] {
			if !now[v] {
				activeInstances.DeleteLabelValues(v, window)
			}
		}
		g.shown[window] = now
	}
	if g.failed {
		log.Infof("active instance gauges: reading again")
	}
	g.failed = false
}
