//go:build linux

package main

import "testing"

func TestPercentile(t *testing.T) {
	hundred := make([]float32, 100)
	for i := range hundred {
		hundred[i] = float32(100 - i) // 100 down to 1
	}
	tests := []struct {
		xs   []float32
		p    float64
		want float64
	}{
		{nil, 99, 0},
		{[]float32{7}, 99, 7},
		{[]float32{3, 1, 2}, 50, 2},
		{[]float32{3, 1, 2}, 99, 3},
		{[]float32{3, 1, 2}, 100, 3},
		{hundred, 99, 99},
		{hundred, 50, 50},
		{hundred, 1, 1},
		{hundred, 99.5, 100},
	}
	for _, tt := range tests {
		if got := percentile(append([]float32(nil), tt.xs...), tt.p); got != tt.want {
			t.Errorf("percentile(%v, %v): expected %v, got %v", tt.xs, tt.p, tt.want, got)
		}
	}
}

func TestMean(t *testing.T) {
	if got := mean([]float64{1, 2, 6}); got != 3 {
		t.Errorf("expected 3, got %v", got)
	}
	if got := mean([]float32(nil)); got != 0 {
		t.Errorf("expected 0 for no values, got %v", got)
	}
}

func TestThousands(t *testing.T) {
	for x, want := range map[float64]string{0: "0", 999.4: "999", 1000: "1,000", 74812.6: "74,813", 1234567: "1,234,567"} {
		if got := thousands(x); got != want {
			t.Errorf("thousands(%v): expected %q, got %q", x, want, got)
		}
	}
}

func TestQuantileName(t *testing.T) {
	for p, want := range map[float64]string{50: "p50", 99.9: "p99.9", 100: "max"} {
		if got := quantileName(p); got != want {
			t.Errorf("quantileName(%v): expected %q, got %q", p, want, got)
		}
	}
}
