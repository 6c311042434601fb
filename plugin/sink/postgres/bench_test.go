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

// migrationRows is the size of the daily table that BenchmarkMigrate migrates: instances seen
// on 20 days each, a week apart, upgrading every 5 days.
const migrationRows = 1_000_000

// BenchmarkMigrate migrates a database of version 1 holding migrationRows daily rows to the
// latest version, and reports the seconds a million rows (instance-days) take.
func BenchmarkMigrate(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		dsn := newVersion1(b, fmt.Sprintf(`INSERT INTO daily
SELECT date '2024-01-01' + (i %% 20) * 7 + (i / 20) %% 7, (ARRAY['2.0', '2024.06', '19', 'master'])[1 + (i %% 20) / 5],
	lpad(to_hex(i / 20), 8, '0') || '-1111-4222-8333-444455556666', 1 + i %% 3,
	timestamptz '2024-01-01T10:00:00Z' + ((i %% 20) * 7 + (i / 20) %% 7) * interval '1 day',
	timestamptz '2024-01-01T11:00:00Z' + ((i %% 20) * 7 + (i / 20) %% 7) * interval '1 day'
FROM generate_series(0, %d) AS i;
ANALYZE daily`, migrationRows-1))
		s := open(b, dsn)
		b.StartTimer()
		prepare(b, s)
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)/(migrationRows/1e6), "s/M-rows")
}
