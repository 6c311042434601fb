package table

import (
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"
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
	var a Aggregator
	checkRows(t, a.Aggregate(records), want)
}

// TestAggregateOrder checks the order of instances that share their first 8 bytes or are
// shorter than 8, and that a second batch through the same Aggregator starts afresh.
func TestAggregateOrder(t *testing.T) {
	at := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	var a Aggregator
	first := []sink.Record{{Time: at, Version: "19", Instance: "zzzz"}, {Time: at, Version: "19", Instance: "zz"}}
	checkRows(t, a.Aggregate(first), []Daily{
		{Day: "2026-11-22", Version: "19", Instance: "zz", Hits: 1, FirstSeen: at, LastSeen: at},
		{Day: "2026-11-22", Version: "19", Instance: "zzzz", Hits: 1, FirstSeen: at, LastSeen: at},
	})
	instances := []string{"abcdefgh-2", "abcdefgh-1", "abcdefgh", "abc", "abc\x00", "b", "abcdefgh-1"}
	var second []sink.Record
	for _, in := range instances {
		second = append(second, sink.Record{Time: at, Version: "master", Instance: in})
	}
	var want []Daily
	for _, in := range []string{"abc", "abc\x00", "abcdefgh", "abcdefgh-1", "abcdefgh-2", "b"} {
		hits := int64(1)
		if in == "abcdefgh-1" {
			hits = 2
		}
		want = append(want, Daily{Day: "2026-11-22", Version: "master", Instance: in, Hits: hits, FirstSeen: at, LastSeen: at})
	}
	checkRows(t, a.Aggregate(second), want)
}

func checkRows(t *testing.T, got, want []Daily) {
	t.Helper()
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

// BenchmarkAggregate merges hand-offs of the largest size, from distinct instances, through
// one Aggregator as a sink does.
func BenchmarkAggregate(b *testing.B) {
	versions := []string{"0", "15", "18", "19", "master"}
	at := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	records := make([]sink.Record, sink.MaxBatch)
	for i := range records {
		records[i] = sink.Record{Time: at.Add(time.Duration(i) * 30 * time.Microsecond), Version: versions[i%len(versions)], Instance: uuid.NewString()}
	}
	var a Aggregator
	b.ReportAllocs()
	for b.Loop() {
		a.Aggregate(records)
	}
	b.ReportMetric(float64(b.N*len(records))/b.Elapsed().Seconds(), "records/s")
}
