package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// purgeProgress shows how far a purge is, in instances: a bar on a terminal, a plain line
// every plainEvery elsewhere.
type purgeProgress struct {
	bar          *progressbar.ProgressBar // nil when stderr is not a terminal
	w            io.Writer
	what         string
	total, count int
	transactions int
	longest      time.Duration
	shown        time.Time
}

func newPurgeProgress(stderr io.Writer, what string, total int) *purgeProgress {
	p := &purgeProgress{w: stderr, what: what, total: total, shown: time.Now()}
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(stderr),
			progressbar.OptionSetDescription(what+" instances"),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
	}
	return p
}

// add counts a chunk of instances done, in a transaction that kept the writers waiting for
// held, if any.
func (p *purgeProgress) add(instances int, held time.Duration) {
	p.count += instances
	if held > 0 {
		p.transactions++
		p.longest = max(p.longest, held)
	}
	if p.bar != nil {
		p.bar.Add(instances)
		return
	}
	if now := time.Now(); now.Sub(p.shown) >= plainEvery {
		p.shown = now
		line := fmt.Sprintf("purge: %s %d of %d instances", p.what, p.count, p.total)
		if p.transactions > 0 {
			line += fmt.Sprintf(", %d transactions, the longest %s", p.transactions, p.longest.Round(time.Millisecond))
		}
		fmt.Fprintln(p.w, line)
	}
}

// done ends the bar.
func (p *purgeProgress) done() {
	if p.bar != nil {
		p.bar.Finish()
	}
}
