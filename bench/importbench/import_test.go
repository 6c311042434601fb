// Package importbench measures `mailustats import` on a log of the old Go server's size: the
// built tool imports a generated log as an operator would, in a process of its own, so that
// its time and peak memory are its alone.
package importbench

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/mailustats/mailustats/internal/testutil/oldlogs"
	"github.com/mailustats/mailustats/internal/testutil/pgtest"
	"github.com/mailustats/mailustats/internal/testutil/population"
)

// The log of the target: 10 million lines of about 40,000 instances over 3 years.
const (
	logLines     = 10_000_000
	logInstances = 40_000
	logYears     = 3
)

// BenchmarkImport imports the log into a new SQLite file and a new PostgreSQL database, and
// reports the lines per second and the tool's peak RSS. The log is written once and kept in
// os.TempDir().
func BenchmarkImport(b *testing.B) {
	log := generatedLog(b)
	tool := filepath.Join(b.TempDir(), "mailustats")
	if out, err := exec.Command("go", "build", "-o", tool, "../../cmd/mailustats").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	b.Run("sqlite", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			importLog(b, tool, log, "-sqlite", filepath.Join(b.TempDir(), fmt.Sprintf("stats%d.db", i)))
		}
	})
	b.Run("postgres", func(b *testing.B) {
		server := pgtest.Start(b)
		for i := 0; b.Loop(); i++ {
			importLog(b, tool, log, "-postgres", server.CreateDatabase(b, fmt.Sprintf("import%d", i)))
		}
	})
}

// generatedLog returns the path of the benchmark's log, writing it unless a run left it.
func generatedLog(b *testing.B) string {
	path := filepath.Join(os.TempDir(), fmt.Sprintf("mailustats-import-bench-%d-%d-%dy.log", logLines, logInstances, logYears))
	if _, err := os.Stat(path); err == nil {
		return path
	}
	f, err := os.Create(path + ".writing")
	if err != nil {
		b.Fatal(err)
	}
	counts, err := oldlogs.Write(f, population.Benchmark(logInstances, logYears), logLines)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("wrote %s: %d lines, %d valid", path, counts.Lines, counts.Valid)
	if err := os.Rename(path+".writing", path); err != nil {
		b.Fatal(err)
	}
	return path
}

// importLog runs the tool on the log into the database of flag and value, and reports its
// figures.
func importLog(b *testing.B, tool, log, flag, value string) {
	start := time.Now()
	cmd := exec.Command(tool, "import", "-json", flag, value, log)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("import: %v", err)
	}
	elapsed := time.Since(start)
	var raw struct {
		Lines        int64 `json:"lines"`
		Imported     int64 `json:"imported"`
		InstanceDays int64 `json:"instance_days"`
		Instances    int64 `json:"instances"`
	}
	if err := json.Unmarshal(out, &raw); err != nil {
		b.Fatalf("the summary %q: %v", out, err)
	}
	rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss // KiB on Linux
	b.ReportMetric(float64(raw.Lines)/elapsed.Seconds(), "lines/s")
	b.ReportMetric(float64(rss)/1024, "peak-RSS-MiB")
	b.Logf("%d lines, %d records, %d instance-days, %d instances in %v, peak RSS %.1f MiB",
		raw.Lines, raw.Imported, raw.InstanceDays, raw.Instances, elapsed.Round(time.Millisecond), float64(rss)/1024)
}
