package report

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"
)

// ErrWindow is wrapped by the error of a query on a window that is not a range of days.
var ErrWindow = errors.New("invalid window")

// maxWindowDays is the longest window a query accepts, about ten years: Daily and New return an
// entry for every day of the window.
const maxWindowDays = 3660

// Validate returns an error wrapping ErrWindow unless From and To are dates as YYYY-MM-DD,
// From is not after To, and the window spans at most maxWindowDays days.
func (w Window) Validate() error {
	_, _, err := w.bounds()
	return err
}

// bounds returns the window's first and last day at UTC midnight.
func (w Window) bounds() (from, to time.Time, err error) {
	if from, err = parseDay(w.From); err != nil {
		return from, to, fmt.Errorf("%w: from: %v", ErrWindow, err)
	}
	if to, err = parseDay(w.To); err != nil {
		return from, to, fmt.Errorf("%w: to: %v", ErrWindow, err)
	}
	// Sub saturates at about 292 years, which is still more than maxWindowDays.
	switch days := int(to.Sub(from)/(24*time.Hour)) + 1; {
	case days < 1:
		return from, to, fmt.Errorf("%w: from %s is after to %s", ErrWindow, w.From, w.To)
	case days > maxWindowDays:
		return from, to, fmt.Errorf("%w: %d days, more than %d", ErrWindow, days, maxWindowDays)
	}
	return from, to, nil
}

// parseDay reads a UTC day written exactly as YYYY-MM-DD.
func parseDay(s string) (time.Time, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return t, fmt.Errorf("%q is not a date as YYYY-MM-DD", s)
	}
	return t, nil
}

// queries returns the statements in the store's SQL, after checking w.
func (s *Store) queries(w Window) (*queries, error) {
	if err := w.Validate(); err != nil {
		return nil, err
	}
	q, ok := dialects[s.dialect]
	if !ok {
		return nil, fmt.Errorf("unknown dialect %d", s.dialect)
	}
	return q, nil
}

// Summary counts the distinct instances seen in w, each once under the last version it reported
// there: that of its row with the latest last_seen, or, of rows seen last at the same second,
// the greatest version in byte order. With minDays above 1 it counts only the instances seen
// on at least minDays distinct days over their whole history, before and after w too: a
// flood of made-up instances is seen on one day each, a real installation restarts on others.
func (s *Store) Summary(ctx context.Context, w Window, minDays int) (Summary, error) {
	q, err := s.queries(w)
	if err != nil {
		return Summary{}, err
	}
	minDays = max(minDays, 1)
	var rows *sql.Rows
	if minDays == 1 {
		rows, err = s.db.QueryContext(ctx, q.summary, w.From, w.To)
	} else {
		rows, err = s.db.QueryContext(ctx, q.summaryMinDays, w.From, w.To, minDays)
	}
	if err != nil {
		return Summary{}, fmt.Errorf("summary: %w", err)
	}
	defer rows.Close()
	sum := Summary{Window: w, MinDays: minDays, Versions: []VersionCount{}}
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
// but once in the total. A day without rows has zero instances and an empty map.
func (s *Store) Daily(ctx context.Context, w Window) ([]Day, error) {
	q, err := s.queries(w)
	if err != nil {
		return nil, err
	}
	days, err := s.days(ctx, q.daily, w)
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
// both. A day without any has zero instances and an empty map.
func (s *Store) New(ctx context.Context, w Window) ([]Day, error) {
	q, err := s.queries(w)
	if err != nil {
		return nil, err
	}
	days, err := s.days(ctx, q.adoption, w)
	if err != nil {
		return nil, fmt.Errorf("new: %w", err)
	}
	return days, nil
}

// days runs query, whose rows are a day, a version and a count, or a day, NULL and the
// day's total, and returns every day of w with the counts it gives them.
func (s *Store) days(ctx context.Context, query string, w Window) ([]Day, error) {
	from, to, err := w.bounds()
	if err != nil {
		return nil, err
	}
	var days []Day
	index := make(map[string]int)
	for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
		day := d.Format(time.DateOnly)
		index[day] = len(days)
		days = append(days, Day{Day: day, Versions: map[string]int64{}})
	}
	rows, err := s.db.QueryContext(ctx, query, w.From, w.To)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			day     string
			version sql.NullString
			n       int64
		)
		if err := rows.Scan(&day, &version, &n); err != nil {
			return nil, err
		}
		i, ok := index[day]
		if !ok {
			return nil, fmt.Errorf("day %q outside the window %s to %s", day, w.From, w.To)
		}
		if version.Valid {
			days[i].Versions[version.String] = n
		} else {
			days[i].Instances = n
		}
	}
	return days, rows.Err()
}

// Upgrades counts, per change of version, the instances that changed within w: each instance's
// rows of w are ordered by day and first sighting, and two consecutive rows with different
// versions are a change, downgrades included. An instance that reported two versions in a day
// changed from the one it reported first. An instance counts once per change it made, however
// often it made it. Sorted by count, largest first, then by from and to.
func (s *Store) Upgrades(ctx context.Context, w Window) ([]Upgrade, error) {
	q, err := s.queries(w)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, q.upgrades, w.From, w.To)
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
