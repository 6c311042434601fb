package report

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/mailustats/mailustats/plugin/history"
)

// ErrWindow is wrapped by the error of a query on a window that is not a range of days, or on
// a trend window or step out of range.
var ErrWindow = errors.New("invalid window")

// MaxWindowDays is the longest window a query accepts, about twenty years, so that the whole
// history, which starts in 2015, fits: Daily and New return an entry for every day of the
// window.
const MaxWindowDays = 7320

// MaxTrendDays is the longest window of a trend.
const MaxTrendDays = 365

// Validate returns an error wrapping ErrWindow unless From and To are dates as YYYY-MM-DD,
// From is not after To, and the window spans at most MaxWindowDays days.
func (w Window) Validate() error {
	_, _, err := w.bounds()
	return err
}

// bounds returns the window's first and last day as days since 1970-01-01.
func (w Window) bounds() (from, to int32, err error) {
	if from, err = parseDay(w.From); err != nil {
		return from, to, fmt.Errorf("%w: from: %v", ErrWindow, err)
	}
	if to, err = parseDay(w.To); err != nil {
		return from, to, fmt.Errorf("%w: to: %v", ErrWindow, err)
	}
	switch days := int64(to) - int64(from) + 1; {
	case days < 1:
		return from, to, fmt.Errorf("%w: from %s is after to %s", ErrWindow, w.From, w.To)
	case days > MaxWindowDays:
		return from, to, fmt.Errorf("%w: %d days, more than %d", ErrWindow, days, MaxWindowDays)
	}
	return from, to, nil
}

// parseDay reads a UTC day written exactly as YYYY-MM-DD.
func parseDay(s string) (int32, error) {
	day, err := history.ParseDay(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a date as YYYY-MM-DD", s)
	}
	return day, nil
}

// queries returns the statements in the store's SQL, and w's days after checking them.
func (s *Store) queries(w Window) (q *queries, from, to int32, err error) {
	if from, to, err = w.bounds(); err != nil {
		return nil, from, to, err
	}
	q, ok := dialects[s.dialect]
	if !ok {
		return nil, from, to, fmt.Errorf("unknown dialect %d", s.dialect)
	}
	return q, from, to, nil
}

// snapshot begins a read-only transaction that sees one state of the database throughout, for
// the methods that read with more than one statement.
func (s *Store) snapshot(ctx context.Context) (*sql.Tx, error) {
	return s.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
}

// readRowsTurn waits for the turn of a read of the base rows and returns the function that
// ends it, or ctx's error.
func (s *Store) readRowsTurn(ctx context.Context) (done func(), err error) {
	select {
	case s.rowReads <- struct{}{}:
		return func() { <-s.rowReads }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// FirstDay returns the first day with rows as YYYY-MM-DD, and false when there is none.
func (s *Store) FirstDay(ctx context.Context) (string, bool, error) {
	q, ok := dialects[s.dialect]
	if !ok {
		return "", false, fmt.Errorf("unknown dialect %d", s.dialect)
	}
	var day int32
	switch err := s.db.QueryRowContext(ctx, q.firstDay).Scan(&day); {
	case errors.Is(err, sql.ErrNoRows):
		return "", false, nil
	case err != nil:
		return "", false, fmt.Errorf("first day: %w", err)
	}
	return history.DayString(day), true, nil
}

// WholeHistory is the window of days=all: from the first day with rows to now's UTC day, but
// that day alone when there are none or the first is later, and at most MaxWindowDays days.
func (s *Store) WholeHistory(ctx context.Context, now time.Time) (Window, error) {
	first, ok, err := s.FirstDay(ctx)
	if err != nil {
		return Window{}, err
	}
	win := LastDays(now, MaxWindowDays)
	switch {
	case !ok || first > win.To: // YYYY-MM-DD compare as they sort
		win.From = win.To
	case first > win.From:
		win.From = first
	}
	return win, nil
}

// Summary counts the distinct instances seen in w, each once under the last version it reported
// there: that of its last day's final row, the row seen last, or, of rows seen last at the same
// second, the greatest version in byte order. With minDays above 1 it counts only the instances
// seen on at least minDays distinct days over their whole history, before and after w too: a
// flood of made-up instances is seen on one day each, a real installation restarts on others.
//
// A window that reaches the last day with rows, as the last N days do, is answered from each
// instance's state, one index range of the instances whose last day is in it. A window that
// ends earlier is answered from the sightings: every instance seen since the window's start is
// looked up in the window's days, two index seeks per such instance, a few hundred milliseconds
// on a hundred thousand instances.
func (s *Store) Summary(ctx context.Context, w Window, minDays int) (Summary, error) {
	q, from, to, err := s.queries(w)
	if err != nil {
		return Summary{}, err
	}
	minDays = max(minDays, 1)
	sum := Summary{Window: w, MinDays: minDays, Versions: []VersionCount{}}
	// One snapshot, so that no write moves the last day between the choice and the query.
	tx, err := s.snapshot(ctx)
	if err != nil {
		return Summary{}, fmt.Errorf("summary: %w", err)
	}
	defer tx.Rollback()
	query := q.summary
	var last int32
	switch err := tx.QueryRowContext(ctx, q.lastDay).Scan(&last); {
	case err == nil && last > to:
		query = q.summarySightings
		done, err := s.readRowsTurn(ctx)
		if err != nil {
			return Summary{}, fmt.Errorf("summary: %w", err)
		}
		defer done()
	case err != nil && !errors.Is(err, sql.ErrNoRows):
		return Summary{}, fmt.Errorf("summary: %w", err)
	}
	rows, err := tx.QueryContext(ctx, query, from, to, minDays)
	if err != nil {
		return Summary{}, fmt.Errorf("summary: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var vc VersionCount
		if err := rows.Scan(&vc.Version, &vc.Instances); err != nil {
			return Summary{}, fmt.Errorf("summary: %w", err)
		}
		sum.Instances += vc.Instances
		sum.Versions = append(sum.Versions, vc)
	}
	if err := rows.Err(); err != nil {
		return Summary{}, fmt.Errorf("summary: %w", err)
	}
	// Sorted here rather than in SQL, where PostgreSQL would follow the database's collation.
	slices.SortFunc(sum.Versions, func(a, b VersionCount) int {
		return cmp.Or(cmp.Compare(b.Instances, a.Instances), cmp.Compare(a.Version, b.Version))
	})
	return sum, nil
}

// Daily returns every day of w, in order, with the distinct instances seen that day, in total
// and per version. An instance that reported two versions in a day counts under both versions
// but once in the total. A day without rows has zero instances and an empty map. It reads the
// per-day aggregates only.
func (s *Store) Daily(ctx context.Context, w Window) ([]Day, error) {
	q, from, to, err := s.queries(w)
	if err != nil {
		return nil, err
	}
	days, err := s.days(ctx, q, q.daily, from, to)
	if err != nil {
		return nil, fmt.Errorf("daily: %w", err)
	}
	return days, nil
}

// New returns every day of w, in order, with what was seen that day for the first time in the
// whole history, before the window too. Instances counts the new installations: the instances
// first seen that day. Versions counts, per version, the instances that reported it that day for
// the first time: new installations and instances that upgraded (or went back) to it, so it reads
// as the adoption of each release. An instance first seen with two versions in a day counts under
// both. A day without any has zero instances and an empty map. It reads the per-day aggregates
// only.
func (s *Store) New(ctx context.Context, w Window) ([]Day, error) {
	q, from, to, err := s.queries(w)
	if err != nil {
		return nil, err
	}
	days, err := s.days(ctx, q, q.adoption, from, to)
	if err != nil {
		return nil, fmt.Errorf("new: %w", err)
	}
	return days, nil
}

// days runs query, whose rows are a day, a version id and a count, or a day, NULL and the
// day's total, and returns every day from from to to with the counts it gives them.
func (s *Store) days(ctx context.Context, q *queries, query string, from, to int32) ([]Day, error) {
	// One snapshot, so that every version the rows name is among those read first.
	tx, err := s.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	names, err := versionNames(ctx, tx, q)
	if err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, query, from, to)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return readDays(rows, names, from, to)
}

// readDays reads the rows of the query of days and returns every day from from to to with the
// counts they give it. The rows of a day mostly come together, in the order of the primary key
// or of the table's storage, so each run of rows of one day is gathered, then added to the
// day's map, made with room for the versions of its first run: few maps grow.
func readDays(rows *sql.Rows, names map[int64]string, from, to int32) ([]Day, error) {
	days := make([]Day, to-from+1)
	for i := range days {
		days[i].Day = history.DayString(from + int32(i))
	}
	var (
		row     intRow
		current *Day      // the day of the run being read
		run     []idCount // its versions
	)
	for rows.Next() {
		if err := row.scan(rows); err != nil {
			return nil, err
		}
		if !row.ok[0] || !row.ok[2] {
			return nil, errors.New("a NULL day or count")
		}
		if day := row.v[0]; day < int64(from) || day > int64(to) {
			return nil, fmt.Errorf("day %s outside the window %s to %s", history.DayString(int32(day)), days[0].Day, days[len(days)-1].Day)
		}
		d := &days[row.v[0]-int64(from)]
		if !row.ok[1] {
			d.Instances = row.v[2]
			continue
		}
		if d != current {
			addVersions(current, run, names)
			current, run = d, run[:0]
		}
		run = append(run, idCount{row.v[1], row.v[2]})
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	addVersions(current, run, names)
	for i := range days {
		if days[i].Versions == nil {
			days[i].Versions = map[string]int64{}
		}
	}
	return days, nil
}

// idCount is a count under a version id.
type idCount struct {
	version, n int64
}

// addVersions adds counts to the map of d, made with room for them if d has none yet.
func addVersions(d *Day, counts []idCount, names map[int64]string) {
	if len(counts) == 0 {
		return
	}
	if d.Versions == nil {
		d.Versions = make(map[string]int64, len(counts))
	}
	for _, c := range counts {
		d.Versions[names[c.version]] = c.n
	}
}

// intRow is a row of three integers, each maybe NULL, scanned into any, which database/sql
// assigns without the reflection that an int64 or a sql.NullInt64 costs: both drivers give
// integers as int64. The statements of a row per day and version are read so.
type intRow struct {
	dest [3]any
	v    [3]int64
	ok   [3]bool // false for NULL, whose v is 0
}

// scan reads the current row of rows.
func (r *intRow) scan(rows *sql.Rows) error {
	if err := rows.Scan(&r.dest[0], &r.dest[1], &r.dest[2]); err != nil {
		return err
	}
	for i, x := range r.dest {
		switch x := x.(type) {
		case int64:
			r.v[i], r.ok[i] = x, true
		case nil:
			r.v[i], r.ok[i] = 0, false
		default:
			return fmt.Errorf("column %d: %v (%T) is not an integer", i+1, x, x)
		}
	}
	return nil
}

// Upgrades counts, per change of version, the instances that made the change on a day of w.
// Changes are over each instance's whole history: its rows ordered by day, first sighting and
// version, two consecutive rows with different versions are a change dated by the later row's
// day, downgrades included, so the row before may be before w. An instance that reported two
// versions in a day changed from the one it reported first. An instance counts once per change
// it made in w, however often it made it. Sorted by count, largest first, then by from and to.
// A window that holds the whole history reads the instances that ever made each change; any
// other reads the per-day counts of changes, and the changes in w that repeat one made since
// w.From, through their partial index.
func (s *Store) Upgrades(ctx context.Context, w Window) ([]Upgrade, error) {
	q, from, to, err := s.queries(w)
	if err != nil {
		return nil, err
	}
	// One snapshot, so that no write moves the first or last day between the choice and the
	// query.
	tx, err := s.snapshot(ctx)
	if err != nil {
		return nil, fmt.Errorf("upgrades: %w", err)
	}
	defer tx.Rollback()
	query, args := q.upgrades, []any{from, to}
	var first, last int32
	err = tx.QueryRowContext(ctx, q.firstDay).Scan(&first)
	if err == nil {
		err = tx.QueryRowContext(ctx, q.lastDay).Scan(&last)
	}
	switch {
	case err == nil && from <= first && to >= last:
		query, args = q.upgradesEver, nil
	case err != nil && !errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("upgrades: %w", err)
	}
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("upgrades: %w", err)
	}
	defer rows.Close()
	upgrades := []Upgrade{}
	for rows.Next() {
		var u Upgrade
		if err := rows.Scan(&u.From, &u.To, &u.Instances); err != nil {
			return nil, fmt.Errorf("upgrades: %w", err)
		}
		upgrades = append(upgrades, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("upgrades: %w", err)
	}
	slices.SortFunc(upgrades, func(a, b Upgrade) int {
		return cmp.Or(cmp.Compare(b.Instances, a.Instances), cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To))
	})
	return upgrades, nil
}

// Trend returns, for every step-th day D of w counted back from w.To, so that the last is
// w.To, the distinct instances with rows in
// the windowDays days ending at D, in total and each under the version of its latest row there,
// as Summary counts them. windowDays is from 1 to MaxTrendDays, step at least 1. With minDays
// above 1 it counts only the instances seen on at least minDays distinct days over their whole
// history, as Summary does.
//
// For the windows of history.TrendWindows, and every instance, it sums their aggregate up to
// each day: one read of at most a row per day and version, whatever the number of instances.
// Any other window, or minDays above 1, is worked out from the sightings of the days from
// windowDays-1 before w to its end, read once in key order: about a second per million rows,
// several over years of a hundred thousand instances.
func (s *Store) Trend(ctx context.Context, w Window, windowDays, step, minDays int) ([]Day, error) {
	q, from, to, err := s.queries(w)
	if err != nil {
		return nil, err
	}
	if windowDays < 1 || windowDays > MaxTrendDays {
		return nil, fmt.Errorf("%w: a trend of %d days, not 1 to %d", ErrWindow, windowDays, MaxTrendDays)
	}
	if step < 1 {
		return nil, fmt.Errorf("%w: a trend every %d days", ErrWindow, step)
	}
	step = min(step, MaxWindowDays) // no window has more days
	from = to - (to-from)/int32(step)*int32(step)
	minDays = max(minDays, 1)
	// One snapshot, so that every version the rows name is among those read first.
	tx, err := s.snapshot(ctx)
	if err != nil {
		return nil, fmt.Errorf("trend: %w", err)
	}
	defer tx.Rollback()
	names, err := versionNames(ctx, tx, q)
	if err != nil {
		return nil, fmt.Errorf("trend: %w", err)
	}
	var deltas []trendDelta
	if minDays == 1 && slices.Contains(history.TrendWindows, int32(windowDays)) {
		deltas, err = trendDeltas(ctx, tx, q, int32(windowDays), to)
	} else {
		deltas, err = s.trendFromSightings(ctx, tx, q, names, int32(windowDays), from-int32(windowDays)+1, to, minDays)
	}
	if err != nil {
		return nil, fmt.Errorf("trend: %w", err)
	}
	return trendDays(deltas, names, from, to, int32(step)), nil
}

// trendDays returns every step-th day from from to to with the trend that deltas, in order of
// day, add up to by then. It keeps the counts by version name, so that each day returned gets
// a copy of them.
func trendDays(deltas []trendDelta, names map[int64]string, from, to, step int32) []Day {
	var (
		days   = make([]Day, 0, (to-from)/step+1)
		next   = from               // the next day to return
		counts = map[string]int64{} // each above 0
		total  int64                // their sum
	)
	// appendUntil appends the days to return that come before day.
	appendUntil := func(day int32) {
		for ; next < day && next <= to; next += step {
			days = append(days, Day{Day: history.DayString(next), Instances: total, Versions: maps.Clone(counts)})
		}
	}
	for _, d := range deltas {
		appendUntil(d.day)
		name := names[d.version]
		old := counts[name]
		if n := old + d.n; n > 0 {
			counts[name] = n
			total += n - old
		} else {
			delete(counts, name)
			total -= old
		}
	}
	appendUntil(to + 1)
	return days
}

// trendDelta is what a trend gains, or loses, under a version id on a day.
type trendDelta struct {
	day     int32
	version int64
	n       int64
}

// trendDeltas reads the kept trend of window up to to, and returns it in order of day.
func trendDeltas(ctx context.Context, tx *sql.Tx, q *queries, window, to int32) ([]trendDelta, error) {
	rows, err := tx.QueryContext(ctx, q.trend, window, to)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	// Read into chunks, then put together at once: a slice grown row by row would be copied at
	// each growth, megabytes in the end.
	var (
		row    intRow
		chunks [][]trendDelta
		chunk  []trendDelta
	)
	for rows.Next() {
		if err := row.scan(rows); err != nil {
			return nil, err
		}
		if row.ok != [3]bool{true, true, true} {
			return nil, errors.New("a NULL day, version or delta")
		}
		if len(chunk) == cap(chunk) {
			chunks = append(chunks, chunk)
			chunk = make([]trendDelta, 0, 4096)
		}
		chunk = append(chunk, trendDelta{day: int32(row.v[0]), version: row.v[1], n: row.v[2]})
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	deltas := slices.Concat(append(chunks, chunk)...)
	// Sorted here, as the statement leaves it: PostgreSQL would sort them on disk.
	slices.SortFunc(deltas, func(a, b trendDelta) int { return cmp.Compare(a.day, b.day) })
	return deltas, nil
}

// trendFromSightings works out the trend of window from the sightings of the days lo to to,
// as package history defines it: each day an instance has rows adds one under the version of
// its final row, and takes it back window days later or on the instance's next day with rows,
// whichever comes first. Rows before lo count on no day from lo+window-1 on. names breaks ties
// between rows seen last at the same second. Only the instances seen on minDays days or more
// count. It returns the deltas in order of day.
func (s *Store) trendFromSightings(ctx context.Context, tx *sql.Tx, q *queries, names map[int64]string, window, lo, to int32, minDays int) ([]trendDelta, error) {
	done, err := s.readRowsTurn(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	rows, err := tx.QueryContext(ctx, q.trendSightings, lo, to, minDays)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	type dayVersion struct {
		day     int32
		version int64
	}
	sums := map[dayVersion]int64{}
	// The day being read of the instance being read, and its final row so far.
	var (
		instance, final int64 = -1, 0
		day             int32
		finalSeen       int64
	)
	// closeDay counts the day read, whose final row is known, given the instance's next day.
	closeDay := func(next int32) {
		sums[dayVersion{day, final}]++
		if end := min(day+window, next); end <= to {
			sums[dayVersion{end, final}]--
		}
	}
	for rows.Next() {
		var (
			i, version, seen int64
			d                int32
		)
		if err := rows.Scan(&i, &d, &version, &seen); err != nil {
			return nil, err
		}
		switch {
		case i != instance:
			if instance >= 0 {
				closeDay(math.MaxInt32)
			}
			instance, day, final, finalSeen = i, d, version, seen
		case d != day:
			closeDay(d)
			day, final, finalSeen = d, version, seen
		case seen > finalSeen || seen == finalSeen && names[version] > names[final]:
			final, finalSeen = version, seen
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if instance >= 0 {
		closeDay(math.MaxInt32)
	}
	deltas := make([]trendDelta, 0, len(sums))
	for k, n := range sums {
		if n != 0 {
			deltas = append(deltas, trendDelta{k.day, k.version, n})
		}
	}
	slices.SortFunc(deltas, func(a, b trendDelta) int { return cmp.Compare(a.day, b.day) })
	return deltas, nil
}

// versionNames reads the name of every version by id.
func versionNames(ctx context.Context, tx *sql.Tx, q *queries) (map[int64]string, error) {
	rows, err := tx.QueryContext(ctx, q.versions)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	names := map[int64]string{}
	for rows.Next() {
		var (
			id   int64
			name string
		)
		if err := rows.Scan(&id, &name); err != nil {
			return nil, err
		}
		names[id] = name
	}
	return names, rows.Err()
}
