package postgres

import (
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/mailustats/mailustats/plugin/report"
)

// maxReportConns bounds the connections the statistics API and gauges open.
const maxReportConns = 4

// OpenReport returns a Store for the statistics API and gauges on a pool of its own, which
// connects lazily like the sink's.
func (o opener) OpenReport() (*report.Store, error) {
	db := stdlib.OpenDB(*o.config.ConnConfig.Copy())
	db.SetMaxOpenConns(maxReportConns)
	return report.NewStore(db, report.Postgres), nil
}
