//go:build linux

package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
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
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return counters{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return counters{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return counters{}, fmt.Errorf("GET %s: %s", req.URL, resp.Status)
	}
	return parseCounters(resp.Body)
}

// parseCounters reads the counters from the Prometheus text format.
func parseCounters(r io.Reader) (counters, error) {
	var c counters
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, labels, value, err := parseSample(line)
		if err != nil {
			return c, err
		}
		switch {
		case name == metricQueries && strings.Contains(labels, `result="recorded"`):
			c.Recorded += value
		case name == metricDropped:
			c.Dropped += value
		case name == metricSinkDropped:
			c.SinkDropped += value
		}
	}
	return c, sc.Err()
}

// parseSample splits a sample line, `name{labels} value`, and returns its value as an integer:
// every metric read here is a counter.
func parseSample(line string) (name, labels string, value int64, err error) {
	i := strings.LastIndexByte(line, ' ')
	if i < 0 {
		return "", "", 0, fmt.Errorf("metric line %q: no value", line)
	}
	series := line[:i]
	name, labels, _ = strings.Cut(series, "{")
	if !strings.HasPrefix(name, "coredns_mailustats_") {
		return name, labels, 0, nil
	}
	f, err := strconv.ParseFloat(line[i+1:], 64)
	if err != nil {
		return name, labels, 0, fmt.Errorf("metric line %q: %w", line, err)
	}
	return name, labels, int64(f), nil
}
