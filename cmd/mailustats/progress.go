package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// plainEvery is how often progress is written as a plain line when stderr is not a terminal.
const plainEvery = 5 * time.Second

// progress shows how far an import is: a bar of the bytes read of the total, with lines per
// second and the time left, on a terminal; a plain line every plainEvery elsewhere.
type progress struct {
	bar   *progressbar.ProgressBar // nil when stderr is not a terminal
	w     io.Writer
	total int64 // bytes, -1 when unknown
	start time.Time
	shown time.Time // when the last plain line, or the bar's description, was written
	base  int64     // the bytes of the files done
}

func newProgress(stderr io.Writer, total int64) *progress {
	p := &progress{w: stderr, total: total, start: time.Now()}
	p.shown = p.start
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(stderr),
			progressbar.OptionSetDescription("importing"),
			progressbar.OptionShowBytes(true),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
	}
	return p
}

// update shows consumed bytes of the current file read, and lines read in all.
func (p *progress) update(consumed, lines int64) {
	now := time.Now()
	read := p.base + consumed
	if p.bar != nil {
		p.bar.Set64(read)
		if now.Sub(p.shown) >= time.Second {
			p.shown = now
			p.bar.Describe(fmt.Sprintf("importing, %.0f lines/s", float64(lines)/now.Sub(p.start).Seconds()))
		}
		return
	}
	if now.Sub(p.shown) < plainEvery {
		return
	}
	p.shown = now
	rate := float64(lines) / now.Sub(p.start).Seconds()
	if p.total > 0 {
		fmt.Fprintf(p.w, "import: %d of %d bytes (%.0f%%), %d lines, %.0f lines/s\n", read, p.total, 100*float64(read)/float64(p.total), lines, rate)
	} else {
		fmt.Fprintf(p.w, "import: %d bytes, %d lines, %.0f lines/s\n", read, lines, rate)
	}
}

// fileDone moves on to the next file after one of size bytes.
func (p *progress) fileDone(size int64) { p.base += max(size, 0) }

// done ends the bar.
func (p *progress) done() {
	if p.bar != nil {
		p.bar.Finish()
	}
}
