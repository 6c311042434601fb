//go:build linux

package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestSummarize(t *testing.T) {
	run := func(phase, config string, qps, p99 float64, lost int64) runResult {
		return runResult{Phase: phase, Config: config, Dnsperf: perfResult{QPS: qps, Lost: lost}, P99Latency: p99}
	}
	base, file := configs[0].Name, configs[1].Name
	runs := []runResult{
		run(phaseThroughput, base, 100, 0, 1), run(phaseThroughput, file, 90, 0, 0),
		run(phaseThroughput, base, 80, 0, 2), run(phaseThroughput, file, 60, 0, 0),
		run(phaseLatency, base, 45, 0.002, 0), run(phaseLatency, file, 45, 0.003, 4),
	}
	rows := summarize(runs)
	if len(rows) != len(configs) {
		t.Fatalf("expected %d rows, got %d", len(configs), len(rows))
	}
	if r := rows[0]; r.QPSMean != 90 || r.QPSMin != 80 || r.Lost != 3 || r.QPSRatio != 1 || r.P99Ratio != 1 {
		t.Errorf("baseline: expected mean 90, min 80, lost 3, ratios 1, got %+v", r)
	}
	if r := rows[1]; r.QPSMean != 75 || r.QPSMin != 60 || r.Lost != 4 || r.QPSRatio != 75.0/90 || r.P99Ratio != 1.5 {
		t.Errorf("file: expected mean 75, min 60, lost 4, ratios 0.83 and 1.5, got %+v", r)
	}
	if got := bestQPS(runs, base); got != 100 {
		t.Errorf("expected the baseline's best rate 100, got %v", got)
	}
}

func TestAllStored(t *testing.T) {
	ok := runResult{Records: &recordCheck{OK: true}}
	bad := runResult{Records: &recordCheck{OK: false}}
	if !allStored([]runResult{{}, ok}) {
		t.Error("expected runs that stored everything to pass")
	}
	if allStored([]runResult{ok, bad}) {
		t.Error("expected a run that lost records to fail")
	}
	if allStored([]runResult{{Records: &recordCheck{OK: true}, Discarded: []runResult{bad}}}) {
		t.Error("expected a discarded attempt that lost records to fail")
	}
}

func TestPrintSummary(t *testing.T) {
	rec := &recordCheck{counters: counters{Recorded: 10}, Stored: 9}
	rep := report{Runs: []runResult{{Phase: phaseThroughput, Round: 1, Config: configs[1].Name, Records: rec}}}
	rep.Summary = summarize(rep.Runs)
	var buf bytes.Buffer
	printSummary(&buf, rep)
	if out := buf.String(); !strings.Contains(out, "FAILED") || !strings.Contains(out, configs[2].Name) {
		t.Errorf("expected every configuration and the failed check in the table, got\n%s", out)
	}
}
