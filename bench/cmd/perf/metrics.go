//go:build linux

package main

import (
	"context"
	"fmt"
	"time"

	"github.com/mailustats/mailustats/internal/testutil/promtext"
)

// The metrics of the plugin that tell whether a sink kept every record.
const (
	metricQueries     = "coredns_mailustats_queries_total"
	metricDropped     = "coredns_mailustats_dropped_total"
	metricSinkDropped = "coredns_mailustats_sink_dropped_total"
)

// counters are the plugin's record counters, summed over their series.
type counters struct {
	Recorded    int64 `json:"recorded"`     // queries answered as recorded
	Dropped     int64 `json:"dropped"`      // answered but not queued: the queue was full
	SinkDropped int64 `json:"sink_dropped"` // queued but never stored by a sink
}

// Bounds of scraping.
const (
	scrapeTimeout = 5 * time.Second
	settleEvery   = 200 * time.Millisecond
	settleTimeout = 5 * time.Second
)

// settledCounters scrapes the counters until two scrapes in a row agree, so that queries still
// in the server's socket buffer when dnsperf stopped are counted.
func settledCounters(ctx context.Context, addr string) (counters, error) {
	last, err := scrapeCounters(ctx, addr)
	if err != nil {
		return last, err
	}
	deadline := time.Now().Add(settleTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-time.After(settleEvery):
		}
		c, err := scrapeCounters(ctx, addr)
		if err != nil {
			return last, err
		}
		if c == last {
			return c, nil
		}
		last = c
	}
	return last, fmt.Errorf("metrics at %s still moving after %s", addr, settleTimeout)
}

// scrapeCounters reads the counters from the prometheus plugin at addr.
func scrapeCounters(ctx context.Context, addr string) (counters, error) {
	ctx, cancel := context.WithTimeout(ctx, scrapeTimeout)
	defer cancel()
	m, err := promtext.Scrape(ctx, addr)
	if err != nil {
		return counters{}, err
	}
	return countersOf(m), nil
}

// countersOf sums the counters over their series in a scrape.
func countersOf(m promtext.Metrics) counters {
	sum := func(name string, match ...string) int64 {
		v, _ := m.Sum(name, match...)
		return int64(v)
	}
	return counters{
		Recorded:    sum(metricQueries, "result", "recorded"),
		Dropped:     sum(metricDropped),
		SinkDropped: sum(metricSinkDropped),
	}
}
