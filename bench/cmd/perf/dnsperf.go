//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// perfResult is what dnsperf reports about one run.
type perfResult struct {
	Sent       int64   `json:"sent"`
	Completed  int64   `json:"completed"`
	Lost       int64   `json:"lost"`
	QPS        float64 `json:"qps"`
	AvgLatency float64 `json:"avg_latency_s"` // dnsperf's average, seconds
	RunTime    float64 `json:"run_time_s"`

	// Latencies holds each answered query's latency in seconds, from -v lines.
	Latencies []float32 `json:"-"`
}

// perfArgs are the settings of one dnsperf run.
type perfArgs struct {
	Port        int
	File        string
	Limit       time.Duration // -l
	Runs        int           // -n, 0 for no limit
	Clients     int
	Outstanding int
	Threads     int
	Rate        int  // -Q, 0 for full rate
	Verbose     bool // -v: one line per answered query, parsed into Latencies
}

// args returns dnsperf's command-line arguments.
func (a perfArgs) args() []string {
	args := []string{"-s", "127.0.0.1", "-p", strconv.Itoa(a.Port), "-d", a.File,
		"-l", strconv.FormatFloat(a.Limit.Seconds(), 'f', -1, 64),
		"-c", strconv.Itoa(a.Clients), "-q", strconv.Itoa(a.Outstanding), "-T", strconv.Itoa(a.Threads)}
	if a.Runs > 0 {
		args = append(args, "-n", strconv.Itoa(a.Runs))
	}
	if a.Rate > 0 {
		args = append(args, "-Q", strconv.Itoa(a.Rate))
	}
	if a.Verbose {
		args = append(args, "-v")
	}
	return args
}

// dnsperfGrace is how long a run may take beyond its time limit: dnsperf waits for the last
// answers (5 s at most by default) before it prints its statistics.
const dnsperfGrace = 20 * time.Second

// runDnsperf runs dnsperf against the server with PID server, parsing its output as it
// arrives, and returns its result and the CPU used while it sent.
func runDnsperf(ctx context.Context, bin string, server int, a perfArgs) (perfResult, cpuUse, error) {
	ctx, cancel := context.WithTimeout(ctx, a.Limit+dnsperfGrace)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, a.args()...)
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, w, err := batchPipe()
	if err != nil {
		return perfResult{}, cpuUse{}, err
	}
	defer stdout.Close()
	cmd.Stdout = w
	err = cmd.Start()
	w.Close() // the child holds its own copy
	if err != nil {
		return perfResult{}, cpuUse{}, fmt.Errorf("start dnsperf: %w", err)
	}
	exited := make(chan struct{})
	meter := meterCPU(server, cmd.Process.Pid, a.Limit, exited)
	res, perr := parseOutput(stdout, a.Verbose)
	if perr != nil {
		io.Copy(io.Discard, stdout) // let dnsperf finish writing
	}
	close(exited) // its output ended: it is exiting, and its statistics are in
	cpu := meter.result(runtime.NumCPU(), time.Duration(res.RunTime*float64(time.Second)))
	werr := cmd.Wait()
	switch {
	case werr != nil:
		return res, cpu, fmt.Errorf("dnsperf %s: %w: %s", strings.Join(a.args(), " "), werr, tail(stderr.String()))
	case perr != nil:
		return res, cpu, fmt.Errorf("dnsperf output: %w", perr)
	case res.Sent == 0:
		return res, cpu, fmt.Errorf("dnsperf sent no queries: %s", tail(stderr.String()))
	}
	return res, cpu, nil
}

// parseOutput reads dnsperf's standard output line by line: its closing statistics and, when
// keep is set, the latency of each "> RCODE NAME TYPE SECONDS" line of -v; a lost query's line,
// "> T NAME TYPE", has none. It allocates nothing per -v line, so that it takes little CPU from
// the processes it measures.
func parseOutput(r io.Reader, keep bool) (perfResult, error) {
	var res perfResult
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 256*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		if bytes.HasPrefix(line, []byte("> ")) {
			if keep && !bytes.HasPrefix(line, []byte("> T ")) {
				lat, err := verboseLatency(line)
				if err != nil {
					return res, err
				}
				res.Latencies = append(res.Latencies, lat)
			}
			continue
		}
		if err := res.statistic(string(line)); err != nil {
			return res, err
		}
	}
	return res, sc.Err()
}

// verboseLatency returns the last field of a -v line, the query's latency in seconds.
func verboseLatency(line []byte) (float32, error) {
	field := line[bytes.LastIndexByte(line, ' ')+1:]
	if v, ok := parseDecimal(field); ok {
		return v, nil
	}
	v, err := strconv.ParseFloat(string(field), 32)
	if err != nil {
		return 0, fmt.Errorf("latency in %q: %w", line, err)
	}
	return float32(v), nil
}

// parseDecimal parses a plain decimal such as "0.000335", as dnsperf prints latencies, and
// reports false for any other form.
func parseDecimal(b []byte) (float32, bool) {
	var n, scale uint64 = 0, 1
	dot := false
	for i, c := range b {
		switch {
		case c >= '0' && c <= '9' && i < 18:
			n = n*10 + uint64(c-'0')
			if dot {
				scale *= 10
			}
		case c == '.' && !dot && i > 0:
			dot = true
		default:
			return 0, false
		}
	}
	if len(b) == 0 || b[len(b)-1] == '.' {
		return 0, false
	}
	return float32(float64(n) / float64(scale)), true
}

// statistic records line if it is one of the closing statistics, such as
// "  Queries sent:         162005" or "  Average Latency (s):  0.002169 (min 0.000018, ...)".
func (res *perfResult) statistic(line string) error {
	key, value, ok := strings.Cut(strings.TrimSpace(line), ":")
	if !ok {
		return nil
	}
	fields := strings.Fields(value)
	if len(fields) == 0 {
		return nil
	}
	var err error
	switch key {
	case "Queries sent":
		res.Sent, err = strconv.ParseInt(fields[0], 10, 64)
	case "Queries completed":
		res.Completed, err = strconv.ParseInt(fields[0], 10, 64)
	case "Queries lost":
		res.Lost, err = strconv.ParseInt(fields[0], 10, 64)
	case "Queries per second":
		res.QPS, err = strconv.ParseFloat(fields[0], 64)
	case "Average Latency (s)":
		res.AvgLatency, err = strconv.ParseFloat(fields[0], 64)
	case "Run time (s)":
		res.RunTime, err = strconv.ParseFloat(fields[0], 64)
	}
	if err != nil {
		return fmt.Errorf("%q: %w", line, err)
	}
	return nil
}

// tail returns the end of a process's output for an error message.
func tail(s string) string {
	const max = 2000
	s = strings.TrimSpace(s)
	if len(s) > max {
		s = "..." + s[len(s)-max:]
	}
	return s
}
