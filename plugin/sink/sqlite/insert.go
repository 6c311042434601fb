package sqlite

import (
	"context"
	"database/sql"
	"runtime"
	"strings"
	"time"
)

// chunkRows is the most rows one statement carries: far below SQLite's limit of 32766
// variables, long enough to save most of the cost of a statement, and short enough that the
// writer can let the DNS path run between statements (under dnsperf load, 128 answered more
// queries per second than 512).
const chunkRows = 128

// restRatio is how much longer than a statement took the writer waits after it when not in a
// hurry: it then takes at most a third of a processor, in slices of one statement, instead of
// a whole one for a burst that delays the answers queued behind it.
const restRatio = 2

// multiRow is a statement over many rows at once, such as an INSERT of many rows: head, row
// repeated, then tail.
type multiRow struct {
	head, row, tail string
	full            *sql.Stmt // the statement for chunkRows rows
	args            []any     // the variables of one statement, reused
}

// rowVars appends the variables of row i to args. The statements call it for each row in order.
type rowVars func(args []any, i int) []any

// chunk is one statement of a multiRow: through stmt, for a full chunk, or else query.
type chunk struct {
	tx    *sql.Tx
	stmt  *sql.Stmt
	query string
	args  []any
}

func (c chunk) exec(ctx context.Context) error {
	var err error
	if c.stmt != nil {
		_, err = c.stmt.ExecContext(ctx, c.args...)
	} else {
		_, err = c.tx.ExecContext(ctx, c.query, c.args...)
	}
	return err
}

func (c chunk) queryRow(ctx context.Context) *sql.Row {
	if c.stmt != nil {
		return c.stmt.QueryRowContext(ctx, c.args...)
	}
	return c.tx.QueryRowContext(ctx, c.query, c.args...)
}

// prepare prepares the statement for chunkRows rows.
func (m *multiRow) prepare(ctx context.Context, db *sql.DB) (err error) {
	m.full, err = db.PrepareContext(ctx, m.query(chunkRows))
	return err
}

func (m *multiRow) query(rows int) string {
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

// exec runs the statement, an INSERT, over rows rows, whose variables vars gives.
func (m *multiRow) exec(ctx context.Context, tx *sql.Tx, rows int, vars rowVars, hurry func() bool) error {
	return m.each(ctx, tx, rows, vars, hurry, func(c chunk) error { return c.exec(ctx) })
}

// sum runs the statement, a query answering one integer, over rows rows, whose variables vars
// gives, and returns the sum of its answers.
func (m *multiRow) sum(ctx context.Context, tx *sql.Tx, rows int, vars rowVars, hurry func() bool) (int64, error) {
	var total int64
	err := m.each(ctx, tx, rows, vars, hurry, func(c chunk) error {
		var n int64
		err := c.queryRow(ctx).Scan(&n)
		total += n
		return err
	})
	return total, err
}

// each runs the statement over rows rows chunkRows at a time: full chunks through the prepared
// statement, the rest through one statement of its size. Between chunks it rests, unless in a
// hurry, or at least yields the processor.
func (m *multiRow) each(ctx context.Context, tx *sql.Tx, rows int, vars rowVars, hurry func() bool, run func(chunk) error) error {
	var full *sql.Stmt
	for from := 0; from < rows; from += chunkRows {
		to := min(from+chunkRows, rows)
		args := m.args[:0]
		for i := from; i < to; i++ {
			args = vars(args, i)
		}
		m.args = args
		c := chunk{tx: tx, args: args}
		if to-from < chunkRows {
			c.query = m.query(to - from)
		} else {
			if full == nil {
				full = tx.StmtContext(ctx, m.full)
			}
			c.stmt = full
		}
		start := time.Now()
		err := run(c)
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
