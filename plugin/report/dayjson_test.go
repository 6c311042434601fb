package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestDayListJSON checks that a dayList encodes as encoding/json encodes its days, on random
// days with versions whose names JSON escapes.
func TestDayListJSON(t *testing.T) {
	names := []string{"19", "2024.06", "master", "-2-3", `"quoted"`, "<&>", "ünï", "a\\b", "\u2028", "x\ty"}
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 14))
		days := make([]Day, rng.IntN(50))
		for i := range days {
			days[i] = Day{Day: fmt.Sprintf("2026-11-%02d", 1+i%30), Instances: rng.Int64N(1 << 40), Versions: map[string]int64{}}
			for range rng.IntN(len(names)) {
				days[i].Versions[names[rng.IntN(len(names))]] = rng.Int64N(1000)
			}
		}
		want, err := json.Marshal(days)
		if err != nil {
			t.Fatal(err)
		}
		got, err := json.Marshal(dayList(days))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("seed %d: expected\n\t%s\ngot\n\t%s", seed, want, got)
		}
	}
}
