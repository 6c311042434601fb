package main

import (
	"cmp"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mailustats/mailustats/internal/logimport"
	"github.com/mailustats/mailustats/plugin/report"
)

// The eras of the generated logs: the packet sniffer until goEra, the Go server until sinkEra,
// then this project's file sinks, csv and jsonl.
var (
	logStart = time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC)
	goEra    = time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)
	sinkEra  = time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC)
	logEnd   = time.Date(2024, 12, 31, 0, 0, 0, 0, time.UTC) // the last day
)

// logVersions are the versions the generated instances run, oldest first; an instance moves
// along the list, mostly forward.
var logVersions = []string{"15", "16", "17", "18", "1-9", "19", "2024-06", "2024-06-1", "master", "x_test"}

// event is a valid record of a generated log, as the import must read it.
type event struct {
	time     time.Time // UTC, whole seconds
	version  string    // lower case
	instance uuid.UUID
}

// oldLog is a generated log and what it holds: its valid records, and its other lines by the
// reason they are skipped for.
type oldLog struct {
	lines     []string           // without newlines
	reasons   []logimport.Reason // of each line; None for a record
	events    []event            // in the order of the lines
	eventLine []int              // the index in lines of each event
	skipped   map[string]int64
}

// eventsBefore returns the events of the first n lines.
func (l oldLog) eventsBefore(n int) []event {
	i, _ := slices.BinarySearch(l.eventLine, n)
	return l.events[:i]
}

// logLine is a line while the log is generated, with the time it is sorted by.
type logLine struct {
	at     int64
	seq    int // the order the line was added in, among lines of the same second
	text   string
	event  *event
	reason logimport.Reason
}

// logGenerator writes the lines of a log of instances over the eras.
type logGenerator struct {
	rng   *rand.Rand
	now   time.Time
	lines []logLine
}

// generateLog returns a log of about the given number of lines, of instances between logStart
// and logEnd announcing themselves on random days with versions that go up, sometimes down,
// sometimes twice in a day, with the resolvers' retries and the noise of every era. It is the
// same for the same seed.
func generateLog(seed uint64, lines int) oldLog {
	g := &logGenerator{rng: rand.New(rand.NewPCG(seed, 0x1e9)), now: time.Now()}
	days := int(logEnd.Sub(logStart).Hours()/24) + 1
	for len(g.lines) < lines*10/11 {
		g.instance(days)
	}
	// Noise, a tenth of the lines, at random times, and a line longer than the import reads
	// whole (maxLine), which it skips as bad format.
	when := func() time.Time {
		return logStart.Add(time.Duration(g.rng.Int64N(int64(days) * int64(24*time.Hour)))).Truncate(time.Second)
	}
	for range len(g.lines) / 10 {
		g.noise(when())
	}
	g.add(when(), strings.Repeat("19,", maxLine/2)+"1600000000", nil, logimport.BadFormat)
	slices.SortFunc(g.lines, func(a, b logLine) int { return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.seq, b.seq)) })
	// Empty last lines would read as the newline at the end of the file: they go first.
	for i := 0; i < len(g.lines) && g.lines[len(g.lines)-1].text == ""; i++ {
		last := g.lines[len(g.lines)-1]
		g.lines = append([]logLine{last}, g.lines[:len(g.lines)-1]...)
	}
	l := oldLog{skipped: map[string]int64{}}
	for i, ln := range g.lines {
		l.lines = append(l.lines, ln.text)
		l.reasons = append(l.reasons, ln.reason)
		if ln.event != nil {
			l.events = append(l.events, *ln.event)
			l.eventLine = append(l.eventLine, i)
		} else {
			l.skipped[ln.reason.String()]++
		}
	}
	return l
}

// instance adds the announcements of one instance: a life of random length, days seen at its
// own rate with gaps, a change of version now and then.
func (g *logGenerator) instance(days int) {
	id := g.uuid()
	birth := g.rng.IntN(days)
	death := birth + g.rng.IntN(days-birth)
	if g.rng.IntN(5) == 0 {
		death = birth // seen on one day only
	}
	rate := 0.04 + 0.8*g.rng.Float64()
	v := g.rng.IntN(len(logVersions) - 3)
	for day := birth; day <= death; day++ {
		if day != birth && g.rng.Float64() >= rate {
			continue
		}
		if g.rng.IntN(50) == 0 {
			day += 30 + g.rng.IntN(200) // a gap: the server was down
			if day > death {
				break
			}
		}
		midnight := logStart.AddDate(0, 0, day)
		at := midnight.Add(time.Duration(g.rng.IntN(20*3600)) * time.Second)
		old := v
		switch r := g.rng.IntN(100); {
		case r < 4 && v < len(logVersions)-1:
			v++
		case r < 6 && v > 0:
			v-- // a downgrade
		case r < 7:
			v = slices.Index(logVersions, "master")
		}
		if old != v && g.rng.IntN(3) > 0 {
			// The old version first that day, the new one later, or at the same second.
			g.announce(id, logVersions[old], at)
			if g.rng.IntN(4) > 0 {
				at = at.Add(time.Duration(1+g.rng.IntN(3*3600)) * time.Second)
			}
		}
		g.announce(id, logVersions[v], at)
	}
}

// announce adds the lines of one announcement in the form of the era of t: the retries of the
// resolver, and in the Go era the names a QNAME-minimising resolver asks on the way.
func (g *logGenerator) announce(id uuid.UUID, version string, t time.Time) {
	tries := 1
	if g.rng.IntN(5) == 0 {
		tries += 1 + g.rng.IntN(3)
	}
	if t.Before(sinkEra) && !t.Before(goEra) && g.rng.IntN(4) == 0 {
		g.add(t, fmt.Sprintf("%s,%d", g.mixedCase(id.String()), t.Unix()), nil, logimport.OneLabel)
	}
	for range tries {
		e := &event{time: t, version: version, instance: id}
		var text string
		switch {
		case t.Before(goEra): // the packet sniffer: lower case, float seconds
			text = fmt.Sprintf("%s,%s,%d.%d", version, id, t.Unix(), g.rng.IntN(1000000))
			if g.rng.IntN(50) == 0 {
				text = fmt.Sprintf("%s,%s,%d.", version, id, t.Unix())
			}
		case t.Before(sinkEra): // the Go server: the resolver's 0x20 case, integer seconds
			text = fmt.Sprintf("%s,%s,%d", g.mixedCase(version), g.mixedCase(id.String()), t.Unix())
		case g.rng.IntN(2) == 0: // sink file csv
			text = fmt.Sprintf("%s,%s,%d", version, id, t.Unix())
			if g.rng.IntN(50) == 0 {
				text += "\r"
			}
		case g.rng.IntN(20) == 0: // JSON of another writer: other order, other fields
			text = fmt.Sprintf(`{"instance": %q, "host": "x", "version": %q, "time": %q}`, id, version, t.Format(time.RFC3339))
		default: // sink file jsonl
			text = fmt.Sprintf(`{"time":%q,"version":%q,"instance":%q}`, t.Format(time.RFC3339Nano), version, id)
		}
		g.add(t, text, e, logimport.None)
		t = t.Add(time.Duration(1+g.rng.IntN(5)) * time.Second)
	}
}

// noise adds a line that is no record, of a kind found around t.
func (g *logGenerator) noise(t time.Time) {
	k := noiseKinds[g.rng.IntN(len(noiseKinds))]
	g.add(t, k.text(g, g.uuid().String(), t.Unix()), nil, k.reason)
}

// noiseKinds are the lines that are no record, each with the reason it is skipped for, made
// of an instance ID and a time in the log's span.
var noiseKinds = []struct {
	reason logimport.Reason
	text   func(g *logGenerator, id string, sec int64) string
}{
	{logimport.OneLabel, func(g *logGenerator, id string, sec int64) string { return fmt.Sprintf("%s,%d", g.mixedCase(id), sec) }},
	{logimport.Apex, func(_ *logGenerator, _ string, sec int64) string { return fmt.Sprintf(",%d", sec) }},
	{logimport.BadVersion, func(_ *logGenerator, id string, sec int64) string { return fmt.Sprintf("1,9,%s,%d", id, sec) }}, // a comma in a label
	{logimport.BadVersion, func(_ *logGenerator, id string, sec int64) string { return fmt.Sprintf("a.b,%s,%d", id, sec) }},
	{logimport.BadVersion, func(_ *logGenerator, id string, sec int64) string {
		return fmt.Sprintf("%s,%s,%d", strings.Repeat("v", 33), id, sec)
	}},
	{logimport.BadVersion, func(_ *logGenerator, id string, sec int64) string { return fmt.Sprintf("19,%s,stats,%d", id, sec) }},
	{logimport.BadUUID, func(_ *logGenerator, _ string, sec int64) string { return fmt.Sprintf("19,not-a-uuid,%d", sec) }},
	{logimport.BadUUID, func(_ *logGenerator, id string, sec int64) string {
		return fmt.Sprintf("19,%s,%d", strings.ReplaceAll(id, "-", ""), sec)
	}},
	{logimport.BadUUID, func(_ *logGenerator, id string, sec int64) string { return fmt.Sprintf("19,{%s},%d", id, sec) }},
	{logimport.BadUUID, func(_ *logGenerator, id string, sec int64) string { // version 1
		return fmt.Sprintf("19,%s1%s,%d", id[:14], id[15:], sec)
	}},
	{logimport.BadUUID, func(_ *logGenerator, id string, sec int64) string { // a hash_ids digest
		return fmt.Sprintf("19,%s,%d", strings.ReplaceAll(id, "-", "")[:32], sec)
	}},
	{logimport.BadUUID, func(_ *logGenerator, _ string, sec int64) string {
		return fmt.Sprintf(`{"time":%q,"version":"19","instance":"x"}`, time.Unix(sec, 0).UTC().Format(time.RFC3339))
	}},
	{logimport.BadTime, func(_ *logGenerator, id string, _ int64) string { return fmt.Sprintf("19,%s,", id) }},
	{logimport.BadTime, func(_ *logGenerator, id string, _ int64) string { return fmt.Sprintf("19,%s,abc", id) }},
	{logimport.BadTime, func(_ *logGenerator, id string, _ int64) string { return fmt.Sprintf("19,%s,1e9", id) }},
	{logimport.BadTime, func(_ *logGenerator, id string, sec int64) string { return fmt.Sprintf("19,%s,-%d", id, sec) }},
	{logimport.BadTime, func(g *logGenerator, id string, _ int64) string { // 2014
		return fmt.Sprintf("19,%s,%d", id, 1400000000+g.rng.IntN(20000000))
	}},
	{logimport.BadTime, func(_ *logGenerator, id string, _ int64) string { return fmt.Sprintf("19,%s,0", id) }},
	{logimport.BadTime, func(g *logGenerator, id string, _ int64) string { // past the day after now
		return fmt.Sprintf("19,%s,%d", id, g.now.Add(50*time.Hour).Unix())
	}},
	{logimport.BadTime, func(_ *logGenerator, id string, _ int64) string {
		return fmt.Sprintf(`{"time":"2014-12-31T23:59:59Z","version":"19","instance":%q}`, id)
	}},
	{logimport.BadFormat, func(*logGenerator, string, int64) string { return "Traceback (most recent call last):" }},
	{logimport.BadFormat, func(*logGenerator, string, int64) string { return "" }},
	{logimport.BadFormat, func(*logGenerator, string, int64) string { return `{"time":"2020-01-01T00:00:00Z","version":"19"}` }},
	{logimport.BadFormat, func(*logGenerator, string, int64) string { return `{"time":` }},
}

func (g *logGenerator) add(t time.Time, text string, e *event, reason logimport.Reason) {
	g.lines = append(g.lines, logLine{at: t.Unix(), seq: len(g.lines), text: text, event: e, reason: reason})
}

// uuid returns a random version 4 UUID.
func (g *logGenerator) uuid() uuid.UUID {
	var id uuid.UUID
	for i := range id {
		id[i] = byte(g.rng.Uint32())
	}
	id[6] = id[6]&0x0f | 0x40
	id[8] = id[8]&0x3f | 0x80
	return id
}

// mixedCase changes the case of each letter of s at random, as resolvers do (DNS 0x20).
func (g *logGenerator) mixedCase(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' && g.rng.IntN(2) == 0 {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// writeLog writes lines to a file in a temporary directory, with a newline after each but the
// last, and returns its path.
func writeLog(t *testing.T, name string, lines []string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// truth is what a database must hold after the import of events, computed from them alone.
type truth struct {
	rows         map[viewRow]rowCounts // the daily view's rows
	instances    map[uuid.UUID]bool
	instanceDays int
	first, last  time.Time

	// The answers of report.Store: the report of the whole history, without its last day;
	// the days with instances of Daily and New; Upgrades over the whole history and over
	// yearWindow, and the Summary of yearWindow.
	report                 report.Summary
	daily, added           map[string]report.Day
	upgrades, upgrades2020 []report.Upgrade
	summary2020            report.Summary
}

// yearWindow is a past window that the truth counts too.
var yearWindow = report.Window{From: "2020-01-01", To: "2020-12-31"}

// viewRow is the key of a row of the daily view.
type viewRow struct {
	day, version, instance string
}

// rowCounts are the other columns of a row of the daily view.
type rowCounts struct {
	hits, firstSeen, lastSeen int64
}

// truthOf adds up events by brute force, with hash_ids when hash is not nil: one row per day,
// version and instance, with its hits and the first and last second it was seen, and the
// counts of the reports.
func truthOf(events []event, hash func(string) string) *truth {
	tr := &truth{rows: map[viewRow]rowCounts{}, instances: map[uuid.UUID]bool{}}
	days := map[string]map[string]map[uuid.UUID]bool{} // day, version: instances
	for _, e := range events {
		day := e.time.Format(time.DateOnly)
		id := e.instance.String()
		if hash != nil {
			id = hash(id)
		}
		k := viewRow{day, e.version, id}
		sec := e.time.Unix()
		c, ok := tr.rows[k]
		if !ok {
			c = rowCounts{firstSeen: sec, lastSeen: sec}
		}
		c.hits++
		c.firstSeen, c.lastSeen = min(c.firstSeen, sec), max(c.lastSeen, sec)
		tr.rows[k] = c
		if days[day] == nil {
			days[day] = map[string]map[uuid.UUID]bool{}
		}
		if days[day][e.version] == nil {
			days[day][e.version] = map[uuid.UUID]bool{}
		}
		days[day][e.version][e.instance] = true
		tr.instances[e.instance] = true
		if tr.first.IsZero() || e.time.Before(tr.first) {
			tr.first = e.time
		}
		if e.time.After(tr.last) {
			tr.last = e.time
		}
	}
	tr.daily = map[string]report.Day{}
	for day, versions := range days {
		d := report.Day{Day: day, Versions: map[string]int64{}}
		all := map[uuid.UUID]bool{}
		for v, ids := range versions {
			d.Versions[v] = int64(len(ids))
			maps.Copy(all, ids)
		}
		d.Instances = int64(len(all))
		tr.daily[day] = d
		tr.instanceDays += len(all)
	}
	tr.report = summaryOf(events, report.Window{From: tr.first.Format(time.DateOnly)})
	tr.summary2020 = summaryOf(events, yearWindow)
	tr.added = tr.newDays()
	tr.upgrades, tr.upgrades2020 = tr.changes(yearWindow)
	return tr
}

// summaryOf counts the instances of the events in the window w, to its last day or to the end
// if it has none, each under the version of its last record: the latest, and of the latest at
// the same second the greatest version in byte order. The versions are sorted as the report
// sorts them.
func summaryOf(events []event, w report.Window) report.Summary {
	type last struct {
		time    time.Time
		version string
	}
	lasts := map[uuid.UUID]last{}
	for _, e := range events {
		if day := e.time.Format(time.DateOnly); day < w.From || w.To != "" && day > w.To {
			continue
		}
		l, ok := lasts[e.instance]
		if !ok || e.time.After(l.time) || e.time.Equal(l.time) && e.version > l.version {
			lasts[e.instance] = last{e.time, e.version}
		}
	}
	counts := map[string]int64{}
	for _, l := range lasts {
		counts[l.version]++
	}
	sum := report.Summary{Window: w, MinDays: 1, Instances: int64(len(lasts)), Versions: []report.VersionCount{}}
	for v, n := range counts {
		sum.Versions = append(sum.Versions, report.VersionCount{Version: v, Instances: n})
	}
	slices.SortFunc(sum.Versions, func(a, b report.VersionCount) int {
		return cmp.Or(cmp.Compare(b.Instances, a.Instances), cmp.Compare(a.Version, b.Version))
	})
	return sum
}

// newDays is, for each day, the instances first seen that day, and per version those that
// reported it that day for the first time.
func (tr *truth) newDays() map[string]report.Day {
	first := map[string]string{}           // instance: day
	firstVersion := map[[2]string]string{} // instance, version: day
	for k := range tr.rows {
		if d, ok := first[k.instance]; !ok || k.day < d {
			first[k.instance] = k.day
		}
		iv := [2]string{k.instance, k.version}
		if d, ok := firstVersion[iv]; !ok || k.day < d {
			firstVersion[iv] = k.day
		}
	}
	days := map[string]report.Day{}
	day := func(name string) report.Day {
		d, ok := days[name]
		if !ok {
			d = report.Day{Day: name, Versions: map[string]int64{}}
		}
		return d
	}
	for _, name := range first {
		d := day(name)
		d.Instances++
		days[name] = d
	}
	for iv, name := range firstVersion {
		d := day(name)
		d.Versions[iv[1]]++
		days[name] = d
	}
	return days
}

// changes counts the instances that made each change of version, over the whole history and
// on the days of w: each instance's rows in the order of day, first second and version, where
// two rows in a row differ, dated by the later row's day.
func (tr *truth) changes(w report.Window) (whole, in []report.Upgrade) {
	type row struct {
		day, version string
		first        int64
	}
	byInstance := map[string][]row{}
	for k, c := range tr.rows {
		byInstance[k.instance] = append(byInstance[k.instance], row{k.day, k.version, c.firstSeen})
	}
	made, madeIn := map[[2]string]map[string]bool{}, map[[2]string]map[string]bool{}
	add := func(made map[[2]string]map[string]bool, c [2]string, id string) {
		if made[c] == nil {
			made[c] = map[string]bool{}
		}
		made[c][id] = true
	}
	for id, rows := range byInstance {
		slices.SortFunc(rows, func(a, b row) int {
			return cmp.Or(cmp.Compare(a.day, b.day), cmp.Compare(a.first, b.first), cmp.Compare(a.version, b.version))
		})
		for i := 1; i < len(rows); i++ {
			a, b := rows[i-1], rows[i]
			if a.version == b.version {
				continue
			}
			c := [2]string{a.version, b.version}
			add(made, c, id)
			if b.day >= w.From && b.day <= w.To {
				add(madeIn, c, id)
			}
		}
	}
	return upgradeCounts(made), upgradeCounts(madeIn)
}

// upgradeCounts counts the instances of each change, sorted as the report sorts them.
func upgradeCounts(made map[[2]string]map[string]bool) []report.Upgrade {
	upgrades := []report.Upgrade{}
	for c, ids := range made {
		upgrades = append(upgrades, report.Upgrade{From: c[0], To: c[1], Instances: int64(len(ids))})
	}
	slices.SortFunc(upgrades, func(a, b report.Upgrade) int {
		return cmp.Or(cmp.Compare(b.Instances, a.Instances), cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To))
	})
	return upgrades
}
