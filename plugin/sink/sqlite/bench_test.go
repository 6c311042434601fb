package sqlite

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/mailustats/mailustats/internal/testutil/sqltest"
	"github.com/mailustats/mailustats/plugin/sink"
	"github.com/mailustats/mailustats/plugin/sink/table"
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
			newInstances := timeWrites(b, s, pool, size)
			if want := min(b.N*size, benchPool); newInstances != want {
				b.Errorf("expected %d new instances, got %d", want, newInstances)
			}
		})
	}
}

// timeWrites times b.N batches of size records from pool, going round it, and reports records
// per second; it returns the new instances the sink counted meanwhile.
func timeWrites(b *testing.B, s *store, pool []sink.Record, size int) (newInstances int) {
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
	return newInstances
}

// BenchmarkWriteKnown writes the pool once, untimed, then times batches of the same records
// again: the steady state of `make bench`, where every instance of a batch is known and
// announces itself again on the same day with the same version.
func BenchmarkWriteKnown(b *testing.B) {
	pool := benchRecords(benchPool)
	for _, size := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			s := open(b, filepath.Join(b.TempDir(), "stats.db"))
			for at := 0; at < benchPool; at += 1000 {
				if err := s.Write(b.Context(), sink.Batch{ID: "pool" + strconv.Itoa(at), Records: pool[at : at+1000]}); err != nil {
					b.Fatal(err)
				}
			}
			newInstances := timeWrites(b, s, pool, size)
			if newInstances != 0 {
				b.Errorf("expected no new instances, got %d", newInstances)
			}
		})
	}
}

// The population of the size and migration benchmarks: 33,334 instances announcing themselves
// every day for 30 days, a million instance-days, over 8 versions, as in the report's
// benchmark; an instance upgrades to the next version now and then, reporting both that day.
const (
	popInstances = 33_334
	popDays      = 30
	popBatch     = 1000 // records a batch
)

// population calls day with each day's records, in time order.
func population(day func(records []sink.Record)) {
	src := rand.NewChaCha8([32]byte{1})
	rng := rand.New(src)
	versions := []string{"1.9", "2.0", "2024.06", "2024.06.1", "2024.06.2", "2024.12", "2025.03", "master"}
	instances := make([]string, popInstances)
	current := make([]int, popInstances)
	for i := range instances {
		instances[i] = uuid.Must(uuid.NewRandomFromReader(src)).String()
		current[i] = rng.IntN(len(versions) - 1)
	}
	start := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	var records []sink.Record
	for d := range popDays {
		records = records[:0]
		midnight := start.AddDate(0, 0, d)
		for i, inst := range instances {
			at := midnight.Add(time.Duration(rng.Int64N(int64(12 * time.Hour)))).Truncate(time.Second)
			records = append(records, sink.Record{Time: at, Version: versions[current[i]], Instance: inst})
			if current[i] < len(versions)-1 && rng.IntN(40) == 0 {
				current[i]++
				records = append(records, sink.Record{Time: at.Add(6 * time.Hour), Version: versions[current[i]], Instance: inst})
			}
		}
		slices.SortFunc(records, func(a, b sink.Record) int { return a.Time.Compare(b.Time) })
		day(records)
	}
}

// BenchmarkStoreSize writes the population through the sink, VACUUMs, and reports the bytes
// of the database per instance-day, base rows and aggregates included, and each table's.
func BenchmarkStoreSize(b *testing.B) {
	for range b.N {
		s := open(b, filepath.Join(b.TempDir(), "stats.db"))
		batches := 0
		population(func(records []sink.Record) {
			for len(records) > 0 {
				n := min(len(records), popBatch)
				if err := s.Write(b.Context(), sink.Batch{ID: strconv.Itoa(batches), Records: records[:n]}); err != nil {
					b.Fatal(err)
				}
				batches++
				records = records[n:]
			}
		})
		b.StopTimer()
		reportSize(b, s.db)
		b.StartTimer()
	}
}

// reportSize VACUUMs db and reports its bytes per instance-day.
func reportSize(b *testing.B, db *sql.DB) {
	if _, err := db.Exec(`VACUUM`); err != nil {
		b.Fatal(err)
	}
	instanceDays := sqltest.Query(b, db, `SELECT count(*) FROM (SELECT DISTINCT instance, day FROM sightings)`)[0][0].(int64)
	size := sqltest.Query(b, db, `SELECT page_count * page_size FROM pragma_page_count, pragma_page_size`)[0][0].(int64)
	b.ReportMetric(float64(size)/float64(instanceDays), "bytes/instance-day")
	var tables []string
	for _, r := range sqltest.Query(b, db, `SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC`) {
		tables = append(tables, fmt.Sprintf("%s %.1f", r[0], float64(r[1].(int64))/float64(instanceDays)))
	}
	b.Logf("%d instance-days, %d bytes; bytes per instance-day by table: %s", instanceDays, size, strings.Join(tables, ", "))
}

// BenchmarkMigrate builds a database of version 1 holding the population, with the SQL of
// version 1, and times its migration to version 2.
func BenchmarkMigrate(b *testing.B) {
	for range b.N {
		b.StopTimer()
		path := filepath.Join(b.TempDir(), "stats.db")
		db, err := sql.Open("sqlite", dsn(path, dsnQuery))
		if err != nil {
			b.Fatal(err)
		}
		version1 := `CREATE TABLE mailustats_schema (version INTEGER NOT NULL);
			INSERT INTO mailustats_schema (version) VALUES (1);` + migrations[0].sql
		if _, err := db.Exec(version1); err != nil {
			b.Fatal(err)
		}
		population(func(records []sink.Record) {
			var agg table.Aggregator
			rows := agg.Aggregate(records)
			tx, err := db.Begin()
			if err != nil {
				b.Fatal(err)
			}
			defer tx.Rollback()
			for _, r := range rows {
				if _, err := tx.Exec(`INSERT INTO daily VALUES (?, ?, ?, ?, ?, ?)`, r.Day, r.Version, r.Instance, r.Hits, r.FirstSeen.Unix(), r.LastSeen.Unix()); err != nil {
					b.Fatal(err)
				}
			}
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
		})
		instanceDays := sqltest.Query(b, db, `SELECT count(*) FROM (SELECT DISTINCT instance, day FROM daily)`)[0][0].(int64)
		if err := db.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		s := open(b, path)
		b.ReportMetric(time.Since(start).Seconds()/(float64(instanceDays)/1e6), "s/M-instance-days")
		b.StopTimer()
		reportSize(b, s.db)
		b.StartTimer()
	}
}
