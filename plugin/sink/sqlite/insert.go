package sqlite

import (
	"context"
	"database/sql"
	"runtime"
	"strings"
	"time"
)

// chunkRows is the most rows one INSERT carries: far below SQLite's limit of 32766 variables,
// long enough to save most of the cost of a statement, and short enough that the writer can let
// the DNS path run between statements (under dnsperf load, 128 answered more queries per second
// than 512).
const chunkRows = 128

// restRatio is how much longer than a statement took the writer waits after it when not in a
// hurry: it then takes at most a third of a processor, in slices of one statement, instead of
// a whole one for a burst that delays the answers queued behind it.
const restRatio = 2

// multiInsert is an INSERT of many rows in one statement: head, row repeated, then tail.
type multiInsert struct {
	head, row, tail string
	full            *sql.Stmt // the statement for chunkRows rows
	args            []any     // the variables of one statement, reused
}

// rowVars appends the variables of row i to args. exec calls it for each row in order.
type rowVars func(args []any, i int) []any

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

// exec inserts rows rows, whose variables vars gives, chunkRows at a time: full chunks through
// the prepared statement, the rest through one statement of its size. Between full chunks it
// rests, unless in a hurry, or at least yields the processor.
func (m *multiInsert) exec(ctx context.Context, tx *sql.Tx, rows int, vars rowVars, hurry func() bool) error {
	var full *sql.Stmt
	for from := 0; from < rows; from += chunkRows {
		to := min(from+chunkRows, rows)
		args := m.args[:0]
		for i := from; i < to; i++ {
			args = vars(args, i)
		}
		m.args = args
		start := time.Now()
		var err error
		if to-from < chunkRows {
			_, err = tx.ExecContext(ctx, m.query(to-from), args...)
		} else {
			if full == nil {
				full = tx.StmtContext(ctx, m.full)
			}
			_, err = full.ExecContext(ctx, args...)
		}
		clear(args) // let the strings go
		if err != nil {
			return err
		}
		switch {
		case to == rows: // the last statement: nothing left to make room for
		case hurry():
			runtime.Gosched()
		default:
			time.Sleep(restRatio * time.Since(start))
		}
	}
	return nil
}
