package sqlite

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/mailustats/mailustats/plugin/sink"
)

// benchPool is how many distinct records the benchmark batches are cut from, in turn; a
// multiple of each batch size, so every batch holds distinct instances.
const benchPool = 100_000

// benchRecords are records of random instances over four versions and three days.
func benchRecords(n int) []sink.Record {
	src := rand.NewChaCha8([32]byte{})
	rng := rand.New(src)
	versions := []string{"2024.06", "2024.06.1", "2024.12", "master"}
	start := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	records := make([]sink.Record, n)
	for i := range records {
		records[i] = sink.Record{
			Time:     start.Add(time.Duration(rng.Int64N(int64(72 * time.Hour)))).Truncate(time.Second),
			Version:  versions[rng.IntN(len(versions))],
			Instance: uuid.Must(uuid.NewRandomFromReader(src)).String(),
		}
	}
	return records
}

// BenchmarkWrite writes batches of distinct instances, counting the new ones as the plugin
// does; after the pool has gone round once, they update the rows they inserted before.
func BenchmarkWrite(b *testing.B) {
	pool := benchRecords(benchPool)
	for _, size := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			s := open(b, filepath.Join(b.TempDir(), "stats.db"))
			var newInstances int
			s.OnNewInstances(func(n int) { newInstances += n })
			ids := make([]string, b.N)
			for i := range ids {
				ids[i] = strconv.Itoa(i)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				at := i * size % benchPool
				if err := s.Write(b.Context(), sink.Batch{ID: ids[i], Records: pool[at : at+size]}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "records/s")
			if want := min(b.N*size, benchPool); newInstances != want {
				b.Errorf("expected %d new instances, got %d", want, newInstances)
			}
		})
	}
}
