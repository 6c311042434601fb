package report_test

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"testing"

	"github.com/mailustats/mailustats/internal/testutil/population"
	"github.com/mailustats/mailustats/plugin/report"
)

// trendBody is the body of /api/v1/trend, as a client reads it.
type trendBody struct {
	From    string       `json:"from"`
	To      string       `json:"to"`
	Window  int          `json:"window"`
	Step    int          `json:"step"`
	MinDays int          `json:"min_days"`
	Points  []report.Day `json:"points"`
}

// apiCase is a request to the API: its window and, for a trend, its W, step and min_days.
type apiCase struct {
	days                  string // N or all
	window, step, minDays int
}

// query is the case's query string, for an endpoint.
func (c apiCase) query(endpoint string) string {
	q := "?days=" + c.days
	if endpoint == "trend" {
		q += fmt.Sprintf("&window=%d&step=%d&min_days=%d", c.window, c.step, c.minDays)
	}
	return q
}

// TestHandlerReference compares the API's answers, as JSON and as CSV, with a brute-force count
// of the records of random populations over years: the trend over the last days and the whole
// history, with kept windows and others, steps and min_days, and the days, summary and
// upgrades in CSV.
func TestHandlerReference(t *testing.T) {
	for seed := range uint64(3) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			t.Parallel()
			c := population.Small(seed)
			records := slices.Collect(c.Records())
			ref := newReference(records)
			ts := startHandler(t, handlerStore(t, records), c.End())
			last := dayNumber(c.End())
			cases := []apiCase{
				{"all", 30, 1, 1}, {"all", 7, 7, 1}, {"all", 90, 3, 2}, {"365", 365, 1, 1},
				{"90", 14, 1, 1}, {"30", 1, 2, 3}, {"400", 30, 30, 2},
			}
			for _, tc := range cases {
				w := report.LastDays(c.End(), atoi(t, tc.days))
				if tc.days == "all" {
					w = report.Window{From: dayString(ref.first), To: dayString(last)}
				}
				checkTrend(t, ts.URL, tc, ref.trend(w, tc.window, tc.step, tc.minDays))
				checkDaysCSV(t, ts.URL+"/api/v1/daily"+tc.query("daily"), ref.daily(w))
				checkDaysCSV(t, ts.URL+"/api/v1/new"+tc.query("new"), ref.new(w))
				checkSummaryCSV(t, ts.URL+"/api/v1/summary"+tc.query("summary"), ref.summary(w, 1))
				checkUpgradesCSV(t, ts.URL+"/api/v1/upgrades"+tc.query("upgrades"), ref.upgrades(w))
			}
		})
	}
}

// atoi reads days=N, and all as 0, which the caller replaces.
func atoi(t *testing.T, days string) int {
	if days == "all" {
		return 0
	}
	n, err := strconv.Atoi(days)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// checkTrend compares the trend of tc, in JSON and in CSV, with want.
func checkTrend(t *testing.T, base string, tc apiCase, want []report.Day) {
	t.Helper()
	url := base + "/api/v1/trend" + tc.query("trend")
	var got trendBody
	getJSON(t, url, &got)
	if got.Window != tc.window || got.Step != tc.step || got.MinDays != tc.minDays ||
		got.To != want[len(want)-1].Day || len(got.Points) != len(want) {
		t.Fatalf("%s: expected to %s, window %d, step %d, min_days %d and %d points, got %s, %d, %d, %d and %d",
			url, want[len(want)-1].Day, tc.window, tc.step, tc.minDays, len(want), got.To, got.Window, got.Step, got.MinDays, len(got.Points))
	}
	if !reflect.DeepEqual(got.Points, want) {
		t.Errorf("%s: expected\n\t%+v\ngot\n\t%+v", url, want, got.Points)
	}
	checkDaysCSV(t, url, want)
}

// getCSV GETs url as CSV and returns its rows.
func getCSV(t *testing.T, url string) [][]string {
	t.Helper()
	r := request(t, http.MethodGet, url+"&format=csv")
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "text/csv; charset=utf-8; header=present" {
		t.Fatalf("GET %s as CSV: expected 200 and text/csv, got %d, %q: %s", url, r.status, r.header.Get("Content-Type"), r.body)
	}
	rows, err := csv.NewReader(bytes.NewReader(r.body)).ReadAll()
	if err != nil || len(rows) == 0 {
		t.Fatalf("GET %s as CSV: %v in %s", url, err, r.body)
	}
	return rows
}

// checkDaysCSV checks the CSV of days at url: a header of day, instances and a column per
// version, then a row per day, equal to want.
func checkDaysCSV(t *testing.T, url string, want []report.Day) {
	t.Helper()
	rows := getCSV(t, url)
	header := rows[0]
	if len(header) < 2 || header[0] != "day" || header[1] != "instances" || len(rows) != len(want)+1 {
		t.Fatalf("%s as CSV: expected a header day,instances,... and %d rows, got %q and %d", url, len(want), header, len(rows)-1)
	}
	versions := map[string]bool{}
	for _, d := range want {
		for v, n := range d.Versions {
			versions[v] = versions[v] || n > 0
		}
	}
	if len(header)-2 != len(versions) {
		t.Errorf("%s as CSV: expected a column for each of %d versions, got %q", url, len(versions), header)
	}
	for i, d := range want {
		row := rows[i+1]
		got := report.Day{Day: row[0], Instances: parseCount(t, row[1]), Versions: map[string]int64{}}
		for j, v := range header[2:] {
			if n := parseCount(t, row[j+2]); n != 0 {
				got.Versions[v] = n
			}
		}
		if !reflect.DeepEqual(got, d) {
			t.Errorf("%s as CSV: expected %+v, got %+v", url, d, got)
		}
	}
}

// checkSummaryCSV checks the CSV of a summary at url: a row per version, largest first.
func checkSummaryCSV(t *testing.T, url string, want report.Summary) {
	t.Helper()
	rows := getCSV(t, url)
	expected := [][]string{{"version", "instances"}}
	for _, v := range want.Versions {
		expected = append(expected, []string{v.Version, strconv.FormatInt(v.Instances, 10)})
	}
	if !reflect.DeepEqual(rows, expected) {
		t.Errorf("%s as CSV: expected %q, got %q", url, expected, rows)
	}
}

// checkUpgradesCSV checks the CSV of upgrades at url: a row per change, in the JSON's order.
func checkUpgradesCSV(t *testing.T, url string, want []report.Upgrade) {
	t.Helper()
	rows := getCSV(t, url)
	got := map[report.Upgrade]bool{}
	for _, row := range rows[1:] {
		got[report.Upgrade{From: row[0], To: row[1], Instances: parseCount(t, row[2])}] = true
	}
	expected := map[report.Upgrade]bool{}
	for _, u := range want {
		expected[u] = true
	}
	if !slices.Equal(rows[0], []string{"from", "to", "instances"}) || len(rows)-1 != len(want) || !reflect.DeepEqual(got, expected) {
		t.Errorf("%s as CSV: expected %+v, got %q", url, want, rows)
	}
}

// parseCount reads a count of a CSV cell.
func parseCount(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("expected a count, got %q", s)
	}
	return n
}
