package report

import (
	"database/sql"
	"reflect"
	"testing"

	"github.com/mailustats/mailustats/plugin/history"
	_ "modernc.org/sqlite"
)

// TestReadDays checks readDays on rows in the orders PostgreSQL may return them from the
// table's storage, which SQLite, reading in key order, never does: a day's versions in two
// runs, totals between them, and a day without rows.
func TestReadDays(t *testing.T) {
	names := map[int64]string{1: "1.0", 2: "2.0", 3: "3.0"}
	tests := []struct {
		rows string
		want []Day
		err  bool
	}{
		{
			rows: `(10, 1, 5), (11, 2, 7), (10, NULL, 9), (10, 2, 3), (10, 3, 1), (11, NULL, 7)`,
			want: []Day{
				{Day: history.DayString(10), Instances: 9, Versions: map[string]int64{"1.0": 5, "2.0": 3, "3.0": 1}},
				{Day: history.DayString(11), Instances: 7, Versions: map[string]int64{"2.0": 7}},
				{Day: history.DayString(12), Versions: map[string]int64{}},
			},
		},
		{rows: `(12, NULL, 4)`, want: []Day{
			{Day: history.DayString(10), Versions: map[string]int64{}},
			{Day: history.DayString(11), Versions: map[string]int64{}},
			{Day: history.DayString(12), Instances: 4, Versions: map[string]int64{}},
		}},
		{rows: `(13, 1, 1)`, err: true},
		{rows: `(NULL, 1, 1)`, err: true},
		{rows: `(10, 1, NULL)`, err: true},
		{rows: `(10, 'x', 1)`, err: true},
	}
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i, tc := range tests {
		rows, err := db.QueryContext(t.Context(), "SELECT * FROM (VALUES "+tc.rows+")")
		if err != nil {
			t.Fatal(err)
		}
		days, err := readDays(rows, names, 10, 12)
		rows.Close()
		switch {
		case tc.err && err == nil:
			t.Errorf("test %d: expected an error, got %v", i, days)
		case !tc.err && err != nil:
			t.Errorf("test %d: expected no error, got %v", i, err)
		case !tc.err && !reflect.DeepEqual(days, tc.want):
			t.Errorf("test %d: expected %v, got %v", i, tc.want, days)
		}
	}
}
