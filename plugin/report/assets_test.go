package report_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestVendoredUPlot checks that assets/uplot/VERSION, written by scripts/update-uplot.sh,
// records the version and licence of the files served and their SHA-256, so that an edit by
// hand or a partial update shows.
func TestVendoredUPlot(t *testing.T) {
	dir := filepath.Join("assets", "uplot")
	f, err := os.Open(filepath.Join(dir, "VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines := bufio.NewScanner(f)
	if !lines.Scan() || !strings.HasPrefix(lines.Text(), "uPlot ") || !strings.Contains(lines.Text(), "(MIT)") {
		t.Fatalf("expected a first line naming uPlot's version and its MIT licence, got %q", lines.Text())
	}
	sums := map[string]string{}
	for lines.Scan() {
		sum, name, ok := strings.Cut(lines.Text(), "  ")
		if !ok {
			t.Fatalf("expected SHA-256 and file name, got %q", lines.Text())
		}
		sums[name] = sum
	}
	for _, name := range []string{"uPlot.iife.min.js", "uPlot.min.css", "LICENSE"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		got := sha256.Sum256(b)
		if want := sums[name]; hex.EncodeToString(got[:]) != want {
			t.Errorf("%s: expected SHA-256 %q as VERSION records, got %x", name, want, got)
		}
	}
}
