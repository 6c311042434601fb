//go:build linux

package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// machine describes where and with what the benchmark ran.
type machine struct {
	NProc    int    `json:"nproc"`
	CPUModel string `json:"cpu_model"`
	Kernel   string `json:"kernel"`
	Memory   string `json:"memory"`
	Go       string `json:"go"`
	CoreDNS  string `json:"coredns"`
	Dnsperf  string `json:"dnsperf"`
	Commit   string `json:"commit"` // of the repository, "-dirty" with uncommitted changes to tracked files
}

// commandTimeout bounds each command machineInfo runs.
const commandTimeout = 10 * time.Second

// machineInfo collects the machine's description; what cannot be found stays empty.
func machineInfo(ctx context.Context, o options) machine {
	m := machine{NProc: runtime.NumCPU(), Go: runtime.Version()}
	m.CPUModel = procField("/proc/cpuinfo", "model name")
	m.Memory = procField("/proc/meminfo", "MemTotal")
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if out := command(ctx, "go", "version"); out != "" {
		m.Go = out
	}
	m.CoreDNS = strings.TrimRight(strings.Join(strings.Fields(strings.ReplaceAll(command(ctx, o.CoreDNS, "-version"), ",", ", ")), " "), ", ")
	for _, line := range strings.Split(command(ctx, o.Dnsperf, "-h"), "\n") {
		if v, ok := strings.CutPrefix(line, "Version "); ok {
			m.Dnsperf = v
		}
	}
	m.Commit = command(ctx, "git", "rev-parse", "--short", "HEAD")
	if m.Commit != "" && command(ctx, "git", "status", "--porcelain", "--untracked-files=no") != "" {
		m.Commit += "-dirty"
	}
	return m
}

// command returns the trimmed output of a command, or "" when it could not run; an exit status
// other than 0 is fine (dnsperf -h exits with 1).
func command(ctx context.Context, name string, args ...string) string {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if _, exit := err.(*exec.ExitError); err != nil && !exit {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// procField returns the value of the first "key: value" line of a /proc file.
func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// loadAvg returns /proc/loadavg: the machine's load over 1, 5 and 15 minutes, which shows
// whether something else ran during the benchmark.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
