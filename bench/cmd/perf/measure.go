//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/mailustats/mailustats/internal/testutil/corednstest"
)

// Phases of the benchmark.
const (
	phaseThroughput = "throughput" // dnsperf at full rate
	phaseLatency    = "latency"    // dnsperf at half the baseline's rate, every latency kept
	phaseMemory     = "memory"     // one pass over distinct instances
)

// runResult is one dnsperf run against a freshly started server.
type runResult struct {
	Phase   string     `json:"phase"`
	Round   int        `json:"round,omitempty"`
	Config  string     `json:"config"`
	Rate    int        `json:"rate,omitempty"` // dnsperf -Q
	Dnsperf perfResult `json:"dnsperf"`

	// From the -v lines of the latency phase, in seconds.
	Samples    int                `json:"latency_samples,omitempty"`
	AvgLatency float64            `json:"avg_latency_s,omitempty"`
	P99Latency float64            `json:"p99_latency_s,omitempty"`
	Quantiles  map[string]float64 `json:"latency_quantiles_s,omitempty"` // p50 ... max

	// The machine's busy cores just before the run, and whether that was below quietBusy.
	BusyBefore float64 `json:"busy_before_cores"`
	Quiet      bool    `json:"quiet"`

	CPU     cpuUse       `json:"cpu"`
	Records *recordCheck `json:"records,omitempty"` // for the configurations with a sink

	// Earlier attempts at this run, discarded because other processes took more than
	// foreignMax cores meanwhile.
	Discarded []runResult `json:"discarded,omitempty"`
}

// recordCheck compares what the plugin answered as recorded with what its sink stored.
type recordCheck struct {
	counters
	Stored int64  `json:"stored"`
	OK     bool   `json:"ok"` // Stored == Recorded, nothing dropped
	Error  string `json:"error,omitempty"`
}

// fail records why the check failed.
func (rc *recordCheck) fail(err error) {
	rc.OK = false
	if rc.Error != "" {
		rc.Error += "; "
	}
	rc.Error += err.Error()
}

// setPhase names the run and its discarded attempts.
func (r *runResult) setPhase(phase string, round int) {
	r.Phase, r.Round = phase, round
	for i := range r.Discarded {
		r.Discarded[i].setPhase(phase, round)
	}
}

// foreignMax is the CPU other processes may take during a run before it is run again.
const foreignMax = 0.1 // cores

// measure runs measureOnce until other processes leave the CPUs to the run, at most 1+o.Retries
// times.
func measure(ctx context.Context, o options, c config, tmp string, a perfArgs, watch func(*corednstest.Server)) (runResult, error) {
	var discarded []runResult
	for attempt := 0; ; attempt++ {
		r, err := measureOnce(ctx, o, c, tmp, a, watch)
		if err != nil || r.CPU.Foreign <= foreignMax || attempt == o.Retries {
			r.Discarded = discarded
			return r, err
		}
		fmt.Printf("  other processes took %.2f cores during %s (%.0f q/s; %s); running it again\n",
			r.CPU.Foreign, c.Name, r.Dnsperf.QPS, strings.Join(r.CPU.ForeignTop, ", "))
		discarded = append(discarded, r)
	}
}

// measureOnce starts the configuration's server in a fresh directory under tmp, runs dnsperf
// against it, and for a configuration with a sink reads the counters, stops the server and
// counts what its sink stored. watch, if not nil, is called with the server once it answers.
func measureOnce(ctx context.Context, o options, c config, tmp string, a perfArgs, watch func(*corednstest.Server)) (runResult, error) {
	r := runResult{Config: c.Name, Rate: a.Rate}
	var err error
	if r.BusyBefore, r.Quiet, err = waitQuiet(ctx, o.QuietWait); err != nil {
		return r, err
	}
	dir, err := os.MkdirTemp(tmp, "run-")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(dir)
	srv, err := startServer(o.CoreDNS, c, dir)
	if err != nil {
		return r, err
	}
	running := true
	defer func() {
		if running {
			srv.Kill()
		}
	}()
	if watch != nil {
		watch(srv)
	}

	a.Port = srv.Ports["port"]
	res, cpu, err := runDnsperf(ctx, o.Dnsperf, srv.Cmd.Process.Pid, a)
	if err != nil {
		return r, err
	}
	r.Dnsperf, r.CPU = res, cpu
	if len(res.Latencies) > 0 {
		r.Samples = len(res.Latencies)
		r.AvgLatency = mean(res.Latencies)
		r.P99Latency = percentile(res.Latencies, 99)
		r.Quantiles = map[string]float64{}
		for _, p := range []float64{50, 90, 99, 99.9, 100} {
			r.Quantiles[quantileName(p)] = percentile(res.Latencies, p)
		}
		r.Dnsperf.Latencies = nil
	}

	if c.Sink == "" {
		running = false
		return r, stopServer(srv)
	}
	rc := &recordCheck{OK: true}
	r.Records = rc
	cnt, err := settledCounters(ctx, metricsAddr(srv.Ports))
	rc.counters = cnt
	if err != nil {
		rc.fail(fmt.Errorf("metrics: %w", err))
	}
	running = false
	if err := stopServer(srv); err != nil {
		rc.fail(err)
	}
	stored, err := storedRecords(ctx, c, dir)
	rc.Stored = stored
	switch {
	case err != nil:
		rc.fail(fmt.Errorf("counting the stored records: %w", err))
	case stored != cnt.Recorded:
		rc.fail(fmt.Errorf("stored %d records, answered %d as recorded", stored, cnt.Recorded))
	}
	if cnt.Dropped != 0 || cnt.SinkDropped != 0 {
		rc.fail(fmt.Errorf("dropped %d, sink dropped %d", cnt.Dropped, cnt.SinkDropped))
	}
	return r, ctx.Err()
}
