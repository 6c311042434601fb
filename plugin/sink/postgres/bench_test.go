package postgres

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mailustats/mailustats/plugin/sink"
)

// benchInstances is how many instances the benchmark's records come from, so that a long run
// updates daily rows as well as inserting them.
const benchInstances = 10000

// BenchmarkWrite writes batches of records, counting the new instances as the plugin does.
func BenchmarkWrite(b *testing.B) {
	srv := server.Get(b)
	for _, size := range []int{1, 100, 1000} {
		b.Run(strconv.Itoa(size), func(b *testing.B) {
			s := open(b, newDatabase(b, srv))
			prepare(b, s)
			s.OnNewInstances(func(int) {}) // as the plugin does
			instances := make([]string, benchInstances)
			for i := range instances {
				instances[i] = fmt.Sprintf("%08d-1111-4222-8333-444455556666", i)
			}
			records := make([]sink.Record, size)
			day := time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC)
			n := 0
			for b.Loop() {
				for i := range records {
					records[i] = sink.Record{
						Time:     day.Add(time.Duration(n) * time.Second),
						Version:  "2024.06",
						Instance: instances[n%benchInstances],
					}
					n++
				}
				if err := s.Write(b.Context(), sink.Batch{ID: uuid.NewString(), Records: records}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
