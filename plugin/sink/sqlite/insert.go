package sqlite

import (
	"context"
	"database/sql"
	"math/bits"
	"runtime"
	"strings"
	"time"
)

// chunkRows is the most rows one statement carries: far below SQLite's limit of 32766
// variables, long enough to save most of the cost of a statement, and short enough that the
// writer can let the DNS path run between statements (under dnsperf load, 128 answered more
// queries per second than 512).
const (
	chunkShift = 7
	chunkRows  = 1 << chunkShift
)

// statementSizes is how many statements a multiRow prepares: for 1, 2, 4, ... chunkRows rows.
const statementSizes = chunkShift + 1

// restRatio is how much longer than a statement took the writer waits after it when not in a
// hurry: it then takes at most a third of a processor, in slices of one statement, instead of
// a whole one for a burst that delays the answers queued behind it.
const restRatio = 2

// multiRow is a statement over many rows at once, such as an INSERT of many rows: head, row
// repeated, then tail. It runs rows in chunks of chunkRows, and what is left in chunks of
// decreasing powers of two, so that every chunk runs a prepared statement: preparing one of
// another size takes longer than running it.
type multiRow struct {
	head, row, tail string
	stmts           [statementSizes]*sql.Stmt // by size: 1 << i rows
	inTx            bool                      // stmts belong to one transaction
	args            []any                     // the variables of one statement, reused
}

// rowVars appends the variables of row i to args. The statements call it for each row in order.
type rowVars func(args []any, i int) []any

// preparer is a *sql.DB, whose statements serve every transaction, or a *sql.Tx.
type preparer interface {
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// prepare prepares the statements of every size on p.
func (m *multiRow) prepare(ctx context.Context, p preparer) error {
	_, m.inTx = p.(*sql.Tx)
	for i := range m.stmts {
		st, err := p.PrepareContext(ctx, m.query(1<<i))
		if err != nil {
			return err
		}
		m.stmts[i] = st
	}
	return nil
}

// close finalises the statements prepared.
func (m *multiRow) close() error {
	var err error
	for i, st := range m.stmts {
		if st != nil {
			err = st.Close()
			m.stmts[i] = nil
		}
	}
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

// exec runs the statement, an INSERT or DELETE, over rows rows, whose variables vars gives.
func (m *multiRow) exec(ctx context.Context, tx *sql.Tx, rows int, vars rowVars, hurry func() bool) error {
	return m.each(ctx, tx, rows, vars, hurry, func(st *sql.Stmt, args []any) error {
		_, err := st.ExecContext(ctx, args...)
		return err
	})
}

// scan runs the statement, a query, over rows rows, whose variables vars gives, and calls row
// for each row it answers.
func (m *multiRow) scan(ctx context.Context, tx *sql.Tx, rows int, vars rowVars, hurry func() bool, row func(*sql.Rows) error) error {
	return m.each(ctx, tx, rows, vars, hurry, func(st *sql.Stmt, args []any) error {
		r, err := st.QueryContext(ctx, args...)
		if err != nil {
			return err
		}
		defer r.Close()
		for r.Next() {
			if err := row(r); err != nil {
				return err
			}
		}
		return r.Err()
	})
}

// each runs the statement over rows rows, chunkRows at a time and the rest in smaller chunks.
// Between chunks it rests, unless in a hurry, or at least yields the processor.
func (m *multiRow) each(ctx context.Context, tx *sql.Tx, rows int, vars rowVars, hurry func() bool, run func(*sql.Stmt, []any) error) error {
	var inTx [statementSizes]*sql.Stmt
	for from := 0; from < rows; {
		size := bits.Len(uint(min(rows-from, chunkRows))) - 1 // the chunk has 1 << size rows
		to := from + 1<<size
		args := m.args[:0]
		for i := from; i < to; i++ {
			args = vars(args, i)
		}
		m.args = args
		st := m.stmts[size]
		if !m.inTx {
			if inTx[size] == nil {
				inTx[size] = tx.StmtContext(ctx, st)
			}
			st = inTx[size]
		}
		start := time.Now()
		err := run(st, args)
		clear(args) // let the strings go
		if err != nil {
			return err
		}
		from = to
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
