//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/mailustats/mailustats/internal/testutil/corednstest"
)

// sampleEvery is how often the memory mode reads the server's resident set.
const sampleEvery = 100 * time.Millisecond

// memoryResult is what the memory mode measured.
type memoryResult struct {
	PeakRSSMiB float64     `json:"peak_rss_mib"` // the larger of the sampled peak and VmHWM
	MaxRSSMiB  float64     `json:"max_sampled_rss_mib"`
	HWMMiB     float64     `json:"vm_hwm_mib"` // VmHWM, last read before the server exited
	Samples    []rssSample `json:"samples"`
}

// rssSample is the server's resident set at a moment after it started.
type rssSample struct {
	Seconds float64 `json:"t"`
	RSSKiB  int64   `json:"rss_kib"`
}

// rssSampler reads a process's VmRSS every sampleEvery until it exits.
type rssSampler struct {
	done    chan struct{}
	samples []rssSample
	hwm     int64 // KiB
}

// sampleRSS starts sampling srv until it exits.
func sampleRSS(srv *corednstest.Server) *rssSampler {
	s := &rssSampler{done: make(chan struct{})}
	start := time.Now()
	go func() {
		defer close(s.done)
		tick := time.NewTicker(sampleEvery)
		defer tick.Stop()
		for {
			if rss, hwm, err := memoryStatus(srv.Cmd.Process.Pid); err == nil {
				s.samples = append(s.samples, rssSample{Seconds: time.Since(start).Seconds(), RSSKiB: rss})
				s.hwm = hwm
			}
			select {
			case <-srv.Done:
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

// result waits for the sampling to end, which it does when the server has exited.
func (s *rssSampler) result() memoryResult {
	<-s.done
	m := memoryResult{Samples: s.samples, HWMMiB: mib(s.hwm)}
	for _, x := range s.samples {
		m.MaxRSSMiB = max(m.MaxRSSMiB, mib(x.RSSKiB))
	}
	m.PeakRSSMiB = max(m.MaxRSSMiB, m.HWMMiB)
	return m
}

func mib(kib int64) float64 { return float64(kib) / 1024 }

// benchMemory sends each of o.Memory distinct valid names once to mailustats with the sqlite
// sink, sampling the server's memory, and checks the sink stored every recorded query.
func benchMemory(ctx context.Context, o options) (bool, error) {
	rep, tmp, queries, err := prepare(ctx, o, "memory", o.Memory, 0, 0)
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(tmp)
	rateName := "full rate"
	if o.Rate > 0 {
		rateName = fmt.Sprintf("-Q %d", o.Rate)
	}
	fmt.Printf("%d distinct instances once each to %s at %s, dnsperf -c %d -q %d -T %d\n",
		o.Memory, sqliteConfig.Name, rateName, o.Clients, o.Outstanding, o.Threads)

	// One pass, bounded by the slowest rate worth measuring, with DURATION as the floor.
	limit := max(o.Duration, time.Duration(o.Memory/1000)*time.Second)
	args := perfArgs{File: queries, Limit: limit, Runs: 1, Clients: o.Clients, Outstanding: o.Outstanding, Threads: o.Threads, Rate: o.Rate}
	var sampler *rssSampler
	r, err := measure(ctx, o, sqliteConfig, tmp, args, func(s *corednstest.Server) { sampler = sampleRSS(s) })
	r.setPhase(phaseMemory, 0)
	if sampler != nil {
		mem := sampler.result() // the server has exited by now, or been killed on an error
		rep.Memory = &mem
	}
	if err != nil {
		return false, err
	}
	rep.Runs = []runResult{r}
	rep.OK = allStored(rep.Runs)
	rep.Finished = time.Now().UTC()
	rep.LoadAvg[1] = loadAvg()

	fmt.Println()
	printMemory(rep)
	path, err := rep.write(o.Results)
	if err != nil {
		return false, err
	}
	fmt.Printf("\nresults: %s\n", path)
	return rep.OK, nil
}

// printMemory prints the memory mode's figures.
func printMemory(rep report) {
	r, m := rep.Runs[0], rep.Memory
	fmt.Printf("peak RSS          %.1f MiB (VmHWM %.1f MiB, highest sample %.1f MiB, %d samples)\n",
		m.PeakRSSMiB, m.HWMMiB, m.MaxRSSMiB, len(m.Samples))
	fmt.Printf("queries/s         %s (sent %d, completed %d, lost %d, %.1f s)\n",
		thousands(r.Dnsperf.QPS), r.Dnsperf.Sent, r.Dnsperf.Completed, r.Dnsperf.Lost, r.Dnsperf.RunTime)
	fmt.Printf("CPU               coredns %.2f cores, dnsperf %.2f, other processes %.2f, kernel %.2f (while sending)\n",
		r.CPU.CoreDNS, r.CPU.Dnsperf, r.CPU.Foreign, r.CPU.Kernel)
	if rc := r.Records; rc != nil {
		fmt.Printf("recorded          %d\nstored            %d (sum(hits) in daily)\n", rc.Recorded, rc.Stored)
		fmt.Printf("dropped           %d (queue), %d (sink)\n", rc.Dropped, rc.SinkDropped)
		fmt.Printf("check             %s %s\n", checkName(rc), rc.Error)
	}
}
