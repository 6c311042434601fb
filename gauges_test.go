package mailustats

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/mailustats/mailustats/plugin/report"
	"github.com/mailustats/mailustats/plugin/sink"
	"github.com/mailustats/mailustats/plugin/sink/sqlite"
)

// gaugeDay is the day the gauge tests read the database on.
var gaugeDay = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// gaugeStore returns a Store on a new SQLite database holding records.
func gaugeStore(t *testing.T, records ...sink.Record) *report.Store {
	t.Helper()
	opener, err := sqlite.Parse([]string{filepath.Join(t.TempDir(), "stats.db")})
	if err != nil {
		t.Fatal(err)
	}
	s, err := opener.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Write(context.Background(), sink.Batch{ID: "1", Records: records}); err != nil {
		t.Fatal(err)
	}
	db, err := opener.(sqlReader).OpenReader()
	if err != nil {
		t.Fatal(err)
	}
	store := report.NewStore(db, report.SQLite)
	t.Cleanup(func() { store.Close() })
	return store
}

// activeNow returns the series of active_instances of zone as "version window" -> value.
func activeNow(t *testing.T, zone string) map[string]float64 {
	t.Helper()
	ch := make(chan prometheus.Metric, 100)
	go func() { activeInstances.Collect(ch); close(ch) }()
	got := map[string]float64{}
	for m := range ch {
		var pb dto.Metric
		if err := m.Write(&pb); err != nil {
			t.Fatal(err)
		}
		labels := map[string]string{}
		for _, l := range pb.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["zone"] == zone {
			got[labels["version"]+" "+labels["window"]] = pb.GetGauge().GetValue()
		}
	}
	return got
}

// gaugesAt returns gauges of zone on store whose clock reads now.
func gaugesAt(store *report.Store, zone string, now time.Time) *gauges {
	g := newGauges(store, zone)
	g.now = func() time.Time { return now }
	return g
}

// gaugeID is the UUID of the gauge tests' instance n.
func gaugeID(n int) string { return fmt.Sprintf("%08x-0000-4000-8000-000000000000", n) }

func checkActive(t *testing.T, zone string, want map[string]float64) {
	t.Helper()
	if got := activeNow(t, zone); !reflect.DeepEqual(got, want) {
		t.Errorf("active_instances{zone=%q}: expected %v, got %v", zone, want, got)
	}
}

func TestGaugesFollowTheDatabase(t *testing.T) {
	store := gaugeStore(t,
		sink.Record{Time: gaugeDay, Version: "19", Instance: gaugeID(1)},
		sink.Record{Time: gaugeDay, Version: "19", Instance: gaugeID(2)},
		sink.Record{Time: gaugeDay.AddDate(0, 0, -3), Version: "18", Instance: gaugeID(3)},
		sink.Record{Time: gaugeDay.AddDate(0, 0, -3), Version: "18", Instance: gaugeID(1)}, // a upgraded to 19 since
	)
	const zone = "follow.test."
	g := gaugesAt(store, zone, gaugeDay)
	g.refresh()
	checkActive(t, zone, map[string]float64{"19 1d": 2, "19 7d": 2, "18 7d": 1, "19 30d": 2, "18 30d": 1,
		"19 90d": 2, "18 90d": 1, "19 365d": 2, "18 365d": 1})

	g.now = func() time.Time { return gaugeDay.AddDate(0, 0, 5) } // 18 left the 7-day window
	g.refresh()
	checkActive(t, zone, map[string]float64{"19 7d": 2, "19 30d": 2, "18 30d": 1, "19 90d": 2, "18 90d": 1, "19 365d": 2, "18 365d": 1})
}

// TestGaugesAcrossReload follows CoreDNS's order on reload: the new instance starts and
// refreshes, then the old one stops. A series the old instance set that the new one does not
// is gone, and the old one's stop leaves the new one's series alone.
func TestGaugesAcrossReload(t *testing.T) {
	const zone = "reload.test."
	before := gaugeStore(t, sink.Record{Time: gaugeDay, Version: "18", Instance: gaugeID(1)})
	after := gaugeStore(t, sink.Record{Time: gaugeDay, Version: "19", Instance: gaugeID(2)})

	old := gaugesAt(before, zone, gaugeDay)
	old.start()
	checkActiveSoon(t, zone, "18 1d")

	reloaded := gaugesAt(after, zone, gaugeDay)
	reloaded.start()
	checkActiveSoon(t, zone, "19 1d")
	old.stop()
	checkActive(t, zone, map[string]float64{"19 1d": 1, "19 7d": 1, "19 30d": 1, "19 90d": 1, "19 365d": 1})

	reloaded.stop()
	checkActive(t, zone, map[string]float64{})
}

// checkActiveSoon waits, a bounded time, for the started gauges' first refresh to show series.
func checkActiveSoon(t *testing.T, zone, series string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for activeNow(t, zone)[series] == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("expected active_instances{zone=%q} to have %s, got %v", zone, series, activeNow(t, zone))
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not an assertion
	}
}

// TestGaugesOfTwoZones checks that two server blocks keep series of their own.
func TestGaugesOfTwoZones(t *testing.T) {
	one := gaugesAt(gaugeStore(t, sink.Record{Time: gaugeDay, Version: "18", Instance: gaugeID(1)}), "one.test.", gaugeDay)
	two := gaugesAt(gaugeStore(t, sink.Record{Time: gaugeDay, Version: "18", Instance: gaugeID(2)}, sink.Record{Time: gaugeDay, Version: "18", Instance: gaugeID(3)}), "two.test.", gaugeDay)
	one.refresh()
	two.refresh()
	checkActive(t, "one.test.", map[string]float64{"18 1d": 1, "18 7d": 1, "18 30d": 1, "18 90d": 1, "18 365d": 1})
	checkActive(t, "two.test.", map[string]float64{"18 1d": 2, "18 7d": 2, "18 30d": 2, "18 90d": 2, "18 365d": 2})
}

// TestGaugesBoundVersions floods a zone with invented versions: each window keeps the largest
// gaugeVersions versions and sums the rest under otherVersion, so no instance is lost.
func TestGaugesBoundVersions(t *testing.T) {
	var records []sink.Record
	for i := range 300 {
		records = append(records, sink.Record{Time: gaugeDay, Version: fmt.Sprintf("invented-%03d", i), Instance: gaugeID(1000 + i)})
	}
	for i := range 5 { // the real versions are the largest
		records = append(records, sink.Record{Time: gaugeDay, Version: "19", Instance: gaugeID(2000 + i)})
	}
	const zone = "flood.test."
	gaugesAt(gaugeStore(t, records...), zone, gaugeDay).refresh()
	got := activeNow(t, zone)
	for _, window := range []string{"1d", "7d", "30d", "90d", "365d"} {
		series, total := 0, 0.0
		for key, v := range got {
			if strings.HasSuffix(key, " "+window) {
				series++
				total += v
			}
		}
		if series != gaugeVersions+1 || total != 305 {
			t.Errorf("%s: expected %d series adding up to 305 instances, got %d adding up to %v", window, gaugeVersions+1, series, total)
		}
		if got["19 "+window] != 5 || got[otherVersion+" "+window] != 300-(gaugeVersions-1) {
			t.Errorf("%s: expected 19 with 5 and %s with %d, got %v and %v", window, otherVersion, 300-(gaugeVersions-1), got["19 "+window], got[otherVersion+" "+window])
		}
	}
}
