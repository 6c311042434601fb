//go:build linux

package main

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/prometheus/procfs"
)

// statTail is the end of a /proc/PID/stat line, from startcode: fields 26 to 52 of Linux 5.x.
const statTail = " 94181638901760 94181638921641 140734903405472 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0" +
	" 94181638937648 94181638939264 94181850058752 140734903409347 140734903409367 140734903409367 140734903410667 0"

func TestStatTicks(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		pid    int
		stat   string
		want   procTicks
		kernel bool
	}{
		{14099, "14099 (coredns) S 1 14098 8941 0 -1 1077936384 3146 0 0 0 412 204 0 0 20 0 9 0 424530 1750000 5000 18446744073709551615",
			procTicks{"coredns", 616}, false},
		{77, "77 (kdamond.0) I 2 0 0 0 -1 2129984 0 0 0 0 0 1010 0 0 20 0 1 0 15 0 0 18446744073709551615",
			procTicks{"kdamond.0", 1010}, true},
		{42, "42 (a) (b c) R 1 42 42 0 -1 4194560 0 0 0 0 7 8 0 0 20 0 1 0 1 0 0 18446744073709551615",
			procTicks{"a) (b c", 15}, false},
	}
	for _, tt := range tests {
		path := filepath.Join(dir, strconv.Itoa(tt.pid), "stat")
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(tt.stat+statTail+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fs, err := procfs.NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		p, err := fs.Proc(tt.pid)
		if err != nil {
			t.Fatal(err)
		}
		got, kernel, err := statTicks(p)
		if err != nil || got != tt.want || kernel != tt.kernel {
			t.Errorf("statTicks(%q): expected %+v, %v, got %+v, %v, %v", tt.stat, tt.want, tt.kernel, got, kernel, err)
		}
	}
}

// TestProcReaders reads this machine's /proc.
func TestProcReaders(t *testing.T) {
	if ticks, err := processTicks(os.Getpid()); err != nil || ticks < 0 {
		t.Errorf("processTicks(self): expected ticks, got %d, %v", ticks, err)
	}
	if _, err := processTicks(-1); err == nil {
		t.Error("processTicks(-1): expected an error")
	}
	foreign := foreignTicks(map[int]bool{os.Getpid(): true})
	if _, ok := foreign[os.Getpid()]; ok {
		t.Errorf("foreignTicks: expected our own process left out, got %v", foreign[os.Getpid()])
	}
	if _, ok := foreign[os.Getppid()]; !ok {
		t.Errorf("foreignTicks: expected the parent process %d, got %v", os.Getppid(), foreign)
	}
	if busy, total, err := machineTicks(); err != nil || total <= 0 || busy < 0 || busy > total {
		t.Errorf("machineTicks: expected 0 <= busy <= total, 0 < total, got %d, %d, %v", busy, total, err)
	}
	if rss, hwm, err := memoryStatus(os.Getpid()); err != nil || rss <= 0 || hwm < rss {
		t.Errorf("memoryStatus(self): expected 0 < VmRSS <= VmHWM, got %d, %d, %v", rss, hwm, err)
	}
}
