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

// bytesUnit is the unit of a progress that counts sizes: its bar shows them as sizes, and its
// plain lines give the share of the total done.
const bytesUnit = "bytes"

// progress shows how far long work is, counted in a unit (the bytes of the files an import
// reads, the instances a purge reads): on a terminal a bar of the count of the total, with the
// time left; elsewhere a plain line every plainEvery, such as
// "purge: reading 2000 of 9000 instances".
type progress struct {
	bar    *progressbar.ProgressBar // nil when stderr is not a terminal
	w      io.Writer
	title  string // the bar's description
	name   string // the start of each plain line
	unit   string
	total  int64 // -1 when unknown
	count  int64
	detail func(elapsed time.Duration, bar bool) string // nil when there is nothing more to say
	start  time.Time
	shown  time.Time // when the last plain line, or the bar's description, was written
}

// newProgress shows the progress of work of total units: title describes the bar, and name
// starts each plain line. detail, if not nil, tells what else the work counted, with the time
// since the start for rates: on a terminal (bar) what follows the title, updated once a
// second unless "", and elsewhere what ends each plain line.
func newProgress(stderr io.Writer, title, name, unit string, total int64,
	detail func(elapsed time.Duration, bar bool) string) *progress {
	p := &progress{w: stderr, title: title, name: name, unit: unit, total: total, detail: detail, start: time.Now()}
	p.shown = p.start
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		count := progressbar.OptionShowCount()
		if unit == bytesUnit {
			count = progressbar.OptionShowBytes(true)
		}
		p.bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(stderr),
			progressbar.OptionSetDescription(title),
			count,
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
	}
	return p
}

// set shows count units done in all.
func (p *progress) set(count int64) {
	p.count = count
	now := time.Now()
	if p.bar != nil {
		p.bar.Set64(count)
		if p.detail != nil && now.Sub(p.shown) >= time.Second {
			p.shown = now
			if more := p.detail(now.Sub(p.start), true); more != "" {
				p.bar.Describe(p.title + more)
			}
		}
		return
	}
	if now.Sub(p.shown) < plainEvery {
		return
	}
	p.shown = now
	var line string
	switch {
	case p.total > 0 && p.unit == bytesUnit:
		line = fmt.Sprintf("%s %d of %d %s (%.0f%%)", p.name, count, p.total, p.unit, 100*float64(count)/float64(p.total))
	case p.total > 0:
		line = fmt.Sprintf("%s %d of %d %s", p.name, count, p.total, p.unit)
	default:
		line = fmt.Sprintf("%s %d %s", p.name, count, p.unit)
	}
	if p.detail != nil {
		line += p.detail(now.Sub(p.start), false)
	}
	fmt.Fprintln(p.w, line)
}

// add shows n more units done.
func (p *progress) add(n int64) { p.set(p.count + n) }

// done ends the bar.
func (p *progress) done() {
	if p.bar != nil {
		p.bar.Finish()
	}
}
