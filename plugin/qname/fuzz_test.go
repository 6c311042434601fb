package qname

import (
	"strings"
	"testing"

	"github.com/google/uuid"
)

// fuzzZones are the zones FuzzParse parses every name against; fuzzZonesNoRoot is used to check
// Match picks the longest zone whether or not the root is among them.
var (
	fuzzZones       = []string{".", "io.", "mailu.io.", "stats.mailu.io.", `a\.b.`, "example.org."}
	fuzzZonesNoRoot = []string{"stats.mailu.io.", "mailu.io.", "example.org."}
)

func fuzzSeeds() []string {
	l63 := strings.Repeat("a", 63)
	l63upper := strings.Repeat("Z", 63)
	escaped63 := strings.Repeat(`\000`, 63) // 63 octets on the wire, 252 bytes here
	// 255 octets on the wire: 4 labels of 63 octets (lengths included) less the root, as 253 bytes.
	name255 := strings.Repeat(l63+".", 3) + strings.Repeat("b", 61) + "."
	seeds := []string{
		"",
		".",
		"..",
		"...",
		zone,
		"STATS.MAILU.IO.",
		"master." + zone,
		"master." + id + "." + zone,
		"MASTER." + idUpper + ".STATS.MAILU.IO.",
		"MaStEr." + idMixed + ".sTaTs.MaIlU.iO.",
		"master." + id + ".",
		"master." + id + ".io.",
		"master." + id + ".mailu.io.",
		"master." + id + `.a\.b.`,
		"master." + id + ".example.org.",
		label32 + "." + id + "." + zone,
		label33 + "." + id + "." + zone,
		l63 + "." + id + "." + zone,
		l63 + "." + zone,
		l63upper + "." + idUpper + "." + zone,
		escaped63 + "." + zone,
		escaped63 + "." + id + "." + zone,
		name255,
		name255[:len(name255)-len(zone)-1] + "." + zone,
		strings.Repeat(l63+".", 5) + zone,
		`abc\.def.` + zone,
		`a\.stats.mailu.io.`,
		`a\\.stats.mailu.io.`,
		`a\\\.stats.mailu.io.`,
		`\.stats.mailu.io.`,
		`master\.` + id + "." + zone,
		`mas\.ter.` + id + "." + zone,
		`\..` + id + "." + zone,
		`\046.` + id + "." + zone,
		`\000.` + id + "." + zone,
		`\000.` + zone,
		`\001\002\003\031\127.` + zone,
		`\200.` + id + "." + zone,
		`\255\255.` + zone,
		"m\xc3\xa4ster." + id + "." + zone,
		"\xff\xfe." + id + "." + zone,
		"\x00." + id + "." + zone,
		"\n." + zone,
		"." + id + "." + zone,
		"master.." + zone,
		".." + zone,
		"." + zone,
		`\`,
		`\\`,
		`master\`,
		`master.` + id + `\`,
		`master.` + id + "." + zone + `\`,
		`\.`,
		`\..`,
		`a\..`,
		`\1`,
		`\12`,
		`\123`,
		"xstats.mailu.io.",
		"master.3f2b8c1e-9a4d-1e6f-8b2a-1c3d5e7f9a0b." + zone,
		"master.3f2b8c1e-9a4d-4e6f-cb2a-1c3d5e7f9a0b." + zone,
		"master.3f2b8c1e9a4d4e6f8b2a1c3d5e7f9a0b." + zone,
		"master.3f2b8c1e-9a4d-4e6f-8b2a-1c3d5e7f9a0." + zone,
		"master.3f2b8c1e-9a4d-4e6f-8b2a-1c3d5e7f9a0bb." + zone,
		"master.3f2b8c1e-9a4d-4e6f-8b2a-1c3d5e7f9a0g." + zone,
		"*." + id + "." + zone,
		"a.master." + id + "." + zone,
	}
	return seeds
}

func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		for _, zones := range [][]string{fuzzZones, fuzzZonesNoRoot} {
			checkMatch(t, name, zones)
		}
		for _, z := range fuzzZones {
			checkParse(t, name, z)
		}
	})
}

// checkMatch checks Match returns one of zones, that name is in it, and that name is in no longer
// one.
func checkMatch(t *testing.T, name string, zones []string) {
	t.Helper()
	got := Match(name, zones)
	if got != "" && !contains(zones, got) {
		t.Fatalf("Match(%q, %q): expected one of the zones or \"\", got %q", name, zones, got)
	}
	if got != "" {
		if !strings.HasSuffix(asciiLower(name), got) {
			t.Fatalf("Match(%q, %q): expected a suffix of the name, got %q", name, zones, got)
		}
		if p := Parse(name, got); p.Kind == Malformed && p != (Name{}) {
			t.Fatalf("Parse(%q, %q): expected the zero Name for a malformed name, got %+v", name, got, p)
		}
	}
	for _, z := range zones {
		if len(z) <= len(got) {
			continue
		}
		// name is in no zone longer than the one Match picked.
		if p := Parse(name, z); p != (Name{}) {
			t.Fatalf("Match(%q, %q) = %q, but Parse(%q, %q) = %+v", name, zones, got, name, z, p)
		}
		if m := Match(name, []string{z}); m != "" {
			t.Fatalf("Match(%q, %q) = %q, but Match(%q, [%q]) = %q", name, zones, got, name, z, m)
		}
	}
	if up := asciiUpper(name); Match(up, zones) != got {
		t.Fatalf("Match(%q, %q): expected %q as for %q, got %q", up, zones, got, name, Match(up, zones))
	}
}

// checkParse checks the properties of Parse(name, z).
func checkParse(t *testing.T, name, z string) {
	t.Helper()
	got := Parse(name, z)
	if got.Kind > Valid {
		t.Fatalf("Parse(%q, %q): expected a kind up to %d, got %d", name, z, Valid, got.Kind)
	}
	_ = got.Kind.String()

	// Letter case makes no difference.
	if l := Parse(asciiLower(name), z); l != got {
		t.Fatalf("Parse(%q, %q): expected %+v as for %q, got %+v", asciiLower(name), z, got, name, l)
	}
	if u := Parse(asciiUpper(name), z); u != got {
		t.Fatalf("Parse(%q, %q): expected %+v as for %q, got %+v", asciiUpper(name), z, got, name, u)
	}

	// Only a name in the zone has a kind, and only the zone itself is its apex.
	inZone := Match(name, []string{z}) == z
	if got.Kind != Malformed && !inZone {
		t.Fatalf("Parse(%q, %q): expected %s for a name not in the zone, got %s", name, z, Malformed, got.Kind)
	}
	if apex := inZone && len(name) == len(z); apex != (got.Kind == Apex) {
		t.Fatalf("Parse(%q, %q): expected apex %t, got kind %s", name, z, apex, got.Kind)
	}

	if got.Kind != Valid {
		if got != (Name{Kind: got.Kind}) {
			t.Fatalf("Parse(%q, %q): expected no version or instance for kind %s, got %+v", name, z, got.Kind, got)
		}
		return
	}

	v := got.Version.String()
	if len(v) < 1 || len(v) > MaxVersionLen {
		t.Fatalf("Parse(%q, %q): expected a version of 1 to %d bytes, got %q", name, z, MaxVersionLen, v)
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			t.Fatalf("Parse(%q, %q): expected a version of [a-z0-9_-], got %q", name, z, v)
		}
	}
	if got.Instance.Version() != 4 {
		t.Fatalf("Parse(%q, %q): expected instance version 4, got %d", name, z, got.Instance.Version())
	}
	if got.Instance.Variant() != uuid.RFC4122 {
		t.Fatalf("Parse(%q, %q): expected instance variant %s, got %s", name, z, uuid.RFC4122, got.Instance.Variant())
	}

	// A Valid name is all ASCII, so strings.ToLower is plain ASCII lower-casing here.
	lowered := strings.ToLower(name)
	if l := Parse(lowered, z); l != got {
		t.Fatalf("Parse(%q, %q): expected %+v as for %q, got %+v", lowered, z, got, name, l)
	}
	if !strings.HasPrefix(lowered, v+"."+got.Instance.String()+".") {
		t.Fatalf("Parse(%q, %q): expected the name to start with %q, got %+v", name, z, v+"."+got.Instance.String()+".", got)
	}

	// The name built from the result parses back to it.
	built := strings.Join([]string{v, got.Instance.String()}, ".") + "." + z
	if z == "." {
		built = strings.Join([]string{v, got.Instance.String()}, ".") + "."
	}
	if built != lowered {
		t.Fatalf("Parse(%q, %q): expected the name to be %q once lower-cased, got %q", name, z, built, lowered)
	}
	if b := Parse(built, z); b != got {
		t.Fatalf("Parse(%q, %q): expected %+v as for %q, got %+v", built, z, got, name, b)
	}
	if m := Match(built, []string{z}); m != z {
		t.Fatalf("Match(%q, [%q]): expected %q, got %q", built, z, z, m)
	}
	if b := Parse(strings.ToUpper(built), z); b != got {
		t.Fatalf("Parse(%q, %q): expected %+v as for %q, got %+v", strings.ToUpper(built), z, got, name, b)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}
