package sqltest

import (
	"database/sql"
	"path/filepath"
	"reflect"
	"testing"

	_ "modernc.org/sqlite"
)

func TestExecQuery(t *testing.T) {
	dsn := "file:" + filepath.Join(t.TempDir(), "test.db")
	Exec(t, "sqlite", dsn, `CREATE TABLE t (n INTEGER, s TEXT)`, `INSERT INTO t VALUES (1, 'a'), (2, NULL)`)
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	want := [][]any{{int64(2), nil}}
	if got := Query(t, db, `SELECT n, s FROM t WHERE n > ? ORDER BY n`, 1); !reflect.DeepEqual(got, want) {
		t.Errorf("expected %v, got %v", want, got)
	}
	if got := Query(t, db, `SELECT n FROM t WHERE n > 5`); got != nil {
		t.Errorf("expected no rows, got %v", got)
	}
}
