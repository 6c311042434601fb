// Package report answers the maintainers' questions from the tables that the SQL sinks keep
// (the store's schema version 3): how many distinct instances run each version, per day, over a
// window and as a trend, how many are new and how many upgraded. It reads the aggregates the
// sinks keep beside the sightings wherever they answer the question, and the sightings where
// they do not. It returns counts only, never an instance.
package report

import (
	"database/sql"
	"time"
)

// Dialect is the SQL database a Store reads.
type Dialect int

// The databases the SQL sinks write.
const (
	SQLite Dialect = iota
	Postgres
)

// Store runs the statistics queries on a database with the store's schema version 3.
type Store struct {
	db      *sql.DB
	dialect Dialect
	// rowReads admits one read of the base rows at a time (a trend of a window that is not
	// kept, a summary of a past window): each takes up to seconds of a core, and the API is
	// public. The others wait for their turn, or their context's end.
	rowReads chan struct{}
}

// NewStore returns a Store reading db, which it owns and closes in Close.
func NewStore(db *sql.DB, dialect Dialect) *Store {
	return &Store{db: db, dialect: dialect, rowReads: make(chan struct{}, 1)}
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Window is a range of UTC days, both ends included, as YYYY-MM-DD.
type Window struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// LastDays is the window of n days that ends with now's UTC day.
func LastDays(now time.Time, n int) Window {
	to := now.UTC()
	return Window{From: to.AddDate(0, 0, 1-n).Format(time.DateOnly), To: to.Format(time.DateOnly)}
}

// VersionCount is how many instances run a version.
type VersionCount struct {
	Version   string `json:"version"`
	Instances int64  `json:"instances"`
}

// Summary is the distinct instances seen in a window, each counted once under the last version
// it reported there, so the versions add up to Instances. Versions are sorted by count, largest
// first, then by name.
type Summary struct {
	Window
	MinDays   int            `json:"min_days"` // the fewest distinct days an instance was seen on, ever; 1 counts all
	Instances int64          `json:"instances"`
	Versions  []VersionCount `json:"versions"`
}

// Day is a count of instances on one UTC day, in total and per version.
type Day struct {
	Day       string           `json:"day"`
	Instances int64            `json:"instances"`
	Versions  map[string]int64 `json:"versions"`
}

// Upgrade is how many instances went from one version to another within a window.
type Upgrade struct {
	From      string `json:"from"`
	To        string `json:"to"`
	Instances int64  `json:"instances"`
}
