package sqlite

import (
	"context"
	"database/sql"
	"runtime"
	"strings"
)

// chunkRows is the most rows one INSERT carries: far below SQLite's limit of 32766 variables,
// long enough to save most of the cost of a statement, and short enough that the writer can let
// the DNS path run between statements (under dnsperf load, 128 answered more queries per second
// than 512).
const chunkRows = 128

// multiInsert is an INSERT of many rows in one statement: head, row repeated, then tail.
type multiInsert struct {
	head, row, tail string
	columns         int       // the variables in row
	full            *sql.Stmt // the statement for chunkRows rows
}

// prepare prepares the statement for chunkRows rows.
func (m *multiInsert) prepare(ctx context.Context, db *sql.DB) (err error) {
	m.full, err = db.PrepareContext(ctx, m.query(chunkRows))
	return err
}

func (m *multiInsert) query(rows int) string {
	var b strings.Builder
	b.Grow(len(m.head) + rows*(len(m.row)+1) + len(m.tail))
	b.WriteString(m.head)
	for i := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(m.row)
	}
	b.WriteString(m.tail)
	return b.String()
}

// exec inserts the rows whose values args holds, m.columns values a row: full chunks through
// the prepared statement, the rest through one statement of its size.
func (m *multiInsert) exec(ctx context.Context, tx *sql.Tx, args []any) error {
	size := chunkRows * m.columns
	if len(args) >= size {
		full := tx.StmtContext(ctx, m.full)
		for ; len(args) >= size; args = args[size:] {
			if _, err := full.ExecContext(ctx, args[:size]...); err != nil {
				return err
			}
			runtime.Gosched() // a long batch must not hold a processor the answers need
		}
	}
	if len(args) == 0 {
		return nil
	}
	_, err := tx.ExecContext(ctx, m.query(len(args)/m.columns), args...)
	return err
}
