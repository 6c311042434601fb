//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// latencyLoad is the share of the baseline's best rate the latency phase sends.
const latencyLoad = 0.5

// prepare starts the report of a run in mode and writes its query file, of instances valid
// names and the given shares of malformed and one-label ones, into a new temporary directory,
// which the caller removes.
func prepare(ctx context.Context, o options, mode string, instances int, malformed, partial float64) (rep report, tmp, queries string, err error) {
	rep = report{Mode: mode, Started: time.Now().UTC(), Options: o, Machine: machineInfo(ctx, o)}
	rep.LoadAvg[0] = loadAvg()
	if tmp, err = os.MkdirTemp("", "mailustats-bench-"); err != nil {
		return rep, "", "", err
	}
	queries = filepath.Join(tmp, "queries.txt")
	rep.Queries, err = writeQueryFile(queries, o.Seed, instances, malformed, partial)
	if err != nil {
		os.RemoveAll(tmp)
	}
	return rep, tmp, queries, err
}

// benchThroughput runs the rounds at full rate, then the latency phase, prints the table and
// writes the results; it reports whether every sink stored every recorded query.
func benchThroughput(ctx context.Context, o options) (bool, error) {
	rep, tmp, queries, err := prepare(ctx, o, "throughput", o.Instances, malformedShare, partialShare)
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(tmp)
	fmt.Printf("%d queries (%d valid instances, %d malformed, %d one-label), %d round(s) of %s per configuration, dnsperf -c %d -q %d -T %d\n",
		rep.Queries.Names, rep.Queries.Valid, rep.Queries.Malformed, rep.Queries.Partial, o.Rounds, o.Duration, o.Clients, o.Outstanding, o.Threads)

	args := perfArgs{File: queries, Limit: o.Duration, Clients: o.Clients, Outstanding: o.Outstanding, Threads: o.Threads}
	for round := 1; round <= o.Rounds; round++ {
		for _, c := range configs {
			r, err := measure(ctx, o, c, tmp, args, nil)
			r.setPhase(phaseThroughput, round)
			if err != nil {
				return false, fmt.Errorf("round %d, %s: %w", round, c.Name, err)
			}
			progress(r)
			rep.Runs = append(rep.Runs, r)
		}
	}

	rate := int(latencyLoad * bestQPS(rep.Runs, configs[0].Name))
	if rate < 1 {
		return false, fmt.Errorf("the baseline answered no queries")
	}
	for _, c := range configs {
		a := args
		a.Rate, a.Verbose = rate, true
		r, err := measure(ctx, o, c, tmp, a, nil)
		r.setPhase(phaseLatency, 0)
		if err != nil {
			return false, fmt.Errorf("latency phase, %s: %w", c.Name, err)
		}
		progress(r)
		rep.Runs = append(rep.Runs, r)
	}

	rep.Summary = summarize(rep.Runs)
	rep.OK = allStored(rep.Runs)
	rep.Finished = time.Now().UTC()
	rep.LoadAvg[1] = loadAvg()
	fmt.Println()
	printSummary(os.Stdout, rep)
	path, err := rep.write(o.Results)
	if err != nil {
		return false, err
	}
	fmt.Printf("\nresults: %s\n", path)
	return rep.OK, nil
}

// bestQPS is the highest rate a configuration reached in the throughput runs.
func bestQPS(runs []runResult, config string) float64 {
	best := 0.0
	for _, r := range runs {
		if r.Phase == phaseThroughput && r.Config == config {
			best = max(best, r.Dnsperf.QPS)
		}
	}
	return best
}

// allStored reports whether every run with a sink, discarded attempts included, stored every
// recorded query.
func allStored(runs []runResult) bool {
	for _, r := range runs {
		if r.Records != nil && !r.Records.OK || !allStored(r.Discarded) {
			return false
		}
	}
	return true
}

// progress prints one line as each run ends.
func progress(r runResult) {
	line := fmt.Sprintf("%-10s %-24s %9.0f q/s  lost %d  avg %s", r.Phase, r.Config, r.Dnsperf.QPS, r.Dnsperf.Lost, ms(r.Dnsperf.AvgLatency))
	if r.Phase == phaseLatency {
		line += fmt.Sprintf("  p50 %s p99 %s p99.9 %s at -Q %d", ms(r.Quantiles["p50"]), ms(r.P99Latency), ms(r.Quantiles["p99.9"]), r.Rate)
	}
	line += fmt.Sprintf("  cpu coredns %.2f dnsperf %.2f others %.2f kernel %.2f", r.CPU.CoreDNS, r.CPU.Dnsperf, r.CPU.Foreign, r.CPU.Kernel)
	if rc := r.Records; rc != nil {
		line += fmt.Sprintf("  recorded %d stored %d", rc.Recorded, rc.Stored)
		if !rc.OK {
			line += "  FAILED: " + rc.Error
		}
	}
	fmt.Println(line)
}
