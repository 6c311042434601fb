package history

import (
	"cmp"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// purge removes the rows f picks from the store as a sink does: each instance's rows split by
// f, and its Removal applied. It fails if an instance gone keeps anything.
func (s *memStore) purge(f Filter) error {
	d := NewDelta()
	for inst, rows := range s.rows {
		kept, removed := f.Split(slices.Collect(maps.Values(rows)))
		if len(removed) == 0 {
			continue
		}
		r := d.Remove(kept, removed)
		for _, row := range removed {
			delete(rows, DayVersion{row.Day, row.Version})
		}
		for p, n := range r.Made {
			s.everMade[p] += n
		}
		if held := slices.ContainsFunc(s.changes[inst], func(c Change) bool { return c.Day > r.ChangesAfter }); held != r.Replaces {
			s.wrongReplace++
		}
		s.changes[inst] = slices.DeleteFunc(s.changes[inst], func(c Change) bool { return c.Day > r.ChangesAfter })
		s.changes[inst] = append(s.changes[inst], r.Changes...)
		maps.Copy(s.versionFirst[inst], r.VersionFirst)
		for _, v := range r.VersionsGone {
			delete(s.versionFirst[inst], v)
		}
		if r.Gone {
			if len(rows) > 0 || len(s.changes[inst]) > 0 || len(s.versionFirst[inst]) > 0 {
				return fmt.Errorf("instance %s: expected nothing left once gone, got %d rows, %d changes and %d first days",
					inst, len(rows), len(s.changes[inst]), len(s.versionFirst[inst]))
			}
			delete(s.rows, inst)
			delete(s.state, inst)
			delete(s.changes, inst)
			delete(s.versionFirst, inst)
			continue
		}
		s.state[inst] = r.State
	}
	s.agg.Add(d)
	return nil
}

// filtered is rows without those a purge by f removes, by the filter's definition.
func filtered(rows map[string]map[DayVersion]Row, f Filter) map[string]map[DayVersion]Row {
	out := map[string]map[DayVersion]Row{}
	for inst, rs := range rows {
		days := map[int32]bool{}
		for k := range rs {
			days[k.Day] = true
		}
		for k, r := range rs {
			if k.Day >= f.From && k.Day <= f.To && (f.Version == "" || k.Version == f.Version) && (!f.OnlyOnce || len(days) == 1) {
				continue
			}
			if out[inst] == nil {
				out[inst] = map[DayVersion]Row{}
			}
			out[inst][k] = r
		}
	}
	return out
}

// onceOnly returns records of instances seen on one day each, with one to three versions, some
// in the same second.
func onceOnly(rng *rand.Rand, instances int, span int32) []record {
	versions := []string{"2.0", "master", "99"}
	var out []record
	for i := range instances {
		inst := fmt.Sprintf("f%02d", i)
		at := int64(rng.Int32N(span))*86400 + rng.Int64N(86400)
		for range 1 + rng.IntN(3) {
			out = append(out, record{inst, versions[rng.IntN(len(versions))], at + rng.Int64N(2)})
		}
	}
	return out
}

// randomFilter picks days within span, and maybe a version and OnlyOnce.
func randomFilter(rng *rand.Rand, span int32) Filter {
	f := Filter{From: rng.Int32N(span)}
	f.To = f.From + rng.Int32N(span/8)
	if rng.IntN(2) == 0 {
		f.Version = []string{"2.0", "master", "99", "19"}[rng.IntN(4)]
	}
	f.OnlyOnce = rng.IntN(3) == 0
	return f
}

// everMadeOf counts, per change, the instances that made it.
func everMadeOf(changes map[string][]Change) map[Pair]int64 {
	out := map[Pair]int64{}
	for _, cs := range changes {
		pairs := map[Pair]bool{}
		for _, c := range cs {
			pairs[Pair{c.From, c.To}] = true
		}
		for p := range pairs {
			out[p]++
		}
	}
	return out
}

// firstDaysOf works out the first day of each instance's versions from its rows.
func firstDaysOf(rows map[string]map[DayVersion]Row) map[string]map[string]int32 {
	out := map[string]map[string]int32{}
	for inst, rs := range rows {
		out[inst] = map[string]int32{}
		for k := range rs {
			if f, ok := out[inst][k.Version]; !ok || k.Day < f {
				out[inst][k.Version] = k.Day
			}
		}
	}
	return out
}

// TestRemoveMatchesDefinitions purges random histories with random filters, writing more
// between purges, and checks the rows left and every aggregate against their definitions.
func TestRemoveMatchesDefinitions(t *testing.T) {
	for seed := range uint64(12) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 4))
			const span = 900
			records := append(generate(rng, 25, span), onceOnly(rng, 30, span)...)
			slices.SortFunc(records, func(a, b record) int { return cmp.Compare(a.unix, b.unix) })
			s := newMemStore()
			for len(records) > 0 {
				n := min(len(records), 1+rng.IntN(40))
				s.write(records[:n])
				records = records[n:]
				if rng.IntN(8) > 0 {
					continue
				}
				f := randomFilter(rng, span)
				want := filtered(s.rows, f)
				if err := s.purge(f); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(s.rows, want) {
					t.Fatalf("rows after a purge by %+v: expected\n%v\ngot\n%v", f, want, s.rows)
				}
			}
			if err := s.purge(Filter{From: 0, To: span, OnlyOnce: true}); err != nil {
				t.Fatal(err)
			}
			checkAgainstReference(t, s.rows, s.state, s.changes, s.agg, span)
			if s.wrongReplace > 0 {
				t.Errorf("%d removals said wrongly whether the store holds changes to replace", s.wrongReplace)
			}
			if want, got := everMadeOf(s.changes), nonZero(s.everMade); !reflect.DeepEqual(got, want) {
				t.Errorf("instances that ever made each change: expected %v, got %v", want, got)
			}
			if want := firstDaysOf(s.rows); !reflect.DeepEqual(s.versionFirst, want) {
				t.Errorf("first days of versions: expected %v, got %v", want, s.versionFirst)
			}
		})
	}
}

func TestSplit(t *testing.T) {
	a, b := Row{Day: 5, Version: "1"}, Row{Day: 5, Version: "2"}
	c, d := Row{Day: 6, Version: "1"}, Row{Day: 8, Version: "2"}
	for _, tc := range []struct {
		name          string
		f             Filter
		rows          []Row
		kept, removed []Row
	}{
		{"days", Filter{From: 6, To: 7}, []Row{a, b, c, d}, []Row{a, b, d}, []Row{c}},
		{"version", Filter{From: 0, To: 9, Version: "2"}, []Row{a, b, c}, []Row{a, c}, []Row{b}},
		{"once", Filter{From: 0, To: 9, OnlyOnce: true}, []Row{a, b}, nil, []Row{a, b}},
		{"once, not in the days", Filter{From: 6, To: 9, OnlyOnce: true}, []Row{a, b}, []Row{a, b}, nil},
		{"not once", Filter{From: 0, To: 9, OnlyOnce: true}, []Row{a, c}, []Row{a, c}, nil},
		{"once, of a version", Filter{From: 0, To: 9, OnlyOnce: true, Version: "2"}, []Row{a, b}, []Row{a}, []Row{b}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kept, removed := tc.f.Split(tc.rows)
			if !reflect.DeepEqual(kept, tc.kept) || !reflect.DeepEqual(removed, tc.removed) {
				t.Errorf("expected kept %v and removed %v, got %v and %v", tc.kept, tc.removed, kept, removed)
			}
		})
	}
}

func TestLosses(t *testing.T) {
	a, b, c := Row{Day: 5, Version: "1"}, Row{Day: 6, Version: "1"}, Row{Day: 8, Version: "2"}
	rows := map[int64][]Row{1: {a, b}, 2: {c}, 3: {b, c}, 4: {b}}
	got := Filter{From: 6, To: 7}.Losses([]int64{4, 2, 1, 3, 5}, rows)
	want := []Loss{{4, nil, []Row{b}}, {1, []Row{a}, []Row{b}}, {3, []Row{c}, []Row{b}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("expected %v, got %v", want, got)
	}
	if !got[0].Gone() || got[1].Gone() {
		t.Errorf("expected only the first to go, got %v and %v", got[0].Gone(), got[1].Gone())
	}
}

// TestRemoveLastRow removes an instance's only row: it goes, and every aggregate it counted in
// falls back.
func TestRemoveLastRow(t *testing.T) {
	row := Row{Day: 10, Version: "2.0", Hits: 1, FirstSeen: 10*86400 + 5, LastSeen: 10*86400 + 5}
	d := NewDelta()
	d.Rebuild([]Row{row})
	r := d.Remove(nil, []Row{row})
	want := Removal{Gone: true, ChangesAfter: 9, VersionFirst: map[string]int32{}, VersionsGone: []string{"2.0"}}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("expected %+v, got %+v", want, r)
	}
	for name, m := range map[string]map[DayVersion]int64{"day versions": d.DayVersion, "adoption": d.Adoption} {
		if got := nonZero(m); len(got) > 0 {
			t.Errorf("%s: expected nothing, got %v", name, got)
		}
	}
	if c := d.Day[10]; c != (DayCount{}) {
		t.Errorf("day 10: expected no instances, got %+v", c)
	}
	for k, n := range d.Trend {
		if n != 0 {
			t.Errorf("trend %+v: expected 0, got %d", k, n)
		}
	}
}
