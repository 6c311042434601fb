package sink

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
)

// BenchmarkFileWrite appends batches of csv lines, as the writer does.
func BenchmarkFileWrite(b *testing.B) {
	records := make([]Record, 1000)
	for i := range records {
		records[i] = Record{Time: time.Unix(1795317425, 0), Version: "19", Instance: uuid.NewString()}
	}
	for _, size := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			s := openFile(b, filepath.Join(b.TempDir(), "a.csv"))
			defer s.Close()
			b.ReportAllocs()
			for b.Loop() {
				if err := s.Write(b.Context(), Batch{Records: records[:size]}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkRecorderAdd is the DNS path's cost of queueing a record, from parallel goroutines,
// with a file sink draining the queue.
func BenchmarkRecorderAdd(b *testing.B) {
	m := newMetrics()
	s := openFile(b, filepath.Join(b.TempDir(), "a.csv"))
	r := NewRecorder(Options{Buffer: 65536, Flush: 100 * time.Millisecond, Metrics: m, Log: &testLogger{}}, []Labeled{{Label: "file", Sink: s}})
	defer r.Close()
	rec := Record{Time: time.Unix(1795317425, 0), Version: "19", Instance: uuid.NewString()}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r.Add(rec)
		}
	})
}
