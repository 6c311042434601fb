package main

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	// named apart from the tests' function history
	hist "github.com/mailustats/mailustats/plugin/history"
)

// purgeSummary is what a purge would remove, or with Removed what it removed.
type purgeSummary struct {
	From     string `json:"from"` // the days of the command line
	To       string `json:"to"`
	OnlyOnce bool   `json:"only_once"`
	Version  string `json:"version,omitempty"`
	Removed  bool   `json:"removed"` // false for a dry run

	Instances int64           `json:"instances"` // that lose rows
	Gone      int64           `json:"gone"`      // of them, those with none left, deleted
	Rows      int64           `json:"rows"`
	Hits      int64           `json:"hits"`
	First     string          `json:"first,omitempty"` // the first and last day of the rows
	Last      string          `json:"last,omitempty"`
	Versions  []purgedVersion `json:"versions"`
	Elapsed   string          `json:"elapsed"`
	Removal   *purgeRemoval   `json:"removal,omitempty"` // with Removed
}

// purgedVersion is what a purge removes of one version.
type purgedVersion struct {
	Version   string `json:"version"`
	Instances int64  `json:"instances"`
	Rows      int64  `json:"rows"`
	Hits      int64  `json:"hits"`
	First     string `json:"first"`
	Last      string `json:"last"`
}

// purgeRemoval is how a purge removed the rows.
type purgeRemoval struct {
	Transactions int64  `json:"transactions"`
	LongestLock  string `json:"longest_lock"` // that any kept the writers waiting
}

// purgeTally counts the rows a purge removes, instance by instance.
type purgeTally struct {
	sum          purgeSummary
	versions     map[string]*purgedDays
	total        purgedDays
	transactions int64
	longest      time.Duration // that a transaction kept the writers waiting
}

// purgedDays is a count of a purge's rows and the span of their days.
type purgedDays struct {
	instances, rows, hits int64
	first, last           int32
}

func (c *purgedDays) add(r hist.Row) {
	if c.rows == 0 || r.Day < c.first {
		c.first = r.Day
	}
	if c.rows == 0 || r.Day > c.last {
		c.last = r.Day
	}
	c.rows++
	c.hits += r.Hits
}

func newPurgeTally(f hist.Filter) *purgeTally {
	return &purgeTally{
		sum:      purgeSummary{From: hist.DayString(f.From), To: hist.DayString(f.To), OnlyOnce: f.OnlyOnce, Version: f.Version},
		versions: map[string]*purgedDays{},
	}
}

// add counts the rows an instance loses, and whether it goes.
func (t *purgeTally) add(rows []hist.Row, gone bool) {
	t.total.instances++
	if gone {
		t.sum.Gone++
	}
	for i, r := range rows {
		t.total.add(r)
		v, ok := t.versions[r.Version]
		if !ok {
			v = &purgedDays{}
			t.versions[r.Version] = v
		}
		if !slices.ContainsFunc(rows[:i], func(o hist.Row) bool { return o.Version == r.Version }) {
			v.instances++
		}
		v.add(r)
	}
}

// transaction counts a transaction that kept the writers waiting for held.
func (t *purgeTally) transaction(held time.Duration) {
	t.transactions++
	t.longest = max(t.longest, held)
}

// summary is what the tally counted.
func (t *purgeTally) summary() purgeSummary {
	s := t.sum
	s.Instances, s.Rows, s.Hits = t.total.instances, t.total.rows, t.total.hits
	if t.total.rows > 0 {
		s.First, s.Last = hist.DayString(t.total.first), hist.DayString(t.total.last)
	}
	s.Versions = []purgedVersion{}
	for _, name := range slices.SortedFunc(maps.Keys(t.versions), func(a, b string) int {
		return cmp.Or(cmp.Compare(t.versions[b].rows, t.versions[a].rows), cmp.Compare(a, b))
	}) {
		v := t.versions[name]
		s.Versions = append(s.Versions, purgedVersion{name, v.instances, v.rows, v.hits, hist.DayString(v.first), hist.DayString(v.last)})
	}
	return s
}

// done is what the tally counted of the rows removed, and how.
func (t *purgeTally) done() purgeSummary {
	s := t.summary()
	s.Removed = true
	s.Removal = &purgeRemoval{Transactions: t.transactions, LongestLock: t.longest.Round(time.Millisecond).String()}
	return s
}

// what says which sightings the command line picks.
func (s purgeSummary) what() string {
	w := fmt.Sprintf("sightings from %s to %s (UTC)", s.From, s.To)
	if s.OnlyOnce {
		w += " of instances seen on a single day only"
	}
	if s.Version != "" {
		w += fmt.Sprintf(" of version %q", s.Version)
	}
	return w
}

// print writes what the purge would remove, as a table by version, and says that nothing was
// removed yet.
func (s purgeSummary) print(w io.Writer) error {
	if s.Rows == 0 {
		_, err := fmt.Fprintf(w, "Nothing to remove: no %s.\n", s.what())
		return err
	}
	if _, err := fmt.Fprintf(w, "To remove: the %s.\n\n", s.what()); err != nil {
		return err
	}
	widths := [3]int{len("INSTANCES"), len("ROWS"), len("HITS")}
	for i, n := range []int64{s.Instances, s.Rows, s.Hits} {
		widths[i] = max(widths[i], len(strconv.FormatInt(n, 10)))
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "VERSION\t%*s\t%*s\t%*s\tFROM\tTO\n", widths[0], "INSTANCES", widths[1], "ROWS", widths[2], "HITS")
	line := func(version string, instances, rows, hits int64, first, last string) {
		fmt.Fprintf(tw, "%s\t%*d\t%*d\t%*d\t%s\t%s\n", version, widths[0], instances, widths[1], rows, widths[2], hits, first, last)
	}
	for _, v := range s.Versions {
		line(v.Version, v.Instances, v.Rows, v.Hits, v.First, v.Last)
	}
	line("(total)", s.Instances, s.Rows, s.Hits, s.First, s.Last)
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%s lose sightings; %s of them keep none and go entirely.\n",
		plural(int(s.Instances), "instance"), strconv.FormatInt(s.Gone, 10))
	return err
}

// printDone writes what the purge removed, and how.
func (s purgeSummary) printDone(w io.Writer) error {
	_, err := fmt.Fprintf(w, "Removed %s (%s) of %s, %d of which went entirely, in %s in %s; "+
		"the longest kept the server's writers waiting %s.\n",
		plural(int(s.Rows), "row"), plural(int(s.Hits), "hit"), plural(int(s.Instances), "instance"), s.Gone,
		plural(int(s.Removal.Transactions), "transaction"), s.Elapsed, s.Removal.LongestLock)
	return err
}
