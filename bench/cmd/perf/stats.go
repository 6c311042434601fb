//go:build linux

package main

import (
	"math"
	"slices"
	"strconv"
)

// percentile returns the p-th percentile (0 < p <= 100) of xs by the nearest-rank method: the
// smallest value that at least p percent of the values do not exceed. It sorts xs in place and
// returns 0 for no values.
func percentile(xs []float32, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	rank := int(math.Ceil(p / 100 * float64(len(xs))))
	rank = min(max(rank, 1), len(xs))
	return float64(xs[rank-1])
}

// mean returns the average of xs, or 0 for none.
func mean[T float32 | float64](xs []T) float64 {
	if len(xs) == 0 {
		return 0
	}
	var sum float64
	for _, x := range xs {
		sum += float64(x)
	}
	return sum / float64(len(xs))
}

// quantileName names a percentile: "p50", "p99.9", and "max" for 100.
func quantileName(p float64) string {
	if p == 100 {
		return "max"
	}
	return "p" + strconv.FormatFloat(p, 'f', -1, 64)
}
