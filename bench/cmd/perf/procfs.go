//go:build linux

package main

import (
	"fmt"
	"math"
	"time"

	"github.com/prometheus/procfs"
)

// procTicks is a process's name and CPU ticks.
type procTicks struct {
	name  string
	ticks int64
}

// clockTick is the unit of the times in /proc: USER_HZ, 100 on every Linux ABI Go runs on.
const clockTick = 10 * time.Millisecond

// pfKthread is PF_KTHREAD in the flags of /proc/PID/stat: a kernel thread.
const pfKthread = 0x00200000

// processTicks returns the user and system time a running process has used, all its threads
// included.
func processTicks(pid int) (int64, error) {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return 0, err
	}
	t, _, err := statTicks(p)
	return t.ticks, err
}

// statTicks reads the name and CPU ticks of p from its stat file, and whether it is a kernel
// thread.
func statTicks(p procfs.Proc) (t procTicks, kernel bool, err error) {
	s, err := p.Stat()
	if err != nil {
		return t, false, err
	}
	return procTicks{s.Comm, int64(s.UTime + s.STime)}, s.Flags&pfKthread != 0, nil
}

// foreignTicks returns the CPU ticks of every user-space process but ours, by PID; processes
// that cannot be read (they exited) are left out.
func foreignTicks(ours map[int]bool) map[int]procTicks {
	procs, err := procfs.AllProcs()
	if err != nil {
		return nil
	}
	ticks := make(map[int]procTicks, len(procs))
	for _, p := range procs {
		if ours[p.PID] {
			continue
		}
		if t, kernel, err := statTicks(p); err == nil && !kernel {
			ticks[p.PID] = t
		}
	}
	return ticks
}

// machineTicks returns the busy and total ticks of all CPUs from /proc/stat; idle and iowait are
// not busy.
func machineTicks() (busy, total int64, err error) {
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return 0, 0, err
	}
	s, err := fs.Stat()
	if err != nil {
		return 0, 0, err
	}
	// In seconds; guest and guest_nice are already in user and nice.
	c := s.CPUTotal
	idle := c.Idle + c.Iowait
	all := idle + c.User + c.Nice + c.System + c.IRQ + c.SoftIRQ + c.Steal
	ticks := func(seconds float64) int64 { return int64(math.Round(seconds / clockTick.Seconds())) }
	return ticks(all - idle), ticks(all), nil
}

// memoryStatus returns VmRSS and VmHWM (the peak of VmRSS) of a running process, in KiB.
func memoryStatus(pid int) (rss, hwm int64, err error) {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return 0, 0, err
	}
	s, err := p.NewStatus()
	if err != nil {
		return 0, 0, err
	}
	if s.VmRSS == 0 {
		return 0, 0, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
	}
	return int64(s.VmRSS / 1024), int64(s.VmHWM / 1024), nil
}
