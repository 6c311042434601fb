//go:build linux

package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// options are the benchmark's parameters; they are written to the results as they were used.
type options struct {
	Duration    time.Duration `json:"duration"`    // each dnsperf run
	Rounds      int           `json:"rounds"`      // of the three configurations, round-robin
	Instances   int           `json:"instances"`   // distinct instances in the query file
	Clients     int           `json:"clients"`     // dnsperf -c
	Outstanding int           `json:"outstanding"` // dnsperf -q
	Threads     int           `json:"threads"`     // dnsperf -T
	Seed        uint64        `json:"seed"`        // of the query generator
	Memory      int           `json:"memory"`      // > 0: the memory mode, over this many instances
	Rate        int           `json:"rate"`        // dnsperf -Q in the memory mode; 0 is full rate
	CoreDNS     string        `json:"coredns"`     // the binary under test
	Dnsperf     string        `json:"dnsperf"`
	QuietWait   time.Duration `json:"quiet_wait"` // the longest wait for an idle machine before a run
	Retries     int           `json:"retries"`    // of a run during which other processes took the CPUs
	Results     string        `json:"-"`          // directory of the JSON results
}

// parseOptions reads the flags; DURATION, ROUNDS and INSTANCES in the environment set their
// defaults.
func parseOptions(args []string) (options, error) {
	o := options{Duration: 10 * time.Second, Rounds: 2, Instances: 100000}
	if err := fromEnv(&o); err != nil {
		return o, err
	}
	fs := flag.NewFlagSet("perf", flag.ContinueOnError)
	fs.DurationVar(&o.Duration, "duration", o.Duration, "length of each dnsperf run (env DURATION)")
	fs.IntVar(&o.Rounds, "rounds", o.Rounds, "rounds of the three configurations (env ROUNDS)")
	fs.IntVar(&o.Instances, "instances", o.Instances, "distinct instances in the query file (env INSTANCES)")
	fs.IntVar(&o.Clients, "clients", 4, "dnsperf -c: clients")
	fs.IntVar(&o.Outstanding, "outstanding", 200, "dnsperf -q: queries outstanding")
	fs.IntVar(&o.Threads, "threads", 1, "dnsperf -T: threads")
	fs.Uint64Var(&o.Seed, "seed", 1, "seed of the query generator")
	fs.IntVar(&o.Memory, "memory", 0, "measure memory over `N` distinct instances instead of throughput")
	fs.IntVar(&o.Rate, "rate", 0, "dnsperf -Q in the memory mode; 0 sends at full rate")
	fs.StringVar(&o.CoreDNS, "coredns", "bin/coredns", "the CoreDNS binary under test")
	fs.StringVar(&o.Dnsperf, "dnsperf", "dnsperf", "the dnsperf binary")
	fs.DurationVar(&o.QuietWait, "quiet-wait", 2*time.Minute, "before each run, wait this long at most for other processes to leave the CPUs idle; 0 does not wait")
	fs.IntVar(&o.Retries, "retries", 2, "run a configuration again, this many times at most, when other processes took more than 0.1 cores during it")
	fs.StringVar(&o.Results, "results", "bench/results", "directory of the JSON results")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	abs, err := filepath.Abs(o.CoreDNS) // the server runs in its own directory
	if err != nil {
		return o, err
	}
	o.CoreDNS = abs
	return o, o.check()
}

// fromEnv applies DURATION, ROUNDS and INSTANCES when they are set.
func fromEnv(o *options) error {
	if v := os.Getenv("DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("DURATION: %w", err)
		}
		o.Duration = d
	}
	for _, e := range []struct {
		name string
		dst  *int
	}{{"ROUNDS", &o.Rounds}, {"INSTANCES", &o.Instances}} {
		if v := os.Getenv(e.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("%s: %w", e.name, err)
			}
			*e.dst = n
		}
	}
	return nil
}

func (o options) check() error {
	switch {
	case o.Duration < time.Second:
		return errors.New("duration must be at least 1s")
	case o.Rounds < 1:
		return errors.New("rounds must be at least 1")
	case o.Instances < 1, o.Memory < 0:
		return errors.New("instances and memory must be positive")
	case o.Clients < 1, o.Outstanding < 1, o.Threads < 1, o.Rate < 0, o.QuietWait < 0, o.Retries < 0:
		return errors.New("clients, outstanding and threads must be positive; rate, quiet-wait and retries not negative")
	}
	return nil
}

// MarshalJSON writes the durations as text, such as "10s".
func (o options) MarshalJSON() ([]byte, error) {
	type plain options
	return json.Marshal(struct {
		plain
		Duration  string `json:"duration"`
		QuietWait string `json:"quiet_wait"`
	}{plain(o), o.Duration.String(), o.QuietWait.String()})
}
