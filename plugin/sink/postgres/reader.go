package postgres

import (
	"database/sql"

	"github.com/jackc/pgx/v5/stdlib"
)

// OpenReader returns a pool of its own on the sink's database, for the statistics: it connects
// lazily like the sink's, and every transaction on it is read-only.
func (o opener) OpenReader() (*sql.DB, error) {
	config := o.config.ConnConfig.Copy()
	config.RuntimeParams["default_transaction_read_only"] = "on"
	return stdlib.OpenDB(*config), nil
}
