// Package population makes up the announcements of Mailu instances over years, deterministic
// by seed, for the tests and benchmarks of the statistics. Instances install over the years and
// restart from daily to every two months; most adopt releases some time after they come out,
// some never upgrade and some run master; they go back to an older version now and then, report
// two versions on one day (sometimes in the same second) and some fall silent for more than a
// year before coming back.
package population

import (
	"container/heap"
	"encoding/hex"
	"fmt"
	"iter"
	"math"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/mailustats/mailustats/plugin/sink"
)

// Config describes a population.
type Config struct {
	Seed      uint64
	Instances int
	Start     time.Time // the first day, at UTC midnight
	Days      int       // the days the history spans, from Start
	HashIDs   bool      // instance IDs are hash_ids digests, 32 hex digits, rather than UUIDs
}

// lastDay is the last day of the populations made here.
var lastDay = time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)

// Small is a population for tests: 150 instances over 900 days, about 10,000 records.
func Small(seed uint64) Config {
	return Config{Seed: seed, Instances: 150, Start: lastDay.AddDate(0, 0, -899), Days: 900}
}

// Benchmark is a population of instances over years, as the issue benchmarks: 20,000 over 3
// and 100,000 over 5.
func Benchmark(instances, years int) Config {
	days := 365 * years
	return Config{Seed: 1, Instances: instances, Start: lastDay.AddDate(0, 0, 1-days), Days: days}
}

// End is the last day of the population, at UTC midnight.
func (c Config) End() time.Time { return c.Start.AddDate(0, 0, c.Days-1) }

// Records yields the population's announcements in time order; those of the same second come
// in a fixed order.
func (c Config) Records() iter.Seq[sink.Record] {
	return func(yield func(sink.Record) bool) {
		rels := c.releases()
		q := make(queue, 0, c.Instances)
		for i := range c.Instances {
			if in := c.newInstance(i, rels); in.fill() {
				q = append(q, in)
			}
		}
		heap.Init(&q)
		for len(q) > 0 {
			in := q[0]
			r := in.pending[0]
			in.pending = in.pending[1:]
			if !yield(r) {
				return
			}
			if len(in.pending) > 0 || in.fill() {
				heap.Fix(&q, 0)
			} else {
				heap.Pop(&q)
			}
		}
	}
}

// release is a version and the day it came out, in days from Start.
type release struct {
	version string
	day     int
}

// master is the version of the instances that run the development branch.
const master = "master"

// releases are the population's releases, oldest first, from two years before Start to its
// end: a major every five to eight months, first named as Mailu once did ("1.8", "1.9",
// "2.0"), then by year and month ("2024.06"), and patches ("2024.06.1") every ten to forty
// days between them, so that "2024.06.10" comes after "2024.06.9" although it sorts before.
func (c Config) releases() []release {
	rng := rand.New(rand.NewPCG(c.Seed, math.MaxUint64))
	old := []string{"1.8", "1.9", "2.0"}
	var rels []release
	for day, major := -730, 0; day < c.Days; major++ {
		name := c.Start.AddDate(0, 0, day).Format("2006.01")
		if major < len(old) {
			name = old[major]
		}
		rels = append(rels, release{name, day})
		next := day + 150 + rng.IntN(90)
		for patch, d := 1, day+10+rng.IntN(30); d < next && d < c.Days; patch, d = patch+1, d+10+rng.IntN(30) {
			rels = append(rels, release{fmt.Sprintf("%s.%d", name, patch), d})
		}
		day = next
	}
	return rels
}

// latest is the index of the last release out on day, or of the first before any.
func latest(rels []release, day int) int {
	i := sort.Search(len(rels), func(i int) bool { return rels[i].day > day })
	return max(i-1, 0)
}

// policy is how an instance follows releases.
type policy int

const (
	upgrades     policy = iota // takes the latest release a while after it comes out
	never                      // keeps the version it was installed with
	tracksMaster               // runs master
)

// instance is one installation and the state of its announcements.
type instance struct {
	rng      *rand.Rand
	rels     []release
	start    time.Time
	id       string
	index    int
	day      int     // the day of its next restart, from Start
	end      int     // the last day it announces on
	interval float64 // the mean days between restarts
	second   int     // the second of the day it usually restarts at
	policy   policy
	delay    int // the days it waits before taking a release
	release  int // the index in rels of the release it runs
	back     int // restarts left on an older release it went back to
	older    int // that release
	gapFrom  int // the first day of a silence of more than a year, or -1
	gapTo    int // the day it comes back

	pending []sink.Record // the records of its current day not yet yielded, in time order
}

func (c Config) newInstance(index int, rels []release) *instance {
	rng := rand.New(rand.NewPCG(c.Seed, uint64(index)))
	in := &instance{rng: rng, rels: rels, start: c.Start, index: index, gapFrom: -1}
	var key [16]byte
	for i := range key {
		key[i] = byte(rng.Uint32())
	}
	if c.HashIDs {
		in.id = hex.EncodeToString(key[:])
	} else {
		key[6] = key[6]&0x0f | 0x40 // version 4
		key[8] = key[8]&0x3f | 0x80 // RFC 4122 variant
		h := hex.EncodeToString(key[:])
		in.id = h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
	}

	// A tenth ran before the history starts; the others install at a growing rate.
	installed := 0
	if rng.IntN(10) == 0 {
		in.day = rng.IntN(30)
		installed = -rng.IntN(700)
	} else {
		in.day = int(float64(c.Days) * math.Pow(rng.Float64(), 0.75))
		installed = in.day
	}
	if rng.IntN(5) == 0 { // a trial
		in.end = in.day + rng.IntN(30)
	} else {
		in.end = in.day + int(rng.ExpFloat64()*1000)
	}
	if rng.IntN(10) == 0 && in.end-in.day > 100 {
		in.gapFrom = in.day + 1 + rng.IntN(in.end-in.day)
		in.gapTo = in.gapFrom + 366 + rng.IntN(300)
		in.end = max(in.end, in.gapTo+rng.IntN(200))
	}
	in.end = min(in.end, c.Days-1)

	in.interval = 1
	if rng.IntN(20) > 0 { // all but a twentieth restart every 2 to 60 days, not daily
		in.interval = math.Exp(math.Log(2) + rng.Float64()*math.Log(30))
	}
	in.second = rng.IntN(86400)
	switch p := rng.IntN(100); {
	case p < 12:
		in.policy = never
	case p < 17:
		in.policy = tracksMaster
	}
	in.delay = int(math.Exp(rng.Float64() * math.Log(180)))
	in.release = latest(rels, installed-in.delay*rng.IntN(2))
	return in
}

// fill makes the records of the instance's next restart day, and reports whether it has any.
func (in *instance) fill() bool {
	rng := in.rng
	if in.day >= in.gapFrom && in.day < in.gapTo {
		in.day = in.gapTo
	}
	if in.day > in.end {
		return false
	}
	day := in.day
	step := max(1, int(math.Round(in.interval*(0.5+rng.Float64()))))
	if in.interval == 1 && rng.IntN(10) > 0 {
		step = 1 // daily, with a day missed now and then
	}
	in.day += step

	second := min(max(in.second+rng.IntN(7200)-3600, 0), 86399)
	switch rng.IntN(50) {
	case 0:
		second = 0
	case 1:
		second = 86399
	}
	before := in.version()
	version := in.next(day)
	in.pending = in.pending[:0]
	if version != before && rng.IntN(3) == 0 {
		// The old version still ran earlier that day, or in the same second.
		first := second
		if rng.IntN(3) > 0 {
			first = rng.IntN(second + 1)
		}
		in.add(day, first, before)
	}
	in.add(day, second, version)
	switch rng.IntN(12) {
	case 0: // restarted again later that day
		in.add(day, second+rng.IntN(86400-second), version)
	case 1: // announced twice in the same second
		in.add(day, second, version)
	}
	return true
}

// add appends a record of version at second on day, keeping pending in time order.
func (in *instance) add(day, second int, version string) {
	r := sink.Record{
		Time:     in.start.AddDate(0, 0, day).Add(time.Duration(second) * time.Second),
		Version:  version,
		Instance: in.id,
	}
	i := len(in.pending)
	for i > 0 && in.pending[i-1].Time.After(r.Time) {
		i--
	}
	in.pending = append(in.pending, sink.Record{})
	copy(in.pending[i+1:], in.pending[i:])
	in.pending[i] = r
}

// version is the version the instance runs.
func (in *instance) version() string {
	if in.policy == tracksMaster {
		return master
	}
	return in.rels[in.release].version
}

// next is the version the instance reports at its restart on day: the latest release it has
// waited for, or now and then, for a restart or two after an upgrade, the one it upgraded from.
func (in *instance) next(day int) string {
	if in.policy != upgrades {
		return in.version()
	}
	if in.back > 0 {
		in.back--
		return in.rels[in.older].version
	}
	if r := latest(in.rels, day-in.delay); r > in.release {
		if in.rng.IntN(12) == 0 {
			in.older, in.back = in.release, 1+in.rng.IntN(2)
		}
		in.release = r
	}
	return in.version()
}

// queue orders instances by the time of their next record, then by index.
type queue []*instance

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	a, b := q[i].pending[0].Time, q[j].pending[0].Time
	return a.Before(b) || a.Equal(b) && q[i].index < q[j].index
}
func (q queue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)   { *q = append(*q, x.(*instance)) }
func (q *queue) Pop() any {
	old := *q
	in := old[len(old)-1]
	*q = old[:len(old)-1]
	return in
}
