package report_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/mailustats/mailustats/plugin/sink"
)

func TestHandlerETag(t *testing.T) {
	ts := startHandler(t, handlerStore(t, handlerRecords), handlerNow)
	for _, path := range []string{"/", "/assets/uplot/uPlot.iife.min.js", "/api/v1/summary?days=7", "/api/v1/trend?days=30",
		"/api/v1/daily?days=30&format=csv"} {
		url := ts.URL + path
		first := request(t, http.MethodGet, url)
		tag := first.header.Get("ETag")
		if first.status != http.StatusOK || !strings.HasPrefix(tag, `W/"`) || !strings.HasSuffix(tag, `"`) {
			t.Fatalf("GET %s: expected 200 and a weak ETag, got %d and %q", path, first.status, tag)
		}
		if again := request(t, http.MethodGet, url); again.header.Get("ETag") != tag {
			t.Errorf("GET %s again: expected the same ETag %s, got %q", path, tag, again.header.Get("ETag"))
		}
		strong := strings.TrimPrefix(tag, "W/")
		for _, match := range []string{tag, strong, `"other", ` + tag, "*"} {
			r := requestWith(t, http.MethodGet, url, map[string]string{"If-None-Match": match})
			if r.status != http.StatusNotModified || len(r.body) != 0 || r.header.Get("ETag") != tag {
				t.Errorf("GET %s with If-None-Match %s: expected 304, the ETag and no body, got %d, %q, %d bytes",
					path, match, r.status, r.header.Get("ETag"), len(r.body))
			}
		}
		r := requestWith(t, http.MethodGet, url, map[string]string{"If-None-Match": `W/"other"`})
		if r.status != http.StatusOK || !bytes.Equal(r.body, first.body) {
			t.Errorf("GET %s with another ETag: expected 200 and the answer, got %d", path, r.status)
		}
	}
	// Another answer has another tag; an error has none.
	a := request(t, http.MethodGet, ts.URL+"/api/v1/summary?days=7")
	b := request(t, http.MethodGet, ts.URL+"/api/v1/summary?days=30")
	if a.header.Get("ETag") == b.header.Get("ETag") {
		t.Errorf("expected other ETags for other answers, got %s twice", a.header.Get("ETag"))
	}
	bad := requestWith(t, http.MethodGet, ts.URL+"/api/v1/summary?days=0", map[string]string{"If-None-Match": "*"})
	if bad.status != http.StatusBadRequest || bad.header.Get("ETag") != "" {
		t.Errorf("a bad request with If-None-Match *: expected 400 and no ETag, got %d, %q", bad.status, bad.header.Get("ETag"))
	}
}

func TestHandlerGzip(t *testing.T) {
	ts := startHandler(t, handlerStore(t, handlerRecords), handlerNow)
	url := ts.URL + "/api/v1/daily?days=90" // several KiB
	plain := request(t, http.MethodGet, url)
	if plain.header.Get("Content-Encoding") != "" || len(plain.body) < 1024 {
		t.Fatalf("expected a plain answer of 1 KiB or more without Accept-Encoding, got %q and %d bytes",
			plain.header.Get("Content-Encoding"), len(plain.body))
	}
	for accept, compressed := range map[string]bool{
		"gzip": true, "deflate, gzip;q=0.5": true, "*": true, "GZIP": true, "br;q=1.0, gzip;q=0.8, *;q=0.1": true,
		"identity": false, "gzip;q=0": false, "gzip; q=0.000": false, "deflate, br": false, "gzip;q=x": false,
	} {
		r := requestWith(t, http.MethodGet, url, map[string]string{"Accept-Encoding": accept})
		got := r.header.Get("Content-Encoding") == "gzip"
		if got != compressed || !strings.Contains(strings.Join(r.header.Values("Vary"), ","), "Accept-Encoding") {
			t.Errorf("Accept-Encoding %q: expected gzip %v and Vary: Accept-Encoding, got %q and %q",
				accept, compressed, r.header.Get("Content-Encoding"), r.header.Values("Vary"))
			continue
		}
		if r.header.Get("Content-Length") != strconv.Itoa(len(r.body)) || r.header.Get("ETag") != plain.header.Get("ETag") {
			t.Errorf("Accept-Encoding %q: expected Content-Length %d and the plain answer's ETag, got %q and %q",
				accept, len(r.body), r.header.Get("Content-Length"), r.header.Get("ETag"))
		}
		body := r.body
		if compressed {
			body = gunzip(t, r.body)
			if len(r.body) >= len(plain.body) {
				t.Errorf("Accept-Encoding %q: expected fewer bytes than %d, got %d", accept, len(plain.body), len(r.body))
			}
		}
		if !bytes.Equal(body, plain.body) {
			t.Errorf("Accept-Encoding %q: expected the plain answer", accept)
		}
	}
	// Small answers stay plain, errors too.
	for _, path := range []string{"/api/v1/upgrades?days=1", "/api/v1/summary?days=x"} {
		r := requestWith(t, http.MethodGet, ts.URL+path, map[string]string{"Accept-Encoding": "gzip"})
		if r.header.Get("Content-Encoding") != "" || !strings.HasPrefix(string(r.body), "{") {
			t.Errorf("GET %s: expected a plain JSON answer, got %q: %q", path, r.header.Get("Content-Encoding"), r.body)
		}
	}
	head := requestWith(t, http.MethodHead, url, map[string]string{"Accept-Encoding": "gzip"})
	if head.status != http.StatusOK || len(head.body) != 0 || head.header.Get("Content-Encoding") != "gzip" {
		t.Errorf("HEAD with gzip: expected 200, gzip and no body, got %d, %q, %d bytes",
			head.status, head.header.Get("Content-Encoding"), len(head.body))
	}
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestHandlerFormat(t *testing.T) {
	ts := startHandler(t, handlerStore(t, handlerRecords), handlerNow)
	for _, tc := range []struct {
		path, accept, wantType, wantFile string
	}{
		{"/api/v1/summary?days=7&format=csv", "", "text/csv", "mailustats-summary-2026-11-16-to-2026-11-22.csv"},
		{"/api/v1/daily?days=7", "text/csv", "text/csv", "mailustats-daily-2026-11-16-to-2026-11-22.csv"},
		{"/api/v1/new?days=7", "application/json;q=0.5, text/csv", "text/csv", "mailustats-new-2026-11-16-to-2026-11-22.csv"},
		{"/api/v1/upgrades?days=30&format=csv", "application/json", "text/csv", "mailustats-upgrades-2026-10-24-to-2026-11-22.csv"},
		{"/api/v1/trend?days=7&window=90&format=csv", "", "text/csv", "mailustats-trend-90d-2026-11-16-to-2026-11-22.csv"},
		{"/api/v1/daily?days=7&format=json", "text/csv", "application/json", ""},
		{"/api/v1/daily?days=7", "text/csv;q=0", "application/json", ""},
		{"/api/v1/daily?days=7", "*/*", "application/json", ""},
	} {
		r := requestWith(t, http.MethodGet, ts.URL+tc.path, map[string]string{"Accept": tc.accept})
		gotType, _, _ := strings.Cut(r.header.Get("Content-Type"), ";")
		disposition := r.header.Get("Content-Disposition")
		wantDisposition := ""
		if tc.wantFile != "" {
			wantDisposition = `attachment; filename="` + tc.wantFile + `"`
		}
		if r.status != http.StatusOK || gotType != tc.wantType || disposition != wantDisposition ||
			!strings.Contains(strings.Join(r.header.Values("Vary"), ","), "Accept") {
			t.Errorf("GET %s, Accept %q: expected 200, %s, Content-Disposition %q and Vary: Accept, got %d, %q, %q, %q",
				tc.path, tc.accept, tc.wantType, wantDisposition, r.status, gotType, disposition, r.header.Values("Vary"))
		}
	}
	// Errors stay JSON, whatever the format asked.
	for _, path := range []string{
		"/api/v1/summary?days=7&format=xml", "/api/v1/summary?days=7&format=csv&format=csv", "/api/v1/daily?days=0&format=csv",
		"/api/v1/trend?window=366&format=csv", "/api/v1/trend?step=0", "/api/v1/trend?min_days=x", "/api/v1/trend?window=1&window=2",
	} {
		r := requestWith(t, http.MethodGet, ts.URL+path, map[string]string{"Accept": "text/csv"})
		checkError(t, path, r, http.StatusBadRequest)
		if r.header.Get("Content-Disposition") != "" {
			t.Errorf("GET %s: expected no Content-Disposition on an error, got %q", path, r.header.Get("Content-Disposition"))
		}
	}
}

// TestHandlerCSVFormula checks that a version a spreadsheet would read as a formula is written
// as text.
func TestHandlerCSVFormula(t *testing.T) {
	records := []sink.Record{daysAgo(1, 10, "-2-3", instA), daysAgo(0, 10, "19", instA), daysAgo(0, 9, "19", instB)}
	ts := startHandler(t, handlerStore(t, records), handlerNow)
	for path, want := range map[string]string{
		"/api/v1/summary?days=1&format=csv":  "version,instances\n19,2\n",
		"/api/v1/upgrades?days=7&format=csv": "from,to,instances\n'-2-3,19,1\n",
		"/api/v1/daily?days=2&format=csv":    "day,instances,19,'-2-3\n2026-11-21,1,0,1\n2026-11-22,2,2,0\n",
	} {
		if r := request(t, http.MethodGet, ts.URL+path); string(r.body) != want {
			t.Errorf("GET %s: expected\n%s\ngot\n%s", path, want, r.body)
		}
	}
}
