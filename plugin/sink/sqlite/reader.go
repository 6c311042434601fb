package sqlite

import (
	"database/sql"
	"path/filepath"
)

// readerQuery holds the settings of the reading connections: they wait for the writer's lock
// like it does, and may only read.
var readerQuery = busyTimeoutParam + "&_pragma=query_only(1)"

// OpenReader returns read-only connections of their own to the sink's database, for the
// statistics; in WAL mode they read while the sink writes.
func (o opener) OpenReader() (*sql.DB, error) {
	return sql.Open("sqlite", dsn(filepath.Clean(o.path), readerQuery))
}
