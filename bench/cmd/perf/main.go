//go:build linux

// Command perf benchmarks mailustats with dnsperf against CoreDNS's whoami plugin as a baseline:
// queries per second at saturation, latency at half the baseline's rate, and whether every query
// answered as recorded reached its sink. With -memory N it measures the server's memory over N
// distinct instances instead. Run it through bench/run.sh (`make bench`, `make bench-memory`)
// from the repository's root; it needs Linux (/proc) and dnsperf.
//
// Every run starts a fresh server on 127.0.0.1 with its own Corefile, port and sink, after
// waiting for the machine to be idle, and is run again when other processes took the CPUs
// meanwhile. dnsperf and CoreDNS share the machine, so the rates are those of the pair: on two
// cores, -c 4 -q 200 saturates it (fewer outstanding queries leave the server idle at times,
// more only add queueing and lost queries) and is kept for every configuration.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() { os.Exit(run()) }

// run returns the exit status: 0 when every check passed, 1 when a sink lost records, 2 on an
// error that stopped the benchmark.
func run() int {
	o, err := parseOptions(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "perf:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var ok bool
	if o.Memory > 0 {
		ok, err = benchMemory(ctx, o)
	} else {
		ok, err = benchThroughput(ctx, o)
	}
	switch {
	case err != nil:
		fmt.Fprintln(os.Stderr, "perf:", err)
		return 2
	case !ok:
		fmt.Fprintln(os.Stderr, "perf: FAILED: a sink did not store every recorded query (see above)")
		return 1
	}
	return 0
}
