//go:build linux

package main

import (
	"cmp"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
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
	var p procTicks
	if p, _, err = processTicks(strconv.Itoa(m.coredns)); err != nil {
		return s, err
	}
	s.coredns = p.ticks
	if p, _, err = processTicks(strconv.Itoa(m.perf)); err != nil {
		return s, err
	}
	s.dnsperf = p.ticks
	if p, _, err = processTicks("self"); err != nil {
		return s, err
	}
	s.driver = p.ticks
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

// procTicks is a process's name and CPU ticks.
type procTicks struct {
	name  string
	ticks int64
}

// clockTick is the unit of the times in /proc: USER_HZ, 100 on every Linux ABI Go runs on.
const clockTick = 10 * time.Millisecond

// pfKthread is PF_KTHREAD in the flags of /proc/PID/stat: a kernel thread.
const pfKthread = 0x00200000

// processTicks returns the name of a running process ("self" or a PID) and the user and system
// time it has used, all its threads included, and whether it is a kernel thread.
func processTicks(pid string) (p procTicks, kernel bool, err error) {
	path := "/proc/" + pid + "/stat"
	b, err := os.ReadFile(path)
	if err != nil {
		return p, false, err
	}
	return parseStat(path, string(b))
}

// parseStat reads the name, the CPU ticks and the kernel-thread flag from the text of a
// /proc/PID/stat file.
func parseStat(path, b string) (p procTicks, kernel bool, err error) {
	// The command name, in parentheses, may hold spaces; flags is field 9, utime and stime are
	// fields 14 and 15: the 7th, 12th and 13th after it.
	open, end := strings.IndexByte(b, '('), strings.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return p, false, fmt.Errorf("%s: unexpected format", path)
	}
	p.name = b[open+1 : end]
	fields := strings.Fields(b[end+1:])
	if len(fields) < 13 {
		return p, false, fmt.Errorf("%s: unexpected format", path)
	}
	flags, err := strconv.ParseUint(fields[6], 10, 64)
	if err != nil {
		return p, false, fmt.Errorf("%s: %w", path, err)
	}
	p.ticks, err = sumFields(path, fields[11:13])
	return p, flags&pfKthread != 0, err
}

// foreignTicks returns the CPU ticks of every user-space process but ours, by PID; processes
// that cannot be read (they exited) are left out.
func foreignTicks(ours map[int]bool) map[int]procTicks {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	ticks := make(map[int]procTicks, len(entries))
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || ours[pid] {
			continue
		}
		if t, kernel, err := processTicks(e.Name()); err == nil && !kernel {
			ticks[pid] = t
		}
	}
	return ticks
}

// machineTicks returns the busy and total ticks of all CPUs from /proc/stat; idle and iowait are
// not busy.
func machineTicks() (busy, total int64, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	fields := strings.Fields(line)
	if len(fields) < 6 || fields[0] != "cpu" {
		return 0, 0, fmt.Errorf("/proc/stat: unexpected format")
	}
	// user nice system idle iowait irq softirq steal [guest guest_nice, already in user and nice]
	fields = fields[1:min(len(fields), 9)]
	if total, err = sumFields("/proc/stat", fields); err != nil {
		return 0, 0, err
	}
	idle, err := sumFields("/proc/stat", fields[3:5])
	return total - idle, total, err
}

func sumFields(path string, fields []string) (int64, error) {
	var sum int64
	for _, f := range fields {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", path, err)
		}
		sum += n
	}
	return sum, nil
}
