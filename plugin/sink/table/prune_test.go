package table

import (
	"testing"
	"time"
)

func TestPruneSchedule(t *testing.T) {
	start := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	var p PruneSchedule
	steps := []struct {
		at   time.Duration // after start
		due  bool
		full bool // what the pass deletes, when due
	}{
		{0, true, true},                 // the zero schedule is due at once
		{time.Second, true, true},       // a full chunk: the next write prunes again
		{2 * time.Second, true, false},  // the backlog is gone
		{3 * time.Second, false, false}, // so the next pass is an hour after the last
		{PruneEvery, false, false},      // an hour after the first pass, not the last
		{PruneEvery + 2*time.Second, true, false},
		{2 * PruneEvery, false, false},
		{2*PruneEvery + 2*time.Second, true, false},
	}
	for _, s := range steps {
		now := start.Add(s.at)
		if got := p.Due(now); got != s.due {
			t.Fatalf("at +%s: expected due %v, got %v", s.at, s.due, got)
		}
		if s.due {
			p.Done(now, s.full)
		}
	}
}
