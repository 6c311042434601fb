//go:build linux

package main

import (
	"bufio"
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/mailustats/mailustats/plugin/qname"
)

func TestQueryFile(t *testing.T) {
	const instances = 9000
	rng := rand.New(rand.NewPCG(1, 2))
	slots, set := plan(rng, instances, malformedShare, partialShare)
	var buf bytes.Buffer
	if err := writeQueries(&buf, rng, slots); err != nil {
		t.Fatal(err)
	}

	if set.Names != 10000 || set.Valid != instances || set.Malformed != 500 || set.Partial != 500 {
		t.Errorf("expected 10000 names: 9000 valid, 500 malformed, 500 partial; got %+v", set)
	}
	kinds := map[qname.Kind]int{}
	versions := map[string]int{}
	ids := map[string]bool{}
	upper := 0
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		name, qtype, ok := strings.Cut(sc.Text(), " ")
		if !ok || qtype != "A" {
			t.Fatalf("expected a line \"NAME A\", got %q", sc.Text())
		}
		if strings.ToLower(name) != name {
			upper++
		}
		n := qname.Parse(name+".", zone+".")
		kinds[n.Kind]++
		if n.Kind == qname.Valid {
			versions[n.Version.String()]++
			ids[n.Instance.String()] = true
		}
	}
	if len(slots) != set.Names || kinds[qname.Valid]+kinds[qname.Partial]+kinds[qname.Malformed] != set.Names {
		t.Fatalf("expected %d lines, got %d slots and kinds %v", set.Names, len(slots), kinds)
	}
	if kinds[qname.Valid] != set.Valid || kinds[qname.Partial] != set.Partial || kinds[qname.Malformed] != set.Malformed {
		t.Errorf("expected the plugin to parse %d valid, %d partial, %d malformed, got %v",
			set.Valid, set.Partial, set.Malformed, kinds)
	}
	if len(ids) != instances {
		t.Errorf("expected %d distinct instances, got %d", instances, len(ids))
	}
	for _, v := range versionMix {
		want := instances * v.Percent / 100
		if versions[v.Version] != want || set.Versions[v.Version] != want {
			t.Errorf("version %s: expected %d names, got %d parsed and %d planned", v.Version, want, versions[v.Version], set.Versions[v.Version])
		}
	}
	if upper < set.Names*9/10 {
		t.Errorf("expected random letter case in nearly every name, got %d of %d with upper case", upper, set.Names)
	}
}

func TestVersionCounts(t *testing.T) {
	for _, n := range []int{0, 1, 7, 99, 100, 12345} {
		sum := 0
		for i, c := range versionCounts(n) {
			sum += c
			if floor := n * versionMix[i].Percent / 100; c < floor || c > floor+1 {
				t.Errorf("versionCounts(%d)[%d]: expected %d or %d, got %d", n, i, floor, floor+1, c)
			}
		}
		if sum != n {
			t.Errorf("versionCounts(%d): expected a sum of %d, got %d", n, n, sum)
		}
	}
}

func TestVersionMix(t *testing.T) {
	total := 0
	for _, v := range versionMix {
		total += v.Percent
		if n := qname.Parse(v.Version+".0b7c3d3e-1111-4222-8333-444455556666."+zone+".", zone+"."); n.Kind != qname.Valid {
			t.Errorf("version %q: expected a valid name, got %s", v.Version, n.Kind)
		}
	}
	if total != 100 {
		t.Errorf("expected the version shares to add up to 100%%, got %d%%", total)
	}
}

func TestMemoryQueries(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	slots, set := plan(rng, 1000, 0, 0)
	if len(slots) != 1000 || set.Valid != 1000 || set.Malformed != 0 || set.Partial != 0 {
		t.Errorf("expected 1000 valid names only, got %d slots and %+v", len(slots), set)
	}
}
