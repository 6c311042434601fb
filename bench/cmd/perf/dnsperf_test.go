//go:build linux

package main

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// dnsperfOutput is the standard output of dnsperf 2.10 -v, shortened.
const dnsperfOutput = `DNS Performance Testing Tool
Version 2.10.0

[Status] Command line: dnsperf -s 127.0.0.1 -p 15353 -d q.txt -n 1 -v
[Status] Sending queries (to 127.0.0.1:15353)
[Status] Started at: Sun Nov 22 04:14:14 2026
[Status] Stopping after 1 run through file
> NXDOMAIN 19.0b7c3d3e-1111-4222-8333-444455556666.stats.mailu.io A 0.000407
> NXDOMAIN 18.0b7c3d3e-1111-4222-8333-44445555666.stats.mailu.io A 0.000256
[Timeout] Query timed out: msg id 51151
> T 2024-06.31B188AC-bDe8-474C-8371-F2e428091642.STAts.MAILu.iO A
> NOERROR 0b7c3d3e-1111-4222-8333-444455556666.stats.mailu.io A 0.000248
[Status] Testing complete (end of file)

Statistics:

  Queries sent:         4
  Queries completed:    3 (75.00%)
  Queries lost:         1 (25.00%)

  Response codes:       NOERROR 1 (33.33%), NXDOMAIN 2 (66.67%)
  Average packet size:  request 70, response 162
  Run time (s):         0.001475
  Queries per second:   2033.898305

  Average Latency (s):  0.000303 (min 0.000248, max 0.000407)
  Latency StdDev (s):   0.000090

`

func TestParseOutput(t *testing.T) {
	want := perfResult{Sent: 4, Completed: 3, Lost: 1, QPS: 2033.898305, AvgLatency: 0.000303, RunTime: 0.001475}
	for _, keep := range []bool{false, true} {
		got, err := parseOutput(strings.NewReader(dnsperfOutput), keep)
		if err != nil {
			t.Fatal(err)
		}
		lats := got.Latencies
		got.Latencies = nil
		if !reflect.DeepEqual(got, want) {
			t.Errorf("keep %v: expected %+v, got %+v", keep, want, got)
		}
		wantLats := []float32{0.000407, 0.000256, 0.000248}
		if !keep {
			wantLats = nil
		}
		if !slices.Equal(lats, wantLats) {
			t.Errorf("keep %v: expected latencies %v, got %v", keep, wantLats, lats)
		}
	}
}

func TestParseOutputBadLatency(t *testing.T) {
	if _, err := parseOutput(strings.NewReader("> NOERROR x.stats.mailu.io A soon\n"), true); err == nil {
		t.Error("expected an error for a latency that is not a number")
	}
}

func TestPerfArgs(t *testing.T) {
	a := perfArgs{Port: 1053, File: "q.txt", Limit: 1500 * time.Millisecond, Clients: 4, Outstanding: 200, Threads: 1, Rate: 1000, Verbose: true, Runs: 1}
	want := "-s 127.0.0.1 -p 1053 -d q.txt -l 1.5 -c 4 -q 200 -T 1 -n 1 -Q 1000 -v"
	if got := strings.Join(a.args(), " "); got != want {
		t.Errorf("expected %q, got %q", want, got)
	}
}

func TestParseDecimal(t *testing.T) {
	tests := []struct {
		in   string
		want float32
		ok   bool
	}{
		{"0.000335", 0.000335, true},
		{"1.5", 1.5, true},
		{"12", 12, true},
		{"", 0, false},
		{".5", 0, false},
		{"5.", 0, false},
		{"1.2.3", 0, false},
		{"1e-3", 0, false},
		{"-1.0", 0, false},
		{"0.0000000000000000001", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseDecimal([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseDecimal(%q): expected %v, %v, got %v, %v", tt.in, tt.want, tt.ok, got, ok)
		}
	}
	// Forms the fast path declines still parse.
	if got, err := verboseLatency([]byte("> NOERROR x A 1e-3")); err != nil || got != 0.001 {
		t.Errorf("expected 0.001, got %v, %v", got, err)
	}
}

func BenchmarkParseOutput(b *testing.B) {
	var buf strings.Builder
	for range 10000 {
		buf.WriteString("> NXDOMAIN 19.0b7c3d3e-1111-4222-8333-444455556666.stats.mailu.io A 0.000407\n")
	}
	text := buf.String()
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseOutput(strings.NewReader(text), true); err != nil {
			b.Fatal(err)
		}
	}
}
