package table

import (
	"reflect"
	"testing"
	"time"

	"github.com/mailustats/mailustats/plugin/sink"
)

func TestAggregate(t *testing.T) {
	at := func(day, clock string) time.Time {
		ts, err := time.Parse(time.DateTime, day+" "+clock)
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}
	records := []sink.Record{
		{Time: at("2026-11-22", "10:00:00"), Version: "19", Instance: "b"},
		{Time: at("2026-11-21", "23:59:59"), Version: "19", Instance: "b"},
		{Time: at("2026-11-22", "00:00:00"), Version: "19", Instance: "b"},
		{Time: at("2026-11-22", "12:00:00").In(time.FixedZone("+02", 2*3600)), Version: "18", Instance: "a"},
		{Time: at("2026-11-22", "08:00:00"), Version: "19", Instance: "a"},
	}
	want := []Daily{
		{Day: "2026-11-21", Version: "19", Instance: "b", Hits: 1, FirstSeen: at("2026-11-21", "23:59:59"), LastSeen: at("2026-11-21", "23:59:59")},
		{Day: "2026-11-22", Version: "18", Instance: "a", Hits: 1, FirstSeen: at("2026-11-22", "12:00:00"), LastSeen: at("2026-11-22", "12:00:00")},
		{Day: "2026-11-22", Version: "19", Instance: "a", Hits: 1, FirstSeen: at("2026-11-22", "08:00:00"), LastSeen: at("2026-11-22", "08:00:00")},
		{Day: "2026-11-22", Version: "19", Instance: "b", Hits: 2, FirstSeen: at("2026-11-22", "00:00:00"), LastSeen: at("2026-11-22", "10:00:00")},
	}
	got := Aggregate(records)
	if len(got) != len(want) {
		t.Fatalf("expected %d rows, got %d: %+v", len(want), len(got), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Day != w.Day || g.Version != w.Version || g.Instance != w.Instance || g.Hits != w.Hits ||
			!g.FirstSeen.Equal(w.FirstSeen) || !g.LastSeen.Equal(w.LastSeen) {
			t.Errorf("row %d: expected %+v, got %+v", i, w, g)
		}
	}
}

func TestParseOptions(t *testing.T) {
	tests := []struct {
		args    []string
		want    Options
		wantErr bool
	}{
		{args: nil, want: Options{}},
		{args: []string{"events"}, want: Options{Events: true}},
		{args: []string{"events", "retention", "90d"}, want: Options{Events: true, Retention: 90 * 24 * time.Hour}},
		{args: []string{"retention", "720h", "events"}, want: Options{Events: true, Retention: 720 * time.Hour}},
		{args: []string{"retention", "90d"}, wantErr: true},
		{args: []string{"events", "retention"}, wantErr: true},
		{args: []string{"events", "retention", "0d"}, wantErr: true},
		{args: []string{"events", "retention", "-1h"}, wantErr: true},
		{args: []string{"events", "retention", "soon"}, wantErr: true},
		{args: []string{"archive"}, wantErr: true},
	}
	for _, tc := range tests {
		got, err := ParseOptions(tc.args)
		if tc.wantErr {
			if err == nil {
				t.Errorf("%q: expected an error, got %+v", tc.args, got)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: expected %+v, got %+v, %v", tc.args, tc.want, got, err)
		}
	}
}
