package postgres

import (
	"strings"
	"testing"
	"time"

	"github.com/mailustats/mailustats/plugin/sink/table"
)

func TestParse(t *testing.T) {
	const day = 24 * time.Hour
	tests := []struct {
		args      []string
		shouldErr bool
		label     string
		opts      table.Options
		app       string
	}{
		{[]string{"postgres://mailustats:s3cret@db.example.org:6432/stats?sslmode=require"}, false, "postgres:db.example.org:6432/stats", table.Options{}, "mailustats"},
		{[]string{"postgresql://db/stats", "events"}, false, "postgres:db:5432/stats", table.Options{Events: true}, "mailustats"},
		{[]string{"host=/run/postgresql dbname=stats user=mailustats password=s3cret", "events", "retention", "90d"}, false, "postgres:/run/postgresql:5432/stats", table.Options{Events: true, Retention: 90 * day}, "mailustats"},
		{[]string{"postgres://[::1]:5433/stats?application_name=replica1", "events", "retention", "720h"}, false, "postgres:[::1]:5433/stats", table.Options{Events: true, Retention: 30 * day}, "replica1"},
		{nil, true, "", table.Options{}, ""},
		{[]string{}, true, "", table.Options{}, ""},
		{[]string{""}, true, "", table.Options{}, ""},
		{[]string{"", "events"}, true, "", table.Options{}, ""},
		{[]string{"postgres://mailustats:s3cret@db:port/stats"}, true, "", table.Options{}, ""},
		{[]string{"postgres://mailustats:s3cret@db/stats?sslmode=s3cret"}, true, "", table.Options{}, ""},
		{[]string{"host=db port=x password=s3cret"}, true, "", table.Options{}, ""},
		{[]string{"s3cret"}, true, "", table.Options{}, ""},
		{[]string{"postgres://db/stats", "retention", "90d"}, true, "", table.Options{}, ""},
		{[]string{"postgres://db/stats", "events", "retention"}, true, "", table.Options{}, ""},
		{[]string{"postgres://db/stats", "events", "retention", "0d"}, true, "", table.Options{}, ""},
		{[]string{"postgres://db/stats", "sslmode=disable"}, true, "", table.Options{}, ""},
	}
	for i, tc := range tests {
		o, err := Parse(tc.args)
		if tc.shouldErr {
			if err == nil {
				t.Errorf("test %d: Parse(%q): expected error, got %#v", i, tc.args, o)
			} else if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("test %d: expected an error without the password, got %q", i, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("test %d: Parse(%q): expected no error, got %v", i, tc.args, err)
			continue
		}
		if got := o.Label(); got != tc.label {
			t.Errorf("test %d: expected label %q, got %q", i, tc.label, got)
		}
		po := o.(opener)
		if po.opts != tc.opts {
			t.Errorf("test %d: expected options %+v, got %+v", i, tc.opts, po.opts)
		}
		if got := po.config.ConnConfig.RuntimeParams["application_name"]; got != tc.app {
			t.Errorf("test %d: expected application_name %q, got %q", i, tc.app, got)
		}
	}
}
