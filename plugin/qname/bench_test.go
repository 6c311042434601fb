package qname

import "testing"

func BenchmarkParse(b *testing.B) {
	name := "MaStEr." + idMixed + ".StAtS.MaIlU.iO."
	b.ReportAllocs()
	var n Name
	for b.Loop() {
		n = Parse(name, zone)
	}
	if n.Kind != Valid {
		b.Fatalf("Parse(%q, %q): expected kind %s, got %s", name, zone, Valid, n.Kind)
	}
}

func BenchmarkMatch(b *testing.B) {
	name := "MaStEr." + idMixed + ".StAtS.MaIlU.iO."
	zones := []string{"example.org.", "mailu.io.", zone, "io."}
	b.ReportAllocs()
	var z string
	for b.Loop() {
		z = Match(name, zones)
	}
	if z != zone {
		b.Fatalf("Match(%q, %q): expected %q, got %q", name, zones, zone, z)
	}
}
