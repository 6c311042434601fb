package mailustats

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mailustats/mailustats/plugin/sink"
	"github.com/mailustats/mailustats/plugin/sink/sqlite"
)

func TestGaugesFollowTheDatabase(t *testing.T) {
	opener, err := sqlite.Parse([]string{filepath.Join(t.TempDir(), "stats.db")})
	if err != nil {
		t.Fatal(err)
	}
	s, err := opener.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	day := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	batch := sink.Batch{ID: "1", Records: []sink.Record{
		{Time: day, Version: "gauge-19", Instance: "a"},
		{Time: day, Version: "gauge-19", Instance: "b"},
		{Time: day.AddDate(0, 0, -3), Version: "gauge-18", Instance: "c"},
		{Time: day.AddDate(0, 0, -3), Version: "gauge-18", Instance: "a"}, // a upgraded to 19 since
	}}
	if err := s.Write(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	store, err := opener.(reportOpener).OpenReport()
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()

	g := newGauges(store)
	g.now = func() time.Time { return day }
	g.refresh()
	for _, tc := range []struct {
		version, window string
		want            float64
	}{{"gauge-19", "1d", 2}, {"gauge-19", "7d", 2}, {"gauge-18", "7d", 1}, {"gauge-19", "30d", 2}, {"gauge-18", "30d", 1}} {
		if got := testutil.ToFloat64(activeInstances.WithLabelValues(tc.version, tc.window)); got != tc.want {
			t.Errorf("active_instances{%s,%s}: expected %v, got %v", tc.version, tc.window, tc.want, got)
		}
	}
	if activeInstances.DeleteLabelValues("gauge-18", "1d") {
		t.Error("expected no 1d series for a version not seen today")
	}

	g.now = func() time.Time { return day.AddDate(0, 0, 5) } // gauge-18 left the 7-day window
	g.refresh()
	if activeInstances.DeleteLabelValues("gauge-18", "7d") || activeInstances.DeleteLabelValues("gauge-19", "1d") {
		t.Error("expected the series of versions that left a window removed")
	}
	if got := testutil.ToFloat64(activeInstances.WithLabelValues("gauge-18", "30d")); got != 1 {
		t.Errorf("active_instances{gauge-18,30d}: expected 1, got %v", got)
	}
}
