//go:build linux

package main

import "testing"

func TestParseStat(t *testing.T) {
	tests := []struct {
		stat   string
		want   procTicks
		kernel bool
	}{
		{"14099 (coredns) S 1 14098 8941 0 -1 1077936384 3146 0 0 0 412 204 0 0 20 0 9 0 424530 1750000 5000 18446744073709551615",
			procTicks{"coredns", 616}, false},
		{"77 (kdamond.0) I 2 0 0 0 -1 2129984 0 0 0 0 0 1010 0 0 20 0 1 0 15 0 0 18446744073709551615",
			procTicks{"kdamond.0", 1010}, true},
		{"42 (a) (b c) R 1 42 42 0 -1 4194560 0 0 0 0 7 8 0 0 20 0 1 0 1 0 0 0",
			procTicks{"a) (b c", 15}, false},
	}
	for _, tt := range tests {
		got, kernel, err := parseStat("stat", tt.stat)
		if err != nil || got != tt.want || kernel != tt.kernel {
			t.Errorf("parseStat(%q): expected %+v, %v, got %+v, %v, %v", tt.stat, tt.want, tt.kernel, got, kernel, err)
		}
	}
	if _, _, err := parseStat("stat", "1 (x) S 1 2"); err == nil {
		t.Error("expected an error for a short line")
	}
}
