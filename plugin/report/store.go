package report

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/mailustats/mailustats/plugin/history"
)

// ErrWindow is wrapped by the error of a query on a window that is not a range of days, or on
// a trend window or step out of range.
var ErrWindow = errors.New("invalid window")

// maxWindowDays is the longest window a query accepts, about twenty years, so that the whole
// history, which starts in 2015, fits: Daily and New return an entry for every day of the
// window.
const maxWindowDays = 7320

// maxTrendDays is the longest window of a trend.
const maxTrendDays = 365

// Validate returns an error wrapping ErrWindow unless From and To are dates as YYYY-MM-DD,
// From is not after To, and the window spans at most maxWindowDays days.
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
	case days > maxWindowDays:
		return from, to, fmt.Errorf("%w: %d days, more than %d", ErrWindow, days, maxWindowDays)
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
	days := make([]Day, 0, to-from+1)
	for d := from; d <= to; d++ {
		days = append(days, Day{Day: history.DayString(d), Versions: map[string]int64{}})
	}
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
	for rows.Next() {
		var (
			day     int32
			version sql.NullInt64
			n       int64
		)
		if err := rows.Scan(&day, &version, &n); err != nil {
			return nil, err
		}
		if day < from || day > to {
			return nil, fmt.Errorf("day %s outside the window %s to %s", history.DayString(day), days[0].Day, days[len(days)-1].Day)
		}
		if d := &days[day-from]; version.Valid {
			d.Versions[names[version.Int64]] = n
		} else {
			d.Instances = n
		}
	}
	return days, rows.Err()
}

// Upgrades counts, per change of version, the instances that made the change on a day of w.
// Changes are over each instance's whole history: its rows ordered by day, first sighting and
// version, two consecutive rows with different versions are a change dated by the later row's
// day, downgrades included, so the row before may be before w. An instance that reported two
// versions in a day changed from the one it reported first. An instance counts once per change
// it made in w, however often it made it. Sorted by count, largest first, then by from and to.
// It reads the changes dated in w, through their index on day.
func (s *Store) Upgrades(ctx context.Context, w Window) ([]Upgrade, error) {
	q, from, to, err := s.queries(w)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, q.upgrades, from, to)
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

// Trend returns, for every step-th day D of w from w.From, the distinct instances with rows in
// the windowDays days ending at D, in total and each under the version of its latest row there,
// as Summary counts them. windowDays is from 1 to 365, step at least 1.
//
// For the windows of history.TrendWindows it sums their aggregate up to each day: one read of
// at most a row per day and version, whatever the number of instances. Any other window is
// worked out from the sightings of the days from windowDays-1 before w to its end, read once
// in key order: about a second per million rows, several over years of a hundred thousand
// instances.
func (s *Store) Trend(ctx context.Context, w Window, windowDays, step int) ([]Day, error) {
	q, from, to, err := s.queries(w)
	if err != nil {
		return nil, err
	}
	if windowDays < 1 || windowDays > maxTrendDays {
		return nil, fmt.Errorf("%w: a trend of %d days, not 1 to %d", ErrWindow, windowDays, maxTrendDays)
	}
	if step < 1 {
		return nil, fmt.Errorf("%w: a trend every %d days", ErrWindow, step)
	}
	step = min(step, maxWindowDays) // no window has more days
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
	if slices.Contains(history.TrendWindows, int32(windowDays)) {
		deltas, err = trendDeltas(ctx, tx, q, int32(windowDays), to)
	} else {
		deltas, err = trendFromSightings(ctx, tx, q, names, int32(windowDays), from-int32(windowDays)+1, to)
	}
	if err != nil {
		return nil, fmt.Errorf("trend: %w", err)
	}
	var days []Day
	next := from // the next day to return
	counts := map[int64]int64{}
	appendUntil := func(day int32) { // appends the days to return that come before day
		for ; next < day && next <= to; next += int32(step) {
			d := Day{Day: history.DayString(next), Versions: make(map[string]int64, len(counts))}
			for v, n := range counts {
				d.Versions[names[v]] = n
				d.Instances += n
			}
			days = append(days, d)
		}
	}
	for _, d := range deltas {
		appendUntil(d.day)
		if n := counts[d.version] + d.n; n > 0 {
			counts[d.version] = n
		} else {
			delete(counts, d.version)
		}
	}
	appendUntil(to + 1)
	return days, nil
}

// trendDelta is what a trend gains, or loses, under a version id on a day.
type trendDelta struct {
	day     int32
	version int64
	n       int64
}

// trendDeltas reads the kept trend of window up to to, in order of day.
func trendDeltas(ctx context.Context, tx *sql.Tx, q *queries, window, to int32) ([]trendDelta, error) {
	rows, err := tx.QueryContext(ctx, q.trend, window, to)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var deltas []trendDelta
	for rows.Next() {
		var d trendDelta
		if err := rows.Scan(&d.day, &d.version, &d.n); err != nil {
			return nil, err
		}
		deltas = append(deltas, d)
	}
	return deltas, rows.Err()
}

// trendFromSightings works out the trend of window from the sightings of the days lo to to,
// as package history defines it: each day an instance has rows adds one under the version of
// its final row, and takes it back window days later or on the instance's next day with rows,
// whichever comes first. Rows before lo count on no day from lo+window-1 on. names breaks ties
// between rows seen last at the same second. It returns the deltas in order of day.
func trendFromSightings(ctx context.Context, tx *sql.Tx, q *queries, names map[int64]string, window, lo, to int32) ([]trendDelta, error) {
	rows, err := tx.QueryContext(ctx, q.trendSightings, lo, to)
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
