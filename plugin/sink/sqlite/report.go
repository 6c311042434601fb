package sqlite

import (
	"database/sql"
	"path/filepath"

	"github.com/mailustats/mailustats/plugin/report"
)

// readerQuery holds the settings of the statistics connections: they wait for the writer's
// lock like it does, and may only read.
const readerQuery = "_busy_timeout=" + busyTimeoutMillis + "&_pragma=query_only(1)"

// maxReportConns bounds the connections the statistics API and gauges open; in WAL mode they
// read while the sink writes.
const maxReportConns = 4

// OpenReport returns a Store for the statistics API and gauges on connections of its own.
func (o opener) OpenReport() (*report.Store, error) {
	db, err := sql.Open("sqlite", dsn(filepath.Clean(o.path), readerQuery))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(maxReportConns)
	return report.NewStore(db, report.SQLite), nil
}
