package logimport

import "testing"

// BenchmarkParse parses each form's usual line.
func BenchmarkParse(b *testing.B) {
	lines := []struct{ name, line string }{
		{"sniffer", "15," + id + ",1517236000.124301"},
		{"go", "MaSTer," + idMixed + ",1600000100"},
		{"go-one-label", idMixed + ",1600000000"},
		{"csv", "master," + id + ",1600000100"},
		{"jsonl", `{"time":"2024-05-06T05:08:09Z","version":"master","instance":"` + id + `"}`},
		{"jsonl-decoded", `{"version":"master","instance":"` + id + `","time":"2024-05-06T05:08:09Z"}`},
	}
	for _, l := range lines {
		line := []byte(l.line)
		b.Run(l.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(line) + 1))
			for b.Loop() {
				Parse(line, now)
			}
		})
	}
}
