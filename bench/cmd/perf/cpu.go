//go:build linux

package main

import (
	"cmp"
	"fmt"
	"os"
	"slices"
	"time"
)

// cpuEvery is how often a cpuMeter samples.
const cpuEvery = 250 * time.Millisecond

// cpuUse is the CPU used while dnsperf was sending, in cores busy on average.
type cpuUse struct {
	WallSeconds float64 `json:"wall_s"` // the window measured
	CoreDNS     float64 `json:"coredns_cores"`
	Dnsperf     float64 `json:"dnsperf_cores"`
	Driver      float64 `json:"driver_cores"`  // this program, parsing dnsperf's output
	Foreign     float64 `json:"foreign_cores"` // every other user-space process: someone else's work
	Kernel      float64 `json:"kernel_cores"`  // the rest: interrupts, kernel threads (I/O)
	Busy        float64 `json:"busy_cores"`    // the whole machine

	// ForeignTop names the other processes that took the most, as "name[pid] cores".
	ForeignTop []string `json:"foreign_top,omitempty"`
}

// cpuSample is the CPU time used so far, in clock ticks.
type cpuSample struct {
	at                        time.Time
	coredns, dnsperf, driver  int64
	foreign                   map[int]procTicks // by PID
	machineBusy, machineTotal int64
}

// cpuMeter samples the CPU time of the server, dnsperf, the other processes and the machine
// while dnsperf runs, so that the idle wait for the last answers after it stopped sending can be
// left out.
type cpuMeter struct {
	done          chan struct{}
	samples       []cpuSample
	coredns, perf int
	ours          map[int]bool // the processes that are not foreign
}

// meterCPU starts sampling until limit has passed or stop is closed.
func meterCPU(coredns, dnsperf int, limit time.Duration, stop <-chan struct{}) *cpuMeter {
	m := &cpuMeter{done: make(chan struct{}), coredns: coredns, perf: dnsperf,
		ours: map[int]bool{coredns: true, dnsperf: true, os.Getpid(): true, os.Getppid(): true}}
	go func() {
		defer close(m.done)
		end := time.Now().Add(limit)
		tick := time.NewTicker(cpuEvery)
		defer tick.Stop()
		for {
			s, err := m.sample()
			if err != nil {
				return // a process exited: the window ends with the last sample
			}
			m.samples = append(m.samples, s)
			if !s.at.Before(end) {
				return
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	return m
}

func (m *cpuMeter) sample() (cpuSample, error) {
	s := cpuSample{at: time.Now()}
	var err error
	if s.coredns, err = processTicks(m.coredns); err != nil {
		return s, err
	}
	if s.dnsperf, err = processTicks(m.perf); err != nil {
		return s, err
	}
	if s.driver, err = processTicks(os.Getpid()); err != nil {
		return s, err
	}
	s.foreign = foreignTicks(m.ours)
	s.machineBusy, s.machineTotal, err = machineTicks()
	return s, err
}

// result waits for the sampling to end and returns the CPU used from the first sample to the
// last one within sending of it, the time dnsperf spent sending (all of it when 0).
func (m *cpuMeter) result(nproc int, sending time.Duration) cpuUse {
	<-m.done
	if len(m.samples) < 2 {
		return cpuUse{}
	}
	first, last := m.samples[0], m.samples[1]
	for _, s := range m.samples[1:] {
		if sending > 0 && s.at.Sub(first.at) > sending+cpuEvery/2 {
			break
		}
		last = s
	}
	wall := last.at.Sub(first.at).Seconds()
	cores := func(ticks int64) float64 { return (time.Duration(ticks) * clockTick).Seconds() / wall }
	var foreign int64
	var top []foreignUse
	for pid, t := range last.foreign {
		d := t.ticks - first.foreign[pid].ticks // a process started meanwhile counts whole
		foreign += d
		if c := cores(d); c >= 0.02 {
			top = append(top, foreignUse{fmt.Sprintf("%s[%d]", t.name, pid), c})
		}
	}
	slices.SortFunc(top, func(a, b foreignUse) int { return cmp.Compare(b.cores, a.cores) })
	u := cpuUse{
		WallSeconds: wall,
		CoreDNS:     cores(last.coredns - first.coredns),
		Dnsperf:     cores(last.dnsperf - first.dnsperf),
		Driver:      cores(last.driver - first.driver),
		Foreign:     cores(foreign),
	}
	if total := last.machineTotal - first.machineTotal; total > 0 {
		u.Busy = float64(last.machineBusy-first.machineBusy) / float64(total) * float64(nproc)
	}
	u.Kernel = max(0, u.Busy-u.CoreDNS-u.Dnsperf-u.Driver-u.Foreign)
	for _, f := range top[:min(len(top), 3)] {
		u.ForeignTop = append(u.ForeignTop, fmt.Sprintf("%s %.2f", f.name, f.cores))
	}
	return u
}

// foreignUse is one other process's share of the CPUs.
type foreignUse struct {
	name  string
	cores float64
}
