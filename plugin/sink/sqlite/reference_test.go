package sqlite

import (
	"cmp"
	"database/sql"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"testing"

	"github.com/mailustats/mailustats/internal/testutil/sqltest"
	"github.com/mailustats/mailustats/plugin/history"
	"github.com/mailustats/mailustats/plugin/sink/table"
)

// viewRow is a row of the daily view.
type viewRow struct {
	day                 int32
	version             string
	hits                int64
	firstSeen, lastSeen int64 // unix seconds
}

// viewRows reads the daily view by instance, each instance's rows in the order of day and
// version.
func viewRows(t testing.TB, db *sql.DB) map[string][]viewRow {
	t.Helper()
	out := map[string][]viewRow{}
	for _, r := range sqltest.Query(t, db, `SELECT day, version, instance, hits, first_seen, last_seen FROM daily ORDER BY instance, day, version`) {
		day, err := history.ParseDay(r[0].(string))
		if err != nil {
			t.Fatal(err)
		}
		inst := r[2].(string)
		out[inst] = append(out[inst], viewRow{day, r[1].(string), r[3].(int64), r[4].(int64), r[5].(int64)})
	}
	return out
}

// aggregates is what a database holds besides its sightings, by names rather than ids, without
// zero counts: the trend as the counts it sums to.
type aggregates struct {
	states       map[string]history.State
	versionFirst map[string]map[string]int32
	changes      map[string][]history.Change         // sorted
	repeats      map[string]map[history.Change]int32 // the previous day of changes made before
	dayChanges   map[history.Change]int64
	everMade     map[[2]string]int64 // per change, from and to, the instances that made it
	dayVersions  map[history.DayVersion]int64
	days         map[int32]history.DayCount
	adoption     map[history.DayVersion]int64
	trend        map[int32]map[int32]map[string]int64 // window, day, version
}

func newAggregates() aggregates {
	return aggregates{states: map[string]history.State{}, versionFirst: map[string]map[string]int32{},
		changes: map[string][]history.Change{}, repeats: map[string]map[history.Change]int32{},
		dayChanges: map[history.Change]int64{}, everMade: map[[2]string]int64{}, dayVersions: map[history.DayVersion]int64{},
		days: map[int32]history.DayCount{}, adoption: map[history.DayVersion]int64{},
		trend: map[int32]map[int32]map[string]int64{}}
}

// referenceOf works out every aggregate from the rows alone, by the definitions in the
// documentation of package history, without its code; the trend for days up to lastDay.
func referenceOf(all map[string][]viewRow, lastDay int32) aggregates {
	ref := newAggregates()
	for inst, rows := range all {
		ref.versionFirst[inst] = map[string]int32{}
		final := map[int32]viewRow{}
		for _, r := range rows {
			ref.dayVersions[history.DayVersion{Day: r.day, Version: r.version}]++
			if f, ok := ref.versionFirst[inst][r.version]; !ok || r.day < f {
				ref.versionFirst[inst][r.version] = r.day
			}
			if f, ok := final[r.day]; !ok || r.lastSeen > f.lastSeen || r.lastSeen == f.lastSeen && r.version > f.version {
				final[r.day] = r
			}
		}
		for v, day := range ref.versionFirst[inst] {
			ref.adoption[history.DayVersion{Day: day, Version: v}]++
		}
		rowDays := slices.Sorted(maps.Keys(final))
		for _, day := range rowDays {
			c := ref.days[day]
			c.Seen++
			ref.days[day] = c
		}
		first, last := rowDays[0], rowDays[len(rowDays)-1]
		c := ref.days[first]
		c.New++
		ref.days[first] = c
		ref.states[inst] = history.State{FirstDay: first, LastDay: last, Days: int64(len(rowDays)), LastVersion: final[last].version}

		sorted := slices.Clone(rows)
		slices.SortFunc(sorted, func(a, b viewRow) int {
			return cmp.Or(cmp.Compare(a.day, b.day), cmp.Compare(a.firstSeen, b.firstSeen), cmp.Compare(a.version, b.version))
		})
		for i := 1; i < len(sorted); i++ {
			ch := history.Change{Day: sorted[i].day, From: sorted[i-1].version, To: sorted[i].version}
			if ch.From != ch.To && !slices.Contains(ref.changes[inst], ch) {
				ref.changes[inst] = append(ref.changes[inst], ch)
			}
		}
		sortChanges(ref.changes[inst])
		made := map[[2]string]int32{} // the day of each change made so far
		for _, ch := range ref.changes[inst] {
			ref.dayChanges[ch]++
			if day, ok := made[[2]string{ch.From, ch.To}]; ok {
				addRepeat(ref.repeats, inst, ch, day)
			} else {
				ref.everMade[[2]string{ch.From, ch.To}]++
			}
			made[[2]string{ch.From, ch.To}] = ch.Day
		}

		for _, w := range history.TrendWindows {
			latest := 0 // the index in rowDays of the latest day with rows up to day
			for day := first; day <= lastDay; day++ {
				for latest+1 < len(rowDays) && rowDays[latest+1] <= day {
					latest++
				}
				if d := rowDays[latest]; day-d < w {
					addTrend(ref.trend, w, day, final[d].version, 1)
				}
			}
		}
	}
	return ref
}

func addRepeat(repeats map[string]map[history.Change]int32, inst string, ch history.Change, previous int32) {
	if repeats[inst] == nil {
		repeats[inst] = map[history.Change]int32{}
	}
	repeats[inst][ch] = previous
}

func addTrend(trend map[int32]map[int32]map[string]int64, w, day int32, version string, n int64) {
	if trend[w] == nil {
		trend[w] = map[int32]map[string]int64{}
	}
	if trend[w][day] == nil {
		trend[w][day] = map[string]int64{}
	}
	trend[w][day][version] += n
}

func sortChanges(c []history.Change) {
	slices.SortFunc(c, func(a, b history.Change) int {
		return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To))
	})
}

// storedAggregates reads the aggregates of a database, the trend for days up to lastDay.
func storedAggregates(t testing.TB, db *sql.DB, lastDay int32) aggregates {
	t.Helper()
	got := newAggregates()
	var kind string
	if rows := sqltest.Query(t, db, `SELECT value FROM settings WHERE name = ?`, settingIDs); len(rows) == 1 {
		kind = rows[0][0].(string)
	}
	instance := func(key any) string { return table.Key(key.([]byte)).Format(kind) }
	for _, r := range sqltest.Query(t, db, `SELECT key, first_day, last_day, days, v.name FROM instances JOIN versions AS v ON v.id = last_version`) {
		got.states[instance(r[0])] = history.State{FirstDay: int32(r[1].(int64)), LastDay: int32(r[2].(int64)), Days: r[3].(int64), LastVersion: r[4].(string)}
	}
	for _, r := range sqltest.Query(t, db, `SELECT key, v.name, iv.first_day FROM instance_versions AS iv JOIN instances AS i ON i.id = instance
		JOIN versions AS v ON v.id = version`) {
		inst := instance(r[0])
		if got.versionFirst[inst] == nil {
			got.versionFirst[inst] = map[string]int32{}
		}
		got.versionFirst[inst][r[1].(string)] = int32(r[2].(int64))
	}
	for _, r := range sqltest.Query(t, db, `SELECT key, day, f.name, t.name FROM changes JOIN instances AS i ON i.id = instance
		JOIN versions AS f ON f.id = from_version JOIN versions AS t ON t.id = to_version`) {
		inst := instance(r[0])
		got.changes[inst] = append(got.changes[inst], history.Change{Day: int32(r[1].(int64)), From: r[2].(string), To: r[3].(string)})
	}
	for _, c := range got.changes {
		sortChanges(c)
	}
	for _, r := range sqltest.Query(t, db, `SELECT key, day, f.name, t.name, previous_day FROM changes JOIN instances AS i ON i.id = instance
		JOIN versions AS f ON f.id = from_version JOIN versions AS t ON t.id = to_version WHERE previous_day IS NOT NULL`) {
		ch := history.Change{Day: int32(r[1].(int64)), From: r[2].(string), To: r[3].(string)}
		addRepeat(got.repeats, instance(r[0]), ch, int32(r[4].(int64)))
	}
	for _, r := range sqltest.Query(t, db, `SELECT f.name, t.name, instances FROM change_instances
		JOIN versions AS f ON f.id = from_version JOIN versions AS t ON t.id = to_version WHERE instances != 0`) {
		got.everMade[[2]string{r[0].(string), r[1].(string)}] = r[2].(int64)
	}
	for _, r := range sqltest.Query(t, db, `SELECT day, f.name, t.name, instances FROM day_changes
		JOIN versions AS f ON f.id = from_version JOIN versions AS t ON t.id = to_version WHERE instances != 0`) {
		got.dayChanges[history.Change{Day: int32(r[0].(int64)), From: r[1].(string), To: r[2].(string)}] = r[3].(int64)
	}
	for _, r := range sqltest.Query(t, db, `SELECT day, v.name, instances FROM day_versions JOIN versions AS v ON v.id = version WHERE instances != 0`) {
		got.dayVersions[history.DayVersion{Day: int32(r[0].(int64)), Version: r[1].(string)}] = r[2].(int64)
	}
	for _, r := range sqltest.Query(t, db, `SELECT day, v.name, instances FROM day_adoption JOIN versions AS v ON v.id = version WHERE instances != 0`) {
		got.adoption[history.DayVersion{Day: int32(r[0].(int64)), Version: r[1].(string)}] = r[2].(int64)
	}
	for _, r := range sqltest.Query(t, db, `SELECT day, instances, new_instances FROM day_counts WHERE instances != 0 OR new_instances != 0`) {
		got.days[int32(r[0].(int64))] = history.DayCount{Seen: r[1].(int64), New: r[2].(int64)}
	}
	deltas := map[int32]map[int32]map[string]int64{} // window, day, version
	firstDay := int32(math.MaxInt32)
	for _, r := range sqltest.Query(t, db, `SELECT window_days, day, v.name, delta FROM trend_deltas JOIN versions AS v ON v.id = version`) {
		day := int32(r[1].(int64))
		addTrend(deltas, int32(r[0].(int64)), day, r[2].(string), r[3].(int64))
		firstDay = min(firstDay, day)
	}
	for w, byDay := range deltas {
		running := map[string]int64{}
		for day := firstDay; day <= lastDay; day++ {
			for v, n := range byDay[day] {
				running[v] += n
			}
			for v, n := range running {
				if n != 0 {
					addTrend(got.trend, w, day, v, n)
				}
			}
		}
	}
	return got
}

// checkAggregates checks the aggregates of db against their definitions, from the rows of its
// daily view.
func checkAggregates(t testing.TB, db *sql.DB) {
	t.Helper()
	rows := viewRows(t, db)
	var lastDay int32
	for _, rs := range rows {
		for _, r := range rs {
			lastDay = max(lastDay, r.day+history.TrendWindows[len(history.TrendWindows)-1])
		}
	}
	want := referenceOf(rows, lastDay)
	got := storedAggregates(t, db, lastDay)
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"states", got.states, want.states},
		{"first days of versions", got.versionFirst, want.versionFirst},
		{"changes", got.changes, want.changes},
		{"previous days of changes", got.repeats, want.repeats},
		{"day_changes", got.dayChanges, want.dayChanges},
		{"change_instances", got.everMade, want.everMade},
		{"day_versions", got.dayVersions, want.dayVersions},
		{"day_counts", got.days, want.days},
		{"day_adoption", got.adoption, want.adoption},
		{"trends", got.trend, want.trend},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: expected\n%v\ngot\n%v", c.what, c.want, c.got)
		}
	}
}

// tableContents are the rows of the tables that Rebuild writes, without zero counts.
func tableContents(t testing.TB, db *sql.DB) map[string]string {
	t.Helper()
	out := map[string]string{}
	for name, q := range map[string]string{
		"instances":         `SELECT * FROM instances ORDER BY id`,
		"instance_versions": `SELECT * FROM instance_versions ORDER BY instance, version`,
		"changes":           `SELECT * FROM changes ORDER BY instance, day, from_version, to_version`,
		"day_versions":      `SELECT * FROM day_versions WHERE instances != 0 ORDER BY day, version`,
		"day_counts":        `SELECT * FROM day_counts WHERE instances != 0 OR new_instances != 0 ORDER BY day`,
		"day_adoption":      `SELECT * FROM day_adoption WHERE instances != 0 ORDER BY day, version`,
		"day_changes":       `SELECT * FROM day_changes WHERE instances != 0 ORDER BY day, from_version, to_version`,
		"change_instances":  `SELECT * FROM change_instances WHERE instances != 0 ORDER BY from_version, to_version`,
		"trend_deltas":      `SELECT * FROM trend_deltas WHERE delta != 0 ORDER BY window_days, day, version`,
	} {
		out[name] = fmt.Sprint(sqltest.Query(t, db, q))
	}
	return out
}

// checkRebuild checks that Rebuild finds the tables of db as they are.
func checkRebuild(t testing.TB, db *sql.DB) {
	t.Helper()
	before := tableContents(t, db)
	tx, err := db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if err := Rebuild(t.Context(), tx); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	after := tableContents(t, db)
	for name, b := range before {
		if a := after[name]; a != b {
			t.Errorf("%s after Rebuild: expected\n%s\ngot\n%s", name, b, a)
		}
	}
}
