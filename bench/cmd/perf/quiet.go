//go:build linux

package main

import (
	"context"
	"fmt"
	"runtime"
	"time"
)

// Waiting for a quiet machine: before each run, the machine's busy CPU is measured over
// quietWindow while nothing of the benchmark runs, until it is below quietBusy cores.
const (
	quietWindow = time.Second
	quietBusy   = 0.25 // cores
)

// waitQuiet waits up to limit for the rest of the machine to be idle, so that a run does not
// share the CPUs with someone else's work. It returns the busy cores last seen, and whether the
// machine was quiet; limit 0 does not wait.
func waitQuiet(ctx context.Context, limit time.Duration) (float64, bool, error) {
	if limit <= 0 {
		return 0, true, nil
	}
	deadline := time.Now().Add(limit)
	announced := false
	for {
		busy, err := machineBusy(ctx, quietWindow)
		if err != nil {
			return 0, false, err
		}
		if busy < quietBusy {
			return busy, true, nil
		}
		if time.Now().After(deadline) {
			fmt.Printf("  the machine is still busy (%.2f cores) after %s; running anyway\n", busy, limit)
			return busy, false, nil
		}
		if !announced {
			fmt.Printf("  waiting up to %s for the machine to be idle (%.2f cores busy)\n", limit, busy)
			announced = true
		}
	}
}

// machineBusy returns the cores the machine kept busy over window.
func machineBusy(ctx context.Context, window time.Duration) (float64, error) {
	busy0, total0, err := machineTicks()
	if err != nil {
		return 0, err
	}
	select {
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-time.After(window):
	}
	busy1, total1, err := machineTicks()
	if err != nil || total1 == total0 {
		return 0, err
	}
	return float64(busy1-busy0) / float64(total1-total0) * float64(runtime.NumCPU()), nil
}
