package report_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mailustats/mailustats/internal/testutil/population"
	"github.com/mailustats/mailustats/plugin/report"
)

// BenchmarkAPI times the answers of the API over HTTP on loopback, on 100,000 instances over 5
// years in SQLite (the database of BenchmarkStore): the trends the page asks for and their CSV,
// with and without gzip, and one that reads the rows. It reports the bytes sent per answer.
func BenchmarkAPI(b *testing.B) {
	c := population.Benchmark(100_000, 5)
	store := benchSQLite(b, c)
	ts := httptest.NewServer(report.NewHandler(store, report.Options{Now: c.End}))
	b.Cleanup(ts.Close)
	for _, path := range []string{
		"/api/v1/trend?days=all&window=30",
		"/api/v1/trend?days=all&window=30&step=7",
		"/api/v1/trend?days=365&window=30",
		"/api/v1/trend?days=all&window=30&format=csv",
		"/api/v1/trend?days=all&window=30&step=7&min_days=2", // from the rows
		"/api/v1/summary?days=all",
		"/api/v1/daily?days=365",
	} {
		for _, encoding := range []string{"identity", "gzip"} {
			b.Run(strings.TrimPrefix(path, "/api/v1/")+"/"+encoding, func(b *testing.B) {
				var sent int
				for b.Loop() {
					sent = benchGet(b, ts.URL+path, encoding)
				}
				b.ReportMetric(float64(sent), "bytes/answer")
			})
		}
	}
}

// benchGet GETs url with the given Accept-Encoding, expects a 200 and returns the bytes sent.
func benchGet(b *testing.B, url, encoding string) int {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Accept-Encoding", encoding)
	resp, err := plainClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("GET %s: %d, %v", url, resp.StatusCode, err)
	}
	return int(n)
}
