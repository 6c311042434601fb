//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"
)

// report is everything a benchmark measured; it is printed and written as JSON.
type report struct {
	Mode     string        `json:"mode"` // "throughput" or "memory"
	Started  time.Time     `json:"started"`
	Finished time.Time     `json:"finished"`
	Machine  machine       `json:"machine"`
	Options  options       `json:"parameters"`
	Queries  querySet      `json:"queries"`
	Summary  []summaryRow  `json:"summary,omitempty"`
	Memory   *memoryResult `json:"memory,omitempty"`
	LoadAvg  [2]string     `json:"loadavg"` // /proc/loadavg at the start and the end
	Runs     []runResult   `json:"runs"`
	OK       bool          `json:"ok"` // every sink stored every recorded query
}

// summaryRow sums up one configuration over its runs.
type summaryRow struct {
	Config     string  `json:"config"`
	QPSMean    float64 `json:"qps_mean"` // over the throughput rounds
	QPSMin     float64 `json:"qps_min"`
	AvgLatency float64 `json:"avg_latency_s"` // dnsperf's, mean over the throughput rounds

	LatencyRate int     `json:"latency_rate"` // dnsperf -Q of the latency phase
	LatencyAvg  float64 `json:"latency_avg_s"`
	LatencyP99  float64 `json:"latency_p99_s"`

	Lost     int64   `json:"lost"`      // over every run
	QPSRatio float64 `json:"qps_ratio"` // QPSMean over the baseline's
	P99Ratio float64 `json:"p99_ratio"` // LatencyP99 over the baseline's

	CPU        cpuUse `json:"cpu_throughput"` // mean over the throughput rounds
	CPULatency cpuUse `json:"cpu_latency"`

	BusyRuns int `json:"busy_runs"` // runs kept although other processes took the CPUs
}

// summarize makes one row per configuration, in the order of configs; the first is the
// baseline the ratios refer to.
func summarize(runs []runResult) []summaryRow {
	rows := make([]summaryRow, 0, len(configs))
	for _, c := range configs {
		row := summaryRow{Config: c.Name}
		var qps, lat []float64
		var cpus []cpuUse
		for _, r := range runs {
			if r.Config != c.Name {
				continue
			}
			row.Lost += r.Dnsperf.Lost
			if r.CPU.Foreign > foreignMax {
				row.BusyRuns++
			}
			switch r.Phase {
			case phaseThroughput:
				qps = append(qps, r.Dnsperf.QPS)
				lat = append(lat, r.Dnsperf.AvgLatency)
				cpus = append(cpus, r.CPU)
			case phaseLatency:
				row.LatencyRate, row.LatencyAvg, row.LatencyP99 = r.Rate, r.AvgLatency, r.P99Latency
				row.CPULatency = r.CPU
			}
		}
		row.QPSMean, row.AvgLatency = mean(qps), mean(lat)
		if len(qps) > 0 {
			row.QPSMin = qps[0]
			for _, q := range qps {
				row.QPSMin = min(row.QPSMin, q)
			}
		}
		row.CPU = meanCPU(cpus)
		rows = append(rows, row)
	}
	for i := range rows {
		rows[i].QPSRatio = ratio(rows[i].QPSMean, rows[0].QPSMean)
		rows[i].P99Ratio = ratio(rows[i].LatencyP99, rows[0].LatencyP99)
	}
	return rows
}

// printSummary prints the table of configurations, the record checks and the CPU split.
func printSummary(w io.Writer, rep report) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	rate := 0
	if len(rep.Summary) > 0 {
		rate = rep.Summary[0].LatencyRate
	}
	fmt.Fprintf(w, "%d round(s) of %s at full rate; latency at 50%% of the baseline's best rate (-Q %d); lost: all runs\n",
		rep.Options.Rounds, rep.Options.Duration, rate)
	fmt.Fprintln(tw, "configuration\tqueries/s mean\tmin\tavg latency full\tavg @50%\tp99 @50%\tlost\tqps/baseline\tp99/baseline\t")
	for _, r := range rep.Summary {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%.2f\t%.2f\t\n", r.Config, thousands(r.QPSMean), thousands(r.QPSMin),
			ms(r.AvgLatency), ms(r.LatencyAvg), ms(r.LatencyP99), r.Lost, r.QPSRatio, r.P99Ratio)
	}
	tw.Flush()
	for _, r := range rep.Summary {
		if r.BusyRuns > 0 {
			fmt.Fprintf(w, "note: %d run(s) of %s shared the CPUs with other processes (more than %.2f cores) after %d retries\n",
				r.BusyRuns, r.Config, foreignMax, rep.Options.Retries)
		}
	}

	fmt.Fprintln(w, "\nrecords: stored by the sink vs answered as recorded")
	fmt.Fprintln(tw, "configuration\tphase\tround\trecorded\tstored\tdropped\tsink dropped\tcheck\t")
	for _, run := range rep.Runs {
		for _, r := range append(run.Discarded, run) {
			phase := r.Phase
			if r.CPU.Foreign > foreignMax {
				phase += " (busy machine)"
			}
			if rc := r.Records; rc != nil {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\t\n", r.Config, phase, roundName(r.Round),
					rc.Recorded, rc.Stored, rc.Dropped, rc.SinkDropped, checkName(rc))
			}
		}
	}
	tw.Flush()

	fmt.Fprintln(w, "\nCPU during the dnsperf runs, in cores busy (the machine has", rep.Machine.NProc, "cores)")
	fmt.Fprintln(tw, "configuration\tload\tcoredns\tdnsperf\tthis driver\tother processes\tkernel\tmachine busy\t")
	for _, r := range rep.Summary {
		for _, l := range []struct {
			name string
			u    cpuUse
		}{{"full rate", r.CPU}, {"50%", r.CPULatency}} {
			fmt.Fprintf(tw, "%s\t%s\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t\n", r.Config, l.name,
				l.u.CoreDNS, l.u.Dnsperf, l.u.Driver, l.u.Foreign, l.u.Kernel, l.u.Busy)
		}
	}
	tw.Flush()
}

// write saves the report as bench/results/<UTC timestamp>.json, or with a suffix for the memory
// mode, and returns the path.
func (rep report) write(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	name := rep.Started.Format("20060102T150405Z")
	if rep.Mode != "throughput" {
		name += "-" + rep.Mode
	}
	path := filepath.Join(dir, name+".json")
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return "", err
	}
	return path, os.WriteFile(path, append(b, '\n'), 0o644)
}

// meanCPU averages each field of us.
func meanCPU(us []cpuUse) cpuUse {
	var m cpuUse
	for _, u := range us {
		m.WallSeconds += u.WallSeconds
		m.CoreDNS += u.CoreDNS
		m.Dnsperf += u.Dnsperf
		m.Driver += u.Driver
		m.Foreign += u.Foreign
		m.Kernel += u.Kernel
		m.Busy += u.Busy
	}
	if n := float64(len(us)); n > 0 {
		m = cpuUse{WallSeconds: m.WallSeconds / n, CoreDNS: m.CoreDNS / n, Dnsperf: m.Dnsperf / n, Driver: m.Driver / n,
			Foreign: m.Foreign / n, Kernel: m.Kernel / n, Busy: m.Busy / n}
	}
	return m
}

func ratio(x, base float64) float64 {
	if base == 0 {
		return 0
	}
	return x / base
}

// ms formats seconds as milliseconds.
func ms(seconds float64) string { return fmt.Sprintf("%.3f ms", seconds*1000) }

// thousands formats x rounded, with commas between groups of three digits.
func thousands(x float64) string {
	s := strconv.FormatInt(int64(x+0.5), 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func roundName(round int) string {
	if round == 0 {
		return "-"
	}
	return strconv.Itoa(round)
}

func checkName(rc *recordCheck) string {
	if rc.OK {
		return "ok"
	}
	return "FAILED"
}
