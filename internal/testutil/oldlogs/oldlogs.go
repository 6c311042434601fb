// Package oldlogs writes a log as the old Go statistics server appended it, from a population of
// instances (internal/testutil/population), with the noise the real logs hold: resolver
// retries that log a start-up again seconds later, names in the letter case the resolver sent
// (0x20), the one-label names of QNAME-minimising resolvers before the full name, the apex, a
// label holding a comma, bad UUIDs, lines without a time. Deterministic by seed, for the
// importer's benchmark.
package oldlogs

import (
	"bufio"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/mailustats/mailustats/internal/testutil/population"
	"github.com/mailustats/mailustats/plugin/sink"
)

// Counts are what a log holds.
type Counts struct {
	Lines, Valid int64 // lines, and of them full valid records
}

// Write writes the announcements of c as log lines to w, at most maxLines, and returns what
// it wrote.
func Write(w io.Writer, c population.Config, maxLines int64) (Counts, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	rng := rand.New(rand.NewPCG(c.Seed, 7))
	g := generator{w: bw, rng: rng, max: maxLines}
	for r := range c.Records() {
		if !g.announce(r) {
			break
		}
	}
	if err := bw.Flush(); err != nil {
		return g.counts, err
	}
	return g.counts, g.err
}

// generator writes the lines of announcements.
type generator struct {
	w      *bufio.Writer
	rng    *rand.Rand
	max    int64
	counts Counts
	err    error
	buf    []byte
}

// announce writes the lines a start-up leaves in the log, and reports whether there is room
// for more.
func (g *generator) announce(r sink.Record) bool {
	at := r.Time.Unix()
	minimising := g.rng.IntN(2) == 0 // the instance's resolver asks for one label first
	for copy := range 1 + g.rng.IntN(4) {
		t := at + int64(copy)*int64(1+g.rng.IntN(5)) // a retry some seconds later
		if minimising && !g.line(mixCase(g.rng, r.Instance), t, false) {
			return false
		}
		if !g.line(mixCase(g.rng, label(r.Version))+","+mixCase(g.rng, r.Instance), t, true) {
			return false
		}
	}
	switch g.rng.IntN(100) {
	case 0:
		return g.line("", at, false) // the apex
	case 1:
		return g.line("1,9,"+r.Instance, at, false) // a label holding a comma
	case 2:
		return g.line(label(r.Version)+",not-a-uuid", at, false)
	case 3:
		return g.line(label(r.Version)+","+r.Instance+",", -1, false) // no time
	}
	return true
}

// line writes labels, then the time unless it is negative, and reports whether there is room
// for more.
func (g *generator) line(labels string, t int64, valid bool) bool {
	if g.counts.Lines >= g.max || g.err != nil {
		return false
	}
	g.buf = append(g.buf[:0], labels...)
	if t >= 0 {
		g.buf = append(g.buf, ',')
		g.buf = strconv.AppendInt(g.buf, t, 10)
	}
	g.buf = append(g.buf, '\n')
	_, g.err = g.w.Write(g.buf)
	g.counts.Lines++
	if valid {
		g.counts.Valid++
	}
	return g.err == nil
}

// label is version as one DNS label: the population's versions may hold dots, which Mailu's
// names do not.
func label(version string) string { return strings.ReplaceAll(version, ".", "-") }

// mixCase returns s with each letter in upper case half of the time, as a resolver's 0x20
// encoding sends it.
func mixCase(rng *rand.Rand, s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' && rng.IntN(2) == 0 {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}
