package qname

import (
	"strings"
	"testing"
)

const (
	zone = "stats.mailu.io."
	// id is a version 4 UUID with the RFC 9562 variant (the 8 at offset 19 is 10xx).
	id      = "3f2b8c1e-9a4d-4e6f-8b2a-1c3d5e7f9a0b"
	idUpper = "3F2B8C1E-9A4D-4E6F-8B2A-1C3D5E7F9A0B"
	idMixed = "3f2B8c1E-9A4d-4E6f-8B2a-1C3d5E7f9A0b"
)

var (
	label63 = strings.Repeat("a", 63)
	label32 = strings.Repeat("v", MaxVersionLen)
	label33 = strings.Repeat("v", MaxVersionLen+1)
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		zone    string
		kind    Kind
		version string // checked when kind is Valid
		id      string // checked when kind is Valid
	}{
		// Valid announcements, in every letter case.
		{"master." + id + "." + zone, zone, Valid, "master", id},
		{"MASTER." + idUpper + ".STATS.MAILU.IO.", zone, Valid, "master", id},
		{"MaStEr." + idMixed + ".sTaTs.MaIlU.iO.", zone, Valid, "master", id},
		{"2024." + id + "." + zone, zone, Valid, "2024", id},
		{"2024-06." + id + "." + zone, zone, Valid, "2024-06", id},
		{"V2_0-RC1." + id + "." + zone, zone, Valid, "v2_0-rc1", id},
		{"x." + id + "." + zone, zone, Valid, "x", id},
		{"-." + id + "." + zone, zone, Valid, "-", id},
		{"_." + id + "." + zone, zone, Valid, "_", id},
		{label32 + "." + id + "." + zone, zone, Valid, label32, id},
		{"master." + id + ".", ".", Valid, "master", id},
		{"Master." + idMixed + ".", ".", Valid, "master", id},
		{"master." + id + ".io.", "io.", Valid, "master", id},
		{"master." + id + "." + label63 + ".", label63 + ".", Valid, "master", id},
		{"master." + id + `.a\.b.`, `a\.b.`, Valid, "master", id},
		{"master." + id + `.a\\.io.`, "io.", Malformed, "", ""}, // three labels: master, id, `a\\`

		// The apex.
		{zone, zone, Apex, "", ""},
		{"STATS.MAILU.IO.", zone, Apex, "", ""},
		{"StAtS.mAiLu.Io.", zone, Apex, "", ""},
		{".", ".", Apex, "", ""},
		{label63 + ".", label63 + ".", Apex, "", ""},

		// One label below the apex, as asked by resolvers that minimise query names.
		{"master." + zone, zone, Partial, "", ""},
		{"MASTER." + zone, zone, Partial, "", ""},
		{id + "." + zone, zone, Partial, "", ""},
		{idUpper + "." + zone, zone, Partial, "", ""},
		{"*." + zone, zone, Partial, "", ""},
		{"not_a-VALID*label." + zone, zone, Partial, "", ""},
		{`abc\.def.` + zone, zone, Partial, "", ""},
		{`master\.` + id + "." + zone, zone, Partial, "", ""},
		{`\000.` + zone, zone, Partial, "", ""},
		{`\200\255.` + zone, zone, Partial, "", ""},
		{`\\.` + zone, zone, Partial, "", ""},
		{label63 + "." + zone, zone, Partial, "", ""},
		{"io.", ".", Partial, "", ""},
		{"mailu.io.", "io.", Partial, "", ""},
		{id + ".", ".", Partial, "", ""},
		{`a\..`, ".", Partial, "", ""},

		// Bad instance ids.
		{"master.3f2b8c1e-9a4d-1e6f-8b2a-1c3d5e7f9a0b." + zone, zone, Malformed, "", ""},  // version 1
		{"master.3f2b8c1e-9a4d-5e6f-8b2a-1c3d5e7f9a0b." + zone, zone, Malformed, "", ""},  // version 5
		{"master.3f2b8c1e-9a4d-7e6f-8b2a-1c3d5e7f9a0b." + zone, zone, Malformed, "", ""},  // version 7
		{"master.3f2b8c1e-9a4d-0e6f-8b2a-1c3d5e7f9a0b." + zone, zone, Malformed, "", ""},  // version 0
		{"master.3f2b8c1e-9a4d-4e6f-7b2a-1c3d5e7f9a0b." + zone, zone, Malformed, "", ""},  // NCS variant
		{"master.3f2b8c1e-9a4d-4e6f-cb2a-1c3d5e7f9a0b." + zone, zone, Malformed, "", ""},  // Microsoft variant
		{"master.3f2b8c1e-9a4d-4e6f-fb2a-1c3d5e7f9a0b." + zone, zone, Malformed, "", ""},  // future variant
		{"master.3f2b8c1e-9a4d-4e6f-0b2a-1c3d5e7f9a0b." + zone, zone, Malformed, "", ""},  // NCS variant
		{"master.3f2b8c1ea9a4d-4e6f-8b2a-1c3d5e7f9a0b." + zone, zone, Malformed, "", ""},  // hyphen 8 replaced
		{"master.3f2b8c1e-9a4da4e6f-8b2a-1c3d5e7f9a0b." + zone, zone, Malformed, "", ""},  // hyphen 13 replaced
		{"master.3f2b8c1e-9a4d-4e6fa8b2a-1c3d5e7f9a0b." + zone, zone, Malformed, "", ""},  // hyphen 18 replaced
		{"master.3f2b8c1e-9a4d-4e6f-8b2aa1c3d5e7f9a0b." + zone, zone, Malformed, "", ""},  // hyphen 23 replaced
		{"master.3f2b8c1e9a4d4e6f8b2a1c3d5e7f9a0b." + zone, zone, Malformed, "", ""},      // no hyphens
		{"master.3f2b8c1e-9a4d4e6f-8b2a-1c3d5e7f9a0b." + zone, zone, Malformed, "", ""},   // 35 chars, missing hyphen
		{"master.3f2b8c1e-9a4d-4e6f-8b2a-1c3d5e7f9a0." + zone, zone, Malformed, "", ""},   // 35 chars
		{"master.3f2b8c1e-9a4d-4e6f-8b2a-1c3d5e7f9a0bb." + zone, zone, Malformed, "", ""}, // 37 chars
		{"master.3f2b8c1e-9a4d-4e6f-8b2a-1c3d5e7f9a0g." + zone, zone, Malformed, "", ""},  // non-hex
		{"master.3f2b8c1e-9a4d-4e6f-8b2a-1c3d5e7f9a0G." + zone, zone, Malformed, "", ""},  // non-hex
		{"master.3f2b8c1e-9a4d-4e6f-8b2a-1c3d5e7f9a0-." + zone, zone, Malformed, "", ""},  // non-hex
		{"master.3f2b8c1e-9a4d-4e6f-8b2a-1c3d5e7f9a\\0." + zone, zone, Malformed, "", ""}, // escape in id, 36 chars
		{"master.{3f2b8c1e-9a4d-4e6f-8b2a-1c3d5e7f9a}." + zone, zone, Malformed, "", ""},  // braces
		{"master." + label63 + "." + zone, zone, Malformed, "", ""},
		{"master.." + zone, zone, Malformed, "", ""},

		// Bad versions.
		{"." + id + "." + zone, zone, Malformed, "", ""},
		{label33 + "." + id + "." + zone, zone, Malformed, "", ""},
		{label63 + "." + id + "." + zone, zone, Malformed, "", ""},
		{"*." + id + "." + zone, zone, Malformed, "", ""},
		{"mas*ter." + id + "." + zone, zone, Malformed, "", ""},
		{`\046.` + id + "." + zone, zone, Malformed, "", ""},
		{`mas\046ter.` + id + "." + zone, zone, Malformed, "", ""},
		{`\000.` + id + "." + zone, zone, Malformed, "", ""},
		{`master\000.` + id + "." + zone, zone, Malformed, "", ""},
		{`\..` + id + "." + zone, zone, Malformed, "", ""},
		{`mas\.ter.` + id + "." + zone, zone, Malformed, "", ""},
		{`\200.` + id + "." + zone, zone, Malformed, "", ""},
		{`m\255.` + id + "." + zone, zone, Malformed, "", ""},
		{`\\.` + id + "." + zone, zone, Malformed, "", ""},
		{`\065.` + id + "." + zone, zone, Malformed, "", ""}, // "A", but escaped: not accepted
		{"m\xc3\xa4ster." + id + "." + zone, zone, Malformed, "", ""},
		{"ma ster." + id + "." + zone, zone, Malformed, "", ""},
		{"ma@ster." + id + "." + zone, zone, Malformed, "", ""},
		{"ma/ster." + id + "." + zone, zone, Malformed, "", ""},
		{"ma:ster." + id + "." + zone, zone, Malformed, "", ""},
		{"ma`ster." + id + "." + zone, zone, Malformed, "", ""},
		{"ma{ster." + id + "." + zone, zone, Malformed, "", ""},
		{"ma[ster." + id + "." + zone, zone, Malformed, "", ""},

		// Order swapped: the instance id first.
		{id + ".master." + zone, zone, Malformed, "", ""},

		// Three labels or more.
		{"a.master." + id + "." + zone, zone, Malformed, "", ""},
		{"master." + id + ".a." + zone, zone, Malformed, "", ""},
		{"a.b.c.d.e." + zone, zone, Malformed, "", ""},
		{"a.b.c." + zone, zone, Malformed, "", ""},
		{"master." + id + ".stats.mailu.io.", ".", Malformed, "", ""},
		{"master." + id + ".a.", ".", Malformed, "", ""},
		{`master.` + id + `.a\.b.` + zone, zone, Malformed, "", ""},
		{"..." + zone, zone, Malformed, "", ""},

		// Not in the zone.
		{"master." + id + ".example.org.", zone, Malformed, "", ""},
		{"master." + id + ".xstats.mailu.io.", zone, Malformed, "", ""},
		{"master." + id + `\.stats.mailu.io.`, zone, Malformed, "", ""},
		{"master." + id + `.a\.stats.mailu.io.`, zone, Malformed, "", ""},
		{`a\.stats.mailu.io.`, zone, Malformed, "", ""},
		{"mailu.io.", zone, Malformed, "", ""},
		{"tats.mailu.io.", zone, Malformed, "", ""},
		{"stats.mailu.io", zone, Malformed, "", ""},
		{"xstats.mailu.io.", zone, Malformed, "", ""},
		{"", zone, Malformed, "", ""},
		{"", ".", Malformed, "", ""},
		{".", zone, Malformed, "", ""},
	}

	for i, tc := range tests {
		got := Parse(tc.name, tc.zone)
		if got.Kind != tc.kind {
			t.Errorf("test %d, Parse(%q, %q): expected kind %s, got %s", i, tc.name, tc.zone, tc.kind, got.Kind)
			continue
		}
		if tc.kind != Valid {
			if got != (Name{Kind: tc.kind}) {
				t.Errorf("test %d, Parse(%q, %q): expected zero version and instance, got %+v", i, tc.name, tc.zone, got)
			}
			continue
		}
		if v := got.Version.String(); v != tc.version {
			t.Errorf("test %d, Parse(%q, %q): expected version %q, got %q", i, tc.name, tc.zone, tc.version, v)
		}
		if s := got.Instance.String(); s != tc.id {
			t.Errorf("test %d, Parse(%q, %q): expected instance %q, got %q", i, tc.name, tc.zone, tc.id, s)
		}
	}
}

func TestMatch(t *testing.T) {
	both := []string{"mailu.io.", zone}
	bothReversed := []string{zone, "mailu.io."}
	tests := []struct {
		name     string
		zones    []string
		expected string
	}{
		// The longest zone wins, in whatever order the zones come.
		{"master." + id + "." + zone, both, zone},
		{"master." + id + "." + zone, bothReversed, zone},
		{zone, both, zone},
		{zone, bothReversed, zone},
		{"mailu.io.", both, "mailu.io."},
		{"www.mailu.io.", both, "mailu.io."},
		{"www.mailu.io.", bothReversed, "mailu.io."},
		{"a.b.stats.mailu.io.", []string{".", "io.", "mailu.io.", zone}, zone},
		{"a.b.stats.mailu.io.", []string{zone, "mailu.io.", "io.", "."}, zone},

		// Without regard to letter case.
		{"MASTER." + idUpper + ".STATS.MAILU.IO.", both, zone},
		{"MaStEr." + idMixed + ".StAtS.mAiLu.Io.", both, zone},
		{"STATS.MAILU.IO.", both, zone},
		{"WWW.MAILU.IO.", both, "mailu.io."},

		// At label boundaries only.
		{"xstats.mailu.io.", []string{zone}, ""},
		{"xstats.mailu.io.", both, "mailu.io."},
		{"a.xstats.mailu.io.", both, "mailu.io."},
		{"tats.mailu.io.", []string{zone}, ""},
		{"xmailu.io.", both, ""},
		{"stats.mailu.iox.", both, ""},
		{"stats.mailu.io", both, ""},
		{"mailu.io", both, ""},

		// An escaped dot does not separate labels; an escaped backslash before a dot does not escape it.
		{`a\.stats.mailu.io.`, both, "mailu.io."},
		{`a\.stats.mailu.io.`, []string{zone}, ""},
		{`\.stats.mailu.io.`, both, "mailu.io."},
		{`a\\.stats.mailu.io.`, both, zone},
		{`\\.stats.mailu.io.`, both, zone},
		{`a\\\.stats.mailu.io.`, both, "mailu.io."},
		{`a\\\\.stats.mailu.io.`, both, zone},
		{`a\092.stats.mailu.io.`, both, zone},
		{`a\046.stats.mailu.io.`, both, zone},
		{`stats\.mailu.io.`, both, ""},
		{`stats\.mailu.io.`, []string{"io."}, "io."},
		{`a\.b.`, []string{`a\.b.`, "b."}, `a\.b.`},
		{`x.a\.b.`, []string{`a\.b.`, "b."}, `a\.b.`},
		{`xa\.b.`, []string{`a\.b.`, "b."}, ""},

		// The root.
		{"master." + id + "." + zone, []string{"."}, "."},
		{"master." + id + "." + zone, []string{".", "mailu.io."}, "mailu.io."},
		{".", []string{"."}, "."},
		{".", both, ""},
		{"example.org.", []string{".", zone}, "."},
		{`a\..`, []string{"."}, "."},

		// Nowhere.
		{"example.org.", both, ""},
		{"", both, ""},
		{"", []string{"."}, ""},
		{zone, nil, ""},
		{zone, []string{}, ""},
		{"io.", both, ""},
		{"master." + id + "." + zone, []string{"example.org.", "mailu.com."}, ""},
	}

	for i, tc := range tests {
		if got := Match(tc.name, tc.zones); got != tc.expected {
			t.Errorf("test %d, Match(%q, %q): expected %q, got %q", i, tc.name, tc.zones, tc.expected, got)
		}
	}
}

// TestMatchParse runs names through Match and then Parse, as the plugin does.
func TestMatchParse(t *testing.T) {
	zones := []string{"mailu.io.", zone, "example.org."}
	tests := []struct {
		name    string
		zone    string
		kind    Kind
		version string
	}{
		{"MaStEr." + idMixed + ".StAtS.MaIlU.iO.", zone, Valid, "master"},
		{"master." + id + ".mailu.io.", "mailu.io.", Valid, "master"},
		{"master." + id + ".EXAMPLE.org.", "example.org.", Valid, "master"},
		{"master." + id + ".xstats.mailu.io.", "mailu.io.", Malformed, ""},
		{"master." + id + `.a\.stats.mailu.io.`, "mailu.io.", Malformed, ""},
		{`master\.` + id + ".stats.mailu.io.", zone, Partial, ""},
		{"stats.mailu.io.", zone, Apex, ""},
		{"Stats.Mailu.IO.", zone, Apex, ""},
		{"stats.MAILU.io.", zone, Apex, ""},
		{"stats.mailu.io.", zone, Apex, ""},
		{"www.mailu.io.", "mailu.io.", Partial, ""},
		{"master." + id + ".example.com.", "", Malformed, ""},
	}

	for i, tc := range tests {
		z := Match(tc.name, zones)
		if z != tc.zone {
			t.Errorf("test %d, Match(%q): expected %q, got %q", i, tc.name, tc.zone, z)
			continue
		}
		if z == "" {
			continue
		}
		got := Parse(tc.name, z)
		if got.Kind != tc.kind {
			t.Errorf("test %d, Parse(%q, %q): expected kind %s, got %s", i, tc.name, z, tc.kind, got.Kind)
			continue
		}
		if got.Kind == Valid {
			if v := got.Version.String(); v != tc.version {
				t.Errorf("test %d, Parse(%q, %q): expected version %q, got %q", i, tc.name, z, tc.version, v)
			}
			if s := got.Instance.String(); s != id {
				t.Errorf("test %d, Parse(%q, %q): expected instance %q, got %q", i, tc.name, z, id, s)
			}
		}
	}
}

func TestKindString(t *testing.T) {
	tests := []struct {
		kind     Kind
		expected string
	}{
		{Malformed, "malformed"},
		{Apex, "apex"},
		{Partial, "partial"},
		{Valid, "valid"},
		{Kind(0), "malformed"},
	}
	for i, tc := range tests {
		if got := tc.kind.String(); got != tc.expected {
			t.Errorf("test %d, Kind(%d).String(): expected %q, got %q", i, uint8(tc.kind), tc.expected, got)
		}
	}
	var n Name
	if n.Kind != Malformed {
		t.Errorf("expected the zero Name to be %s, got %s", Malformed, n.Kind)
	}
}

func TestVersionStringZero(t *testing.T) {
	var v Version
	if s := v.String(); s != "" {
		t.Errorf("expected the zero Version to print as %q, got %q", "", s)
	}
}

var sink Name

func TestParseAllocs(t *testing.T) {
	names := []string{
		"MaStEr." + idMixed + ".StAtS.MaIlU.iO.",
		"stats.mailu.io.",
		"MASTER.stats.mailu.io.",
		"master." + id + ".a.stats.mailu.io.",
		`mas\.ter.` + id + ".stats.mailu.io.",
		"master." + id + ".example.org.",
	}
	for _, name := range names {
		allocs := testing.AllocsPerRun(100, func() {
			sink = Parse(name, zone)
		})
		if allocs != 0 {
			t.Errorf("Parse(%q, %q): expected 0 allocations, got %v", name, zone, allocs)
		}
	}
	zones := []string{"mailu.io.", zone}
	var z string
	allocs := testing.AllocsPerRun(100, func() {
		z = Match(names[0], zones)
	})
	if allocs != 0 {
		t.Errorf("Match(%q, %q): expected 0 allocations, got %v", names[0], zones, allocs)
	}
	if z != zone {
		t.Errorf("Match(%q, %q): expected %q, got %q", names[0], zones, zone, z)
	}
}
