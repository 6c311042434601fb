package report_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/http/httptest"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailustats/mailustats/plugin/report"
	"github.com/mailustats/mailustats/plugin/sink"
	"github.com/mailustats/mailustats/plugin/sink/sqlite"
)

// testLog keeps what a handler logs.
type testLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *testLog) Warningf(format string, v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, v...))
}

func (l *testLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// handlerNow is the clock of the handler tests: its 30-day window is 2026-10-24 to 2026-11-22.
var handlerNow = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// The instances of the handler tests.
const (
	instA = "0b7c3d3e-1111-4222-8333-444455556666" // 19, restarted twice
	instB = "1c8d4e4f-2222-4333-9444-555566667777" // 2024.06, once
	instC = "2d9e5f50-3333-4444-a555-666677778888" // 19, then 2024.06
	instD = "3eaf6061-4444-4555-b666-777788889999" // master, first seen before the 30 days
	instE = "4fb07172-5555-4666-8777-88889999aaaa" // 2024.06, twice on one day
	instF = "5ac18283-6666-4777-9888-9999aaaabbbb" // 2.0, then 2024.06
)

var handlerInstances = []string{instA, instB, instC, instD, instE, instF}

// handlerRecords are the announcements of the handler tests, at days and hours before
// handlerNow's day.
var handlerRecords = []sink.Record{
	daysAgo(0, 10, "19", instA),
	daysAgo(5, 9, "19", instA),
	daysAgo(1, 7, "2024.06", instB),
	daysAgo(20, 6, "19", instC),
	daysAgo(3, 18, "2024.06", instC),
	daysAgo(50, 12, "master", instD),
	daysAgo(12, 12, "master", instD),
	daysAgo(0, 8, "2024.06", instE),
	daysAgo(0, 11, "2024.06", instE),
	daysAgo(23, 15, "2.0", instF),
	daysAgo(17, 15, "2024.06", instF),
}

// daysAgo is a record n days before handlerNow's day, at hour UTC.
func daysAgo(n, hour int, version, instance string) sink.Record {
	day := handlerNow.Truncate(24*time.Hour).AddDate(0, 0, -n)
	return sink.Record{Time: day.Add(time.Duration(hour) * time.Hour), Version: version, Instance: instance}
}

func vc(version string, n int64) report.VersionCount {
	return report.VersionCount{Version: version, Instances: n}
}

func up(from, to string, n int64) report.Upgrade {
	return report.Upgrade{From: from, To: to, Instances: n}
}

// handlerStore writes records into a new SQLite database through the sqlite sink, so the
// schema is the sink's, and returns a Store reading it as the server does, through the sink's
// read-only connections, closed when tb ends.
func handlerStore(tb testing.TB, records []sink.Record) *report.Store {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "stats.db")
	o, err := sqlite.Parse([]string{path})
	if err != nil {
		tb.Fatal(err)
	}
	s, err := o.Open()
	if err != nil {
		tb.Fatal(err)
	}
	if err := s.Write(context.Background(), sink.Batch{ID: "seed", Records: records}); err != nil {
		tb.Fatal(err)
	}
	if err := s.Close(); err != nil {
		tb.Fatal(err)
	}
	db, err := o.(interface{ OpenReader() (*sql.DB, error) }).OpenReader()
	if err != nil {
		tb.Fatal(err)
	}
	store := report.NewStore(db, report.SQLite)
	tb.Cleanup(func() { store.Close() })
	return store
}

// startHandler serves the handler over a real listener until tb ends.
func startHandler(tb testing.TB, store *report.Store, now time.Time) *httptest.Server {
	tb.Helper()
	return startHandlerLog(tb, store, now, &testLog{})
}

// startHandlerLog is startHandler with the handler logging to log.
func startHandlerLog(tb testing.TB, store *report.Store, now time.Time, log report.Logger) *httptest.Server {
	tb.Helper()
	ts := httptest.NewServer(report.NewHandler(store, report.Options{Now: func() time.Time { return now }, Log: log}))
	tb.Cleanup(ts.Close)
	return ts
}

// answer is what a test reads of an HTTP response.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// plainClient asks for no compression, nor undoes it: the tests see the bytes sent.
var plainClient = &http.Client{Transport: &http.Transport{DisableCompression: true}}

// request sends a request with no body and reads the answer.
func request(tb testing.TB, method, url string) answer {
	tb.Helper()
	return requestWith(tb, method, url, nil)
}

// requestWith is request with the given request headers.
func requestWith(tb testing.TB, method, url string, headers map[string]string) answer {
	tb.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	for name, value := range headers {
		req.Header.Set(name, value)
	}
	resp, err := plainClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, body}
}

// getJSON GETs url, expects a 200 and decodes the body into v.
func getJSON(tb testing.TB, url string, v any) {
	tb.Helper()
	r := request(tb, http.MethodGet, url)
	if r.status != http.StatusOK {
		tb.Fatalf("GET %s: expected 200, got %d: %s", url, r.status, r.body)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		tb.Fatalf("GET %s: %v in %s", url, err, r.body)
	}
}

// The bodies of the day and upgrade endpoints, as a client reads them.
type (
	daysBody struct {
		From string       `json:"from"`
		To   string       `json:"to"`
		Days []report.Day `json:"days"`
	}
	upgradesBody struct {
		From     string           `json:"from"`
		To       string           `json:"to"`
		Upgrades []report.Upgrade `json:"upgrades"`
	}
)

func TestHandlerSummary(t *testing.T) {
	ts := startHandler(t, handlerStore(t, handlerRecords), handlerNow)
	days30 := report.Window{From: "2026-10-24", To: "2026-11-22"}
	days7 := report.Window{From: "2026-11-16", To: "2026-11-22"}
	days1 := report.Window{From: "2026-11-22", To: "2026-11-22"}
	// Over their whole history, B and E were seen on one day each, the others on two.
	tests := []struct {
		query string
		want  report.Summary
	}{
		{"", report.Summary{Window: days30, MinDays: 1, Instances: 6,
			Versions: []report.VersionCount{vc("2024.06", 4), vc("19", 1), vc("master", 1)}}},
		{"?days=30", report.Summary{Window: days30, MinDays: 1, Instances: 6,
			Versions: []report.VersionCount{vc("2024.06", 4), vc("19", 1), vc("master", 1)}}},
		{"?days=7", report.Summary{Window: days7, MinDays: 1, Instances: 4,
			Versions: []report.VersionCount{vc("2024.06", 3), vc("19", 1)}}},
		{"?days=1", report.Summary{Window: days1, MinDays: 1, Instances: 2,
			Versions: []report.VersionCount{vc("19", 1), vc("2024.06", 1)}}},
		{"?days=90", report.Summary{Window: report.Window{From: "2026-08-25", To: "2026-11-22"}, MinDays: 1, Instances: 6,
			Versions: []report.VersionCount{vc("2024.06", 4), vc("19", 1), vc("master", 1)}}},
		{"?days=3660", report.Summary{Window: report.Window{From: "2016-11-15", To: "2026-11-22"}, MinDays: 1, Instances: 6,
			Versions: []report.VersionCount{vc("2024.06", 4), vc("19", 1), vc("master", 1)}}},
		{"?min_days=1", report.Summary{Window: days30, MinDays: 1, Instances: 6,
			Versions: []report.VersionCount{vc("2024.06", 4), vc("19", 1), vc("master", 1)}}},
		{"?min_days=2", report.Summary{Window: days30, MinDays: 2, Instances: 4,
			Versions: []report.VersionCount{vc("2024.06", 2), vc("19", 1), vc("master", 1)}}},
		{"?days=7&min_days=2", report.Summary{Window: days7, MinDays: 2, Instances: 2,
			Versions: []report.VersionCount{vc("19", 1), vc("2024.06", 1)}}},
		// D's two days are both before the window.
		{"?min_days=2&days=1", report.Summary{Window: days1, MinDays: 2, Instances: 1,
			Versions: []report.VersionCount{vc("19", 1)}}},
		{"?min_days=3", report.Summary{Window: days30, MinDays: 3, Versions: []report.VersionCount{}}},
		{"?days=3660&min_days=3660", report.Summary{Window: report.Window{From: "2016-11-15", To: "2026-11-22"}, MinDays: 3660,
			Versions: []report.VersionCount{}}},
		{"?days=7320&min_days=7320", report.Summary{Window: report.Window{From: "2006-11-08", To: "2026-11-22"}, MinDays: 7320,
			Versions: []report.VersionCount{}}},
		// From D's first day, 50 days ago.
		{"?days=all", report.Summary{Window: report.Window{From: "2026-10-03", To: "2026-11-22"}, MinDays: 1, Instances: 6,
			Versions: []report.VersionCount{vc("2024.06", 4), vc("19", 1), vc("master", 1)}}},
		{"?min_days=2&days=all", report.Summary{Window: report.Window{From: "2026-10-03", To: "2026-11-22"}, MinDays: 2, Instances: 4,
			Versions: []report.VersionCount{vc("2024.06", 2), vc("19", 1), vc("master", 1)}}},
	}
	for _, tc := range tests {
		var got report.Summary
		getJSON(t, ts.URL+"/api/v1/summary"+tc.query, &got)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("summary%s: expected %+v, got %+v", tc.query, tc.want, got)
		}
	}
}

func TestHandlerSummaryEmpty(t *testing.T) {
	ts := startHandler(t, handlerStore(t, nil), handlerNow)
	r := request(t, http.MethodGet, ts.URL+"/api/v1/summary?days=7")
	want := `{"from":"2026-11-16","to":"2026-11-22","min_days":1,"instances":0,"versions":[]}` + "\n"
	if r.status != http.StatusOK || string(r.body) != want {
		t.Errorf("expected 200 %s, got %d %s", want, r.status, r.body)
	}
	r = request(t, http.MethodGet, ts.URL+"/api/v1/summary?days=7&min_days=2")
	want = `{"from":"2026-11-16","to":"2026-11-22","min_days":2,"instances":0,"versions":[]}` + "\n"
	if r.status != http.StatusOK || string(r.body) != want {
		t.Errorf("expected 200 %s, got %d %s", want, r.status, r.body)
	}
	r = request(t, http.MethodGet, ts.URL+"/api/v1/upgrades?days=7")
	want = `{"from":"2026-11-16","to":"2026-11-22","upgrades":[]}` + "\n"
	if r.status != http.StatusOK || string(r.body) != want {
		t.Errorf("expected 200 %s, got %d %s", want, r.status, r.body)
	}
	r = request(t, http.MethodGet, ts.URL+"/api/v1/daily?days=1")
	want = `{"from":"2026-11-22","to":"2026-11-22","days":[{"day":"2026-11-22","instances":0,"versions":{}}]}` + "\n"
	if r.status != http.StatusOK || string(r.body) != want {
		t.Errorf("expected 200 %s, got %d %s", want, r.status, r.body)
	}
	// The whole history of an empty database is today.
	r = request(t, http.MethodGet, ts.URL+"/api/v1/new?days=all")
	if r.status != http.StatusOK || string(r.body) != want {
		t.Errorf("expected 200 %s, got %d %s", want, r.status, r.body)
	}
}

// TestHandlerAllDays checks the window of days=all: from the first day with rows to today, the
// first day alone when it is today, today alone when all rows are later, and no more than the
// longest window when they are older.
func TestHandlerAllDays(t *testing.T) {
	tests := []struct {
		first time.Time
		from  string
	}{
		{handlerNow.AddDate(0, 0, -400), "2025-10-18"},
		{handlerNow, "2026-11-22"},
		{handlerNow.AddDate(0, 0, 3), "2026-11-22"},
		{handlerNow.AddDate(-30, 0, 0), "2006-11-08"},
	}
	for _, tc := range tests {
		ts := startHandler(t, handlerStore(t, []sink.Record{{Time: tc.first, Version: "19", Instance: instA}}), handlerNow)
		for _, path := range []string{"summary", "daily", "new", "upgrades"} {
			var got struct{ From, To string }
			getJSON(t, ts.URL+"/api/v1/"+path+"?days=all", &got)
			if got.From != tc.from || got.To != "2026-11-22" {
				t.Errorf("%s of rows from %v: expected %s to 2026-11-22, got %s to %s", path, tc.first, tc.from, got.From, got.To)
			}
		}
	}
}

// checkDays checks that got covers every day from..to in order, with the counts of want on
// the days it names and nothing on the others.
func checkDays(t *testing.T, name string, got daysBody, from, to string, want map[string]report.Day) {
	t.Helper()
	if got.From != from || got.To != to {
		t.Errorf("%s: expected window %s to %s, got %s to %s", name, from, to, got.From, got.To)
	}
	first, _ := time.Parse(time.DateOnly, from)
	last, _ := time.Parse(time.DateOnly, to)
	n := int(last.Sub(first).Hours()/24) + 1
	if len(got.Days) != n {
		t.Fatalf("%s: expected %d days, got %d", name, n, len(got.Days))
	}
	for i, d := range got.Days {
		day := first.AddDate(0, 0, i).Format(time.DateOnly)
		w, ok := want[day]
		if !ok {
			w = report.Day{Versions: map[string]int64{}}
		}
		w.Day = day
		if !reflect.DeepEqual(d, w) {
			t.Errorf("%s: day %d: expected %+v, got %+v", name, i, w, d)
		}
	}
}

func TestHandlerDaily(t *testing.T) {
	ts := startHandler(t, handlerStore(t, handlerRecords), handlerNow)
	last7 := map[string]report.Day{
		"2026-11-17": {Instances: 1, Versions: map[string]int64{"19": 1}},
		"2026-11-19": {Instances: 1, Versions: map[string]int64{"2024.06": 1}},
		"2026-11-21": {Instances: 1, Versions: map[string]int64{"2024.06": 1}},
		"2026-11-22": {Instances: 2, Versions: map[string]int64{"19": 1, "2024.06": 1}},
	}
	var got daysBody
	getJSON(t, ts.URL+"/api/v1/daily?days=7", &got)
	checkDays(t, "daily?days=7", got, "2026-11-16", "2026-11-22", last7)

	last30 := map[string]report.Day{
		"2026-10-30": {Instances: 1, Versions: map[string]int64{"2.0": 1}},
		"2026-11-02": {Instances: 1, Versions: map[string]int64{"19": 1}},
		"2026-11-05": {Instances: 1, Versions: map[string]int64{"2024.06": 1}},
		"2026-11-10": {Instances: 1, Versions: map[string]int64{"master": 1}},
	}
	for day, d := range last7 {
		last30[day] = d
	}
	for _, query := range []string{"", "?days=30"} {
		got = daysBody{}
		getJSON(t, ts.URL+"/api/v1/daily"+query, &got)
		checkDays(t, "daily"+query, got, "2026-10-24", "2026-11-22", last30)
	}
}

func TestHandlerNew(t *testing.T) {
	ts := startHandler(t, handlerStore(t, handlerRecords), handlerNow)
	// instD is not new: it was first seen 50 days ago. instC and instF are new with their first
	// version, and adopt 2024.06 later without being new instances.
	want := map[string]report.Day{
		"2026-10-30": {Instances: 1, Versions: map[string]int64{"2.0": 1}},
		"2026-11-02": {Instances: 1, Versions: map[string]int64{"19": 1}},
		"2026-11-05": {Instances: 0, Versions: map[string]int64{"2024.06": 1}},
		"2026-11-17": {Instances: 1, Versions: map[string]int64{"19": 1}},
		"2026-11-19": {Instances: 0, Versions: map[string]int64{"2024.06": 1}},
		"2026-11-21": {Instances: 1, Versions: map[string]int64{"2024.06": 1}},
		"2026-11-22": {Instances: 1, Versions: map[string]int64{"2024.06": 1}},
	}
	var got daysBody
	getJSON(t, ts.URL+"/api/v1/new", &got)
	checkDays(t, "new", got, "2026-10-24", "2026-11-22", want)
}

func TestHandlerUpgrades(t *testing.T) {
	ts := startHandler(t, handlerStore(t, handlerRecords), handlerNow)
	tests := []struct {
		query string
		want  upgradesBody
	}{
		{"", upgradesBody{"2026-10-24", "2026-11-22", []report.Upgrade{up("19", "2024.06", 1), up("2.0", "2024.06", 1)}}},
		// Each change is dated by its later row: C's on 11-19, F's on 11-05.
		{"?days=17", upgradesBody{"2026-11-06", "2026-11-22", []report.Upgrade{up("19", "2024.06", 1)}}},
		{"?days=18", upgradesBody{"2026-11-05", "2026-11-22", []report.Upgrade{up("19", "2024.06", 1), up("2.0", "2024.06", 1)}}},
		{"?days=3", upgradesBody{"2026-11-20", "2026-11-22", []report.Upgrade{}}},
		{"?days=4", upgradesBody{"2026-11-19", "2026-11-22", []report.Upgrade{up("19", "2024.06", 1)}}},
		{"?days=all", upgradesBody{"2026-10-03", "2026-11-22", []report.Upgrade{up("19", "2024.06", 1), up("2.0", "2024.06", 1)}}},
	}
	for _, tc := range tests {
		var got upgradesBody
		getJSON(t, ts.URL+"/api/v1/upgrades"+tc.query, &got)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("upgrades%s: expected %+v, got %+v", tc.query, tc.want, got)
		}
	}
}

// checkError checks an error response: status, a JSON {"error"} body, never cached.
func checkError(t *testing.T, name string, r answer, status int) {
	t.Helper()
	if r.status != status {
		t.Errorf("%s: expected status %d, got %d: %s", name, status, r.status, r.body)
	}
	if got := r.header.Get("Content-Type"); got != "application/json; charset=utf-8" {
		t.Errorf("%s: expected a JSON Content-Type, got %q", name, got)
	}
	if got := r.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("%s: expected Cache-Control no-store, got %q", name, got)
	}
	if got := r.header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("%s: expected X-Content-Type-Options nosniff, got %q", name, got)
	}
	var body map[string]string
	if err := json.Unmarshal(r.body, &body); err != nil || len(body) != 1 || body["error"] == "" {
		t.Errorf(`%s: expected {"error": "..."}, got %s (%v)`, name, r.body, err)
	}
}

func TestHandlerBadDays(t *testing.T) {
	ts := startHandler(t, handlerStore(t, handlerRecords), handlerNow)
	bad := []string{
		"days=", "days=abc", "days=0", "days=-1", "days=-0", "days=+7", "days=7321", "days=10000",
		"days=99999999999999999999", "days=7.5", "days=1e3", "days=0x10", "days=%207", "days=7%20",
		"days=7&days=7", "days", "days=%E2%80%8B7", "days=ALL", "days=al", "days=all&days=all",
		"days=all&days=7", "days=%20all",
	}
	for _, path := range []string{"summary", "daily", "new", "upgrades"} {
		for _, q := range bad {
			url := ts.URL + "/api/v1/" + path + "?" + q
			r := request(t, http.MethodGet, url)
			checkError(t, path+"?"+q, r, http.StatusBadRequest)
			if !strings.Contains(string(r.body), "days") {
				t.Errorf("%s?%s: expected the error to name days, got %s", path, q, r.body)
			}
		}
	}
}

func TestHandlerBadMinDays(t *testing.T) {
	ts := startHandler(t, handlerStore(t, handlerRecords), handlerNow)
	bad := []string{
		"min_days=", "min_days=abc", "min_days=0", "min_days=-1", "min_days=-0", "min_days=+2",
		"min_days=7321", "min_days=10000", "min_days=all", "min_days=99999999999999999999", "min_days=2.5",
		"min_days=1e3", "min_days=0x10", "min_days=%202", "min_days=2%20", "min_days=2&min_days=2",
		"min_days=2&min_days=3", "min_days", "min_days=%E2%80%8B2", "days=7&min_days=0",
	}
	for _, q := range bad {
		r := request(t, http.MethodGet, ts.URL+"/api/v1/summary?"+q)
		checkError(t, "summary?"+q, r, http.StatusBadRequest)
		if !strings.Contains(string(r.body), "min_days") {
			t.Errorf("summary?%s: expected the error to name min_days, got %s", q, r.body)
		}
	}
	r := request(t, http.MethodGet, ts.URL+"/api/v1/summary?min_days=0")
	if want := `{"error":"min_days must be a whole number from 1 to 7320"}` + "\n"; string(r.body) != want {
		t.Errorf("expected %s, got %s", want, r.body)
	}
	r = request(t, http.MethodGet, ts.URL+"/api/v1/summary?min_days=2&min_days=2")
	if want := `{"error":"min_days must be given once"}` + "\n"; string(r.body) != want {
		t.Errorf("expected %s, got %s", want, r.body)
	}
	// A good min_days does not make a bad days good.
	r = request(t, http.MethodGet, ts.URL+"/api/v1/summary?min_days=2&days=0")
	checkError(t, "summary?min_days=2&days=0", r, http.StatusBadRequest)
	if !strings.Contains(string(r.body), "days must be") || strings.Contains(string(r.body), "min_days") {
		t.Errorf("expected the error to be about days, got %s", r.body)
	}
}

func TestHandlerNotFound(t *testing.T) {
	ts := startHandler(t, handlerStore(t, handlerRecords), handlerNow)
	for _, path := range []string{
		"/api/v1/", "/api/v1/nope", "/api/v1/summary/", "/api/v2/summary", "/api/v1/SUMMARY",
		"/index.html", "/favicon.ico", "/api/v1/summary.json", "//api/v1/summary",
	} {
		checkError(t, "GET "+path, request(t, http.MethodGet, ts.URL+path), http.StatusNotFound)
	}
	checkError(t, "POST /nope", request(t, http.MethodPost, ts.URL+"/nope"), http.StatusNotFound)
}

func TestHandlerMethodNotAllowed(t *testing.T) {
	ts := startHandler(t, handlerStore(t, handlerRecords), handlerNow)
	for _, path := range []string{"/", "/api/v1/summary", "/api/v1/daily", "/api/v1/new", "/api/v1/upgrades"} {
		for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions} {
			r := request(t, method, ts.URL+path+"?days=7")
			checkError(t, method+" "+path, r, http.StatusMethodNotAllowed)
			if got := r.header.Get("Allow"); got != "GET, HEAD" {
				t.Errorf("%s %s: expected Allow: GET, HEAD, got %q", method, path, got)
			}
		}
	}
}

func TestHandlerDatabaseError(t *testing.T) {
	store := handlerStore(t, handlerRecords)
	log := &testLog{}
	ts := startHandlerLog(t, store, handlerNow, log)
	store.Close()
	for _, path := range []string{"summary", "daily", "new", "upgrades"} {
		r := request(t, http.MethodGet, ts.URL+"/api/v1/"+path)
		checkError(t, path, r, http.StatusServiceUnavailable)
		if strings.Contains(string(r.body), "closed") || strings.Contains(string(r.body), "sql") {
			t.Errorf("%s: expected the database's error kept out of the answer, got %s", path, r.body)
		}
		if !strings.Contains(log.String(), "/api/v1/"+path+": "+path+": sql: database is closed") {
			t.Errorf("%s: expected the database's error logged, got %q", path, log.String())
		}
	}
}

func TestHandlerHeaders(t *testing.T) {
	ts := startHandler(t, handlerStore(t, handlerRecords), handlerNow)
	for _, path := range []string{"summary", "daily", "new", "upgrades"} {
		url := ts.URL + "/api/v1/" + path + "?days=7"
		get := request(t, http.MethodGet, url)
		for name, want := range map[string]string{
			"Content-Type":            "application/json; charset=utf-8",
			"Cache-Control":           "public, max-age=60",
			"X-Content-Type-Options":  "nosniff",
			"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
			"Content-Length":          strconv.Itoa(len(get.body)),
		} {
			if got := get.header.Get(name); got != want {
				t.Errorf("GET %s: expected %s %q, got %q", path, name, want, got)
			}
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(get.body, &obj); err != nil {
			t.Errorf("GET %s: expected a JSON object, got %s", path, get.body)
		}

		head := request(t, http.MethodHead, url)
		if head.status != http.StatusOK || len(head.body) != 0 {
			t.Errorf("HEAD %s: expected 200 and no body, got %d and %q", path, head.status, head.body)
		}
		for _, name := range []string{"Content-Type", "Cache-Control", "Content-Length"} {
			if got, want := head.header.Get(name), get.header.Get(name); got != want {
				t.Errorf("HEAD %s: expected %s %q as for GET, got %q", path, name, want, got)
			}
		}
	}
}

// inlineElement matches the page's inline script and style: opened with no attribute.
var inlineElement = regexp.MustCompile(`(?s)<(script|style)>(.*?)</(?:script|style)>`)

// urlAttribute matches an attribute of the markup that names something to load or go to.
var urlAttribute = regexp.MustCompile(`(?i)\s(src|href|action|formaction|srcset|poster|data|background)\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)`)

func TestHandlerPage(t *testing.T) {
	ts := startHandler(t, handlerStore(t, handlerRecords), handlerNow)
	r := request(t, http.MethodGet, ts.URL+"/")
	if r.status != http.StatusOK {
		t.Fatalf("expected 200, got %d", r.status)
	}
	for name, want := range map[string]string{
		"Content-Type":           "text/html; charset=utf-8",
		"Cache-Control":          "public, max-age=300",
		"X-Content-Type-Options": "nosniff",
		"Content-Length":         strconv.Itoa(len(r.body)),
	} {
		if got := r.header.Get(name); got != want {
			t.Errorf("expected %s %q, got %q", name, want, got)
		}
	}
	page := string(r.body)
	for _, want := range []string{`<html lang="en">`, `<meta name="viewport"`, "<title>Mailu instances by version</title>", "<h1>",
		`<th scope="col">`, `id="trend-chart" class="chart" role="img"`, `name="range"`, "<details>"} {
		if !strings.Contains(page, want) {
			t.Errorf("expected the page to hold %q", want)
		}
	}

	// The policy allows the page's own inline script and style, by hash, and its own origin's
	// assets, and no other source.
	csp := r.header.Get("Content-Security-Policy")
	directives := map[string]string{}
	for _, d := range strings.Split(csp, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		directives[name] = value
	}
	found := inlineElement.FindAllStringSubmatch(page, -1)
	if len(found) != 2 || found[0][1] == found[1][1] {
		t.Fatalf("expected one inline style and one inline script, got %d", len(found))
	}
	for _, m := range found {
		sum := sha256.Sum256([]byte(m[2]))
		want := "'self' 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
		if got := directives[m[1]+"-src"]; got != want {
			t.Errorf("expected %s-src %s, got %q", m[1], want, got)
		}
	}
	for name, want := range map[string]string{
		"default-src": "'none'", "connect-src": "'self'", "img-src": "'self' data:",
		"base-uri": "'none'", "form-action": "'none'", "frame-ancestors": "'none'",
	} {
		if got := directives[name]; got != want {
			t.Errorf("expected %s %s, got %q in %q", name, want, got, csp)
		}
	}
	sources := regexp.MustCompile(`'sha256-[A-Za-z0-9+/]+={0,2}'`).ReplaceAllString(csp, "") // base64 may hold "//"
	for _, no := range []string{"unsafe", "http:", "https:", "*", "//"} {
		if strings.Contains(sources, no) {
			t.Errorf("expected no %q in the policy, got %q", no, csp)
		}
	}

	// The markup loads the assets from the page's own origin and nothing else; it holds no
	// other element that loads something, no event handler and no style attribute.
	markup := inlineElement.ReplaceAllString(page, "")
	forbidden := regexp.MustCompile(`(?i)<(iframe|object|embed|img|style|base|form|frame|audio|video|source)\b|\son[a-z]+\s*=|\sstyle\s*=`)
	if m := forbidden.FindString(markup); m != "" {
		t.Errorf("expected no %q in the markup", m)
	}
	if n, loaded := strings.Count(strings.ToLower(markup), "<script"), strings.Count(markup, `<script src="/assets/`); n != loaded {
		t.Errorf("expected every script of the markup to be an asset, got %d scripts and %d assets", n, loaded)
	}
	assets := map[string]string{} // path -> the media type it must be served with
	for _, m := range urlAttribute.FindAllStringSubmatch(markup, -1) {
		value := strings.Trim(m[2], `"'`)
		switch {
		case value == "data:," && strings.EqualFold(m[1], "href"): // the empty icon, which spares a request
		case strings.HasPrefix(value, "/assets/") && !strings.Contains(value, ".."):
			assets[value] = map[string]string{".js": "text/javascript", ".css": "text/css"}[path.Ext(value)]
		default:
			t.Errorf("expected the markup to load only the assets of its origin, found %s", m[0])
		}
	}
	if len(assets) != 2 {
		t.Errorf("expected the markup to load uPlot's script and style, got %q", slices.Sorted(maps.Keys(assets)))
	}
	for _, no := range []string{"http:", "https:", "//cdn", "@import", "url(", "fonts."} {
		if strings.Contains(page, no) {
			t.Errorf("expected no %q anywhere in the page", no)
		}
	}

	// Each asset is served with its media type, compressed for clients that accept it.
	for p, want := range assets {
		a := request(t, http.MethodGet, ts.URL+p)
		media, _, err := mime.ParseMediaType(a.header.Get("Content-Type"))
		if a.status != http.StatusOK || err != nil || media != want || len(a.body) < 1024 ||
			a.header.Get("Cache-Control") != "public, max-age=300" || a.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: expected 200, %s, cached, %d bytes, got %d, %q, %q", p, want, len(a.body), a.status,
				a.header.Get("Content-Type"), a.header.Get("Cache-Control"))
		}
		gz := requestWith(t, http.MethodGet, ts.URL+p, map[string]string{"Accept-Encoding": "gzip"})
		if gz.header.Get("Content-Encoding") != "gzip" || !bytes.Equal(gunzip(t, gz.body), a.body) {
			t.Errorf("GET %s with Accept-Encoding gzip: expected it compressed, got %q", p, gz.header.Get("Content-Encoding"))
		}
	}
	for _, p := range []string{"/assets/", "/assets/uplot/", "/assets/uplot/VERSION", "/assets/uplot/nope.js", "/assets/../page.html"} {
		if a := request(t, http.MethodGet, ts.URL+p); a.status != http.StatusNotFound {
			t.Errorf("GET %s: expected 404, got %d", p, a.status)
		}
	}

	head := request(t, http.MethodHead, ts.URL+"/")
	if head.status != http.StatusOK || len(head.body) != 0 || head.header.Get("Content-Type") != "text/html; charset=utf-8" ||
		head.header.Get("Content-Security-Policy") != csp {
		t.Errorf("HEAD /: expected 200, the page's headers and no body, got %d %v %q", head.status, head.header, head.body)
	}
	// The page ignores the query; its script reads the view from it.
	if r := request(t, http.MethodGet, ts.URL+"/?range=1y&window=7"); r.status != http.StatusOK || string(r.body) != page {
		t.Errorf("GET /?range=1y&window=7: expected the page, got %d", r.status)
	}
}

// instanceID matches anything that looks like an instance ID.
var instanceID = regexp.MustCompile(`(?i)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

func TestHandlerNoInstanceInAnyResponse(t *testing.T) {
	ts := startHandler(t, handlerStore(t, handlerRecords), handlerNow)
	var paths []string
	for _, p := range []string{"summary", "daily", "new", "upgrades"} {
		for _, q := range []string{"", "?days=1", "?days=7", "?days=90", "?days=3660", "?days=all", "?days=0", "?days=" + instA, "?min_days=2", "?min_days=" + instA} {
			paths = append(paths, "/api/v1/"+p+q)
		}
	}
	paths = append(paths, "/", "/nope", "/api/v1/"+instA)
	for _, path := range paths {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			r := request(t, method, ts.URL+path)
			if m := instanceID.Find(r.body); m != nil {
				t.Errorf("%s %s: expected no instance ID in the answer, found %s", method, path, m)
			}
			for _, id := range handlerInstances {
				if strings.Contains(strings.ToLower(string(r.body)), id) {
					t.Errorf("%s %s: the answer holds instance %s", method, path, id)
				}
			}
		}
	}
}

func TestHandlerDefaultClock(t *testing.T) {
	ts := httptest.NewServer(report.NewHandler(handlerStore(t, nil), report.Options{Log: &testLog{}}))
	defer ts.Close()
	before := report.LastDays(time.Now(), 2)
	var got report.Summary
	getJSON(t, ts.URL+"/api/v1/summary?days=2", &got)
	if after := report.LastDays(time.Now(), 2); got.Window != before && got.Window != after {
		t.Errorf("expected the window %+v of time.Now, got %+v", after, got.Window)
	}
}
