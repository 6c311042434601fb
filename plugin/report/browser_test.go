package report_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/mailustats/mailustats/plugin/report"
	"github.com/mailustats/mailustats/plugin/sink"
)

// chromium is Debian's browser, which scripts/deps.sh installs.
const chromium = "/usr/bin/chromium"

// Bounds of the browser test: the whole browser session, and each step in it.
const (
	browserTimeout = 60 * time.Second
	stepTimeout    = 15 * time.Second
)

// browserNow is the clock of the browser test.
var browserNow = time.Date(2026, 11, 22, 15, 0, 0, 0, time.UTC)

// browserRecords are the announcements of 80 made-up instances over the 100 days before
// browserNow: a few versions, restarts every few days, some upgrades, some gone.
func browserRecords() []sink.Record {
	rng := rand.New(rand.NewPCG(2026, 11))
	versions := []string{"2024.06", "2024.06", "2024.06", "2024.06", "2.0", "2.0", "2.0", "1.9", "1.9", "master"}
	today := browserNow.Truncate(24 * time.Hour)
	var records []sink.Record
	for range 80 {
		id := fmt.Sprintf("%08x-%04x-4%03x-%x%03x-%012x", rng.Uint32(), rng.IntN(1<<16), rng.IntN(1<<12),
			8+rng.IntN(4), rng.IntN(1<<12), rng.Uint64()&(1<<48-1))
		version := versions[rng.IntN(len(versions))]
		next, upgradeAgo := "", -1
		switch {
		case version == "2.0" && rng.IntN(2) == 0:
			next, upgradeAgo = "2024.06", rng.IntN(40)
		case version == "1.9" && rng.IntN(2) == 0:
			next, upgradeAgo = "2.0", rng.IntN(60)
		}
		gone := 0 // some stopped announcing a while ago, so 90 days count more than 30
		if rng.IntN(5) == 0 {
			gone = 30 + rng.IntN(60)
		}
		every := 2 + rng.IntN(10)
		for ago := gone + rng.IntN(every); ago < 100; ago += every {
			v := version
			if ago <= upgradeAgo {
				v = next
			}
			at := today.AddDate(0, 0, -ago).Add(time.Duration(rng.IntN(86400)) * time.Second)
			if at.After(browserNow) {
				at = browserNow
			}
			records = append(records, sink.Record{Time: at, Version: v, Instance: id})
		}
	}
	return records
}

// viewport is a screen the page is checked on.
type viewport struct {
	name          string
	width, height int64
	scale         float64
	mobile        bool
}

// rendered is what the page shows, read from its DOM.
type rendered struct {
	Ready    string     `json:"ready"`
	Checked  string     `json:"checked"`
	Search   string     `json:"search"`
	Rows     [][]string `json:"rows"`
	Total    string     `json:"total"`
	Upgrades [][]string `json:"upgrades"`
	Series   []struct {
		Version string `json:"version"`
		Fill    string `json:"fill"`
		Bars    []struct {
			Day    string  `json:"day"`
			Count  int64   `json:"count"`
			Height float64 `json:"height"`
		} `json:"bars"`
	} `json:"series"`
	ChartTitle string  `json:"chartTitle"`
	ChartLabel string  `json:"chartLabel"`
	ChartRole  string  `json:"chartRole"`
	Legend     int     `json:"legend"`
	Overflow   float64 `json:"overflow"`
	ChartWidth float64 `json:"chartWidth"`
	BoxWidth   float64 `json:"boxWidth"`
}

// readPage reads the page's state from its DOM.
const readPage = `(() => {
	const svg = document.querySelector("#chart svg");
	const cells = (tr) => [...tr.cells].map((c) => c.textContent.trim());
	return {
		ready: document.body.dataset.ready || "",
		checked: document.querySelector("input[name=days]:checked").value,
		search: location.search,
		rows: [...document.querySelectorAll("#versions tbody tr")].filter((tr) => !tr.querySelector(".empty")).map(cells),
		total: document.getElementById("versions-total").textContent,
		upgrades: [...document.querySelectorAll("#upgrades tbody tr")].filter((tr) => !tr.querySelector(".empty")).map(cells),
		series: [...svg.querySelectorAll("g.series")].map((g) => ({
			version: g.dataset.version,
			fill: g.getAttribute("fill"),
			bars: [...g.querySelectorAll("rect")].map((r) => ({
				day: r.dataset.day, count: Number(r.dataset.count), height: Number(r.getAttribute("height")),
			})),
		})),
		chartTitle: svg.querySelector("title").textContent,
		chartLabel: svg.getAttribute("aria-label") || "",
		chartRole: svg.getAttribute("role") || "",
		legend: document.querySelectorAll("#legend li").length,
		overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
		chartWidth: svg.getBoundingClientRect().width,
		boxWidth: document.getElementById("chart").getBoundingClientRect().width,
	};
})()`

func TestBrowserPage(t *testing.T) {
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing: run scripts/deps.sh", chromium)
		}
		t.Skipf("%s is missing (scripts/deps.sh installs it)", chromium)
	}
	store := handlerStore(t, browserRecords())
	ts := startHandler(t, store, browserNow) // httptest listens on 127.0.0.1

	dir := os.Getenv("MAILUSTATS_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}

	// The whole session is bounded; the browser is started here, outside every step's
	// timeout, since chromedp ties the browser's life to the context that starts it.
	session, cancelSession := context.WithTimeout(context.Background(), browserTimeout)
	t.Cleanup(cancelSession)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(session,
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox, // tests run as root in containers, where the sandbox cannot start
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("mute-audio", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	t.Cleanup(cancelAlloc)
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("starting %s: %v", chromium, err)
	}

	fills := map[string]string{} // the colour of each version, the same everywhere
	for _, vp := range []viewport{
		{name: "phone", width: 390, height: 844, scale: 2, mobile: true},
		{name: "desktop", width: 1280, height: 800, scale: 1},
	} {
		t.Run(vp.name, func(t *testing.T) { checkBrowser(t, browser, ts, vp, dir, fills) })
	}
}

// checkBrowser opens the page in a new tab at vp, checks it against the API for 30 days and,
// after a click, for 7, and saves screenshots.
func checkBrowser(t *testing.T, browser context.Context, ts *httptest.Server, vp viewport, dir string, fills map[string]string) {
	tab, cancel := chromedp.NewContext(browser)
	defer cancel()

	// Every request, exception and console or browser-log error of the tab, such as a
	// blocked inlineElement script.
	var (
		mu       sync.Mutex
		requests []string
		problems []string
	)
	if err := chromedp.Listen(tab, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			requests = append(requests, ev.Request.URL)
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+ev.ExceptionDetails.Text)
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
				problems = append(problems, "console "+string(ev.Type))
			}
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError || ev.Entry.Level == log.EntryLevelWarning {
				problems = append(problems, "log: "+ev.Entry.Text)
			}
		}
	}); err != nil {
		t.Fatal(err)
	}

	step := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		ctx, cancel := context.WithTimeout(tab, stepTimeout)
		defer cancel()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	read := func() rendered {
		t.Helper()
		ctx, cancel := context.WithTimeout(tab, stepTimeout)
		defer cancel()
		r, err := chromedp.Run(ctx, chromedp.Evaluate[rendered](readPage))
		if err != nil {
			t.Fatalf("reading the page: %v", err)
		}
		return r
	}
	shoot := func(days int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(tab, stepTimeout)
		defer cancel()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		path := filepath.Join(dir, fmt.Sprintf("report-%s-%dd.png", vp.name, days))
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", path)
	}
	drawn := chromedp.CSS(`body[data-ready]`)

	var opts []chromedp.EmulateViewportOption
	opts = append(opts, chromedp.EmulateScale(vp.scale))
	if vp.mobile {
		opts = append(opts, chromedp.EmulateMobile)
	}
	step("load",
		chromedp.EmulateViewport(vp.width, vp.height, opts...),
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitReady(drawn),
		chromedp.WaitVisible(chromedp.CSS("#chart svg")),
		chromedp.WaitVisible(chromedp.CSS("#versions tbody tr")),
	)
	got := read()
	checkRendered(t, ts, got, 30, vp, fills)
	shoot(30)

	step("choose 7 days",
		chromedp.Click(chromedp.CSS(`label[for="days-7"]`)),
		chromedp.WaitReady(chromedp.CSS(`body[data-ready="7"], body[data-ready="error"]`)),
	)
	got = read()
	checkRendered(t, ts, got, 7, vp, fills)
	if got.Search != "?days=7" {
		t.Errorf("expected the address to keep ?days=7, got %q", got.Search)
	}
	shoot(7)

	// The address chooses the window too.
	step("load 90 days",
		chromedp.Navigate(ts.URL+"/?days=90"),
		chromedp.WaitReady(drawn),
	)
	checkRendered(t, ts, read(), 90, vp, fills)

	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Errorf("expected no errors in the page, got %s", p)
	}
	allowed := regexp.MustCompile(`^/(\?days=(7|30|90))?$|^/api/v1/(summary|daily|upgrades)\?days=(7|30|90)$`)
	for _, u := range requests {
		parsed, err := url.Parse(u)
		if err != nil || parsed.Scheme+"://"+parsed.Host != ts.URL || !allowed.MatchString(parsed.RequestURI()) {
			t.Errorf("expected requests only to the page and its API, got %s", u)
		}
		if instanceID.MatchString(u) {
			t.Errorf("expected no instance ID in a request, got %s", u)
		}
	}
	if len(requests) < 1+3*3 {
		t.Errorf("expected the page and three API calls per window, got %q", requests)
	}
}

// checkRendered compares what the page shows with what the API answers for days.
func checkRendered(t *testing.T, ts *httptest.Server, got rendered, days int, vp viewport, fills map[string]string) {
	t.Helper()
	if got.Ready != strconv.Itoa(days) {
		t.Fatalf("%s, %d days: expected the page drawn for %d days, got ready=%q", vp.name, days, days, got.Ready)
	}
	if got.Checked != strconv.Itoa(days) {
		t.Errorf("%s, %d days: expected the %d-day choice checked, got %s", vp.name, days, days, got.Checked)
	}
	q := "?days=" + strconv.Itoa(days)
	var summary report.Summary
	getJSON(t, ts.URL+"/api/v1/summary"+q, &summary)
	var daily daysBody
	getJSON(t, ts.URL+"/api/v1/daily"+q, &daily)
	var upgrades upgradesBody
	getJSON(t, ts.URL+"/api/v1/upgrades"+q, &upgrades)
	if summary.Instances == 0 || len(summary.Versions) < 2 {
		t.Fatalf("%d days: expected several versions in the test data, got %+v", days, summary)
	}

	// The table: one row per version, in the API's order, with its count and its share to
	// one decimal (JavaScript and Go round a half differently).
	var want, rows [][]string
	for i, vc := range summary.Versions {
		want = append(want, []string{vc.Version, strconv.FormatInt(vc.Instances, 10)})
		if i >= len(got.Rows) || len(got.Rows[i]) != 3 {
			continue
		}
		r := got.Rows[i]
		rows = append(rows, []string{r[0], digits(r[1])})
		share := 100 * float64(vc.Instances) / float64(summary.Instances)
		pct, err := strconv.ParseFloat(strings.TrimSuffix(r[2], "%"), 64)
		if err != nil || !strings.HasSuffix(r[2], "%") || math.Abs(pct-share) > 0.0501 || len(r[2]) != len(fmt.Sprintf("%.1f%%", share)) {
			t.Errorf("%s, %d days: %s: expected the share %.1f%%, got %q", vp.name, days, vc.Version, share, r[2])
		}
	}
	if len(got.Rows) != len(summary.Versions) || !reflect.DeepEqual(rows, want) {
		t.Errorf("%s, %d days: expected the table %q, got %q", vp.name, days, want, got.Rows)
	}
	if digits(got.Total) != strconv.FormatInt(summary.Instances, 10) {
		t.Errorf("%s, %d days: expected the total %d, got %q", vp.name, days, summary.Instances, got.Total)
	}

	// The chart: one series per version of the days, each with one bar per day it has.
	perVersion := map[string]map[string]int64{}
	for _, d := range daily.Days {
		for v, n := range d.Versions {
			if n > 0 {
				if perVersion[v] == nil {
					perVersion[v] = map[string]int64{}
				}
				perVersion[v][d.Day] = n
			}
		}
	}
	if len(got.Series) != len(perVersion) || got.Legend != len(perVersion) {
		t.Errorf("%s, %d days: expected %d series and legend entries, got %d and %d",
			vp.name, days, len(perVersion), len(got.Series), got.Legend)
	}
	for _, s := range got.Series {
		bars := map[string]int64{}
		for _, b := range s.Bars {
			if b.Height <= 0 {
				t.Errorf("%s, %d days: %s on %s: expected a visible bar, got height %v", vp.name, days, s.Version, b.Day, b.Height)
			}
			bars[b.Day] += b.Count
		}
		if !reflect.DeepEqual(bars, perVersion[s.Version]) {
			t.Errorf("%s, %d days: series %s: expected %v, got %v", vp.name, days, s.Version, perVersion[s.Version], bars)
		}
		if f, ok := fills[s.Version]; ok && f != s.Fill {
			t.Errorf("%s, %d days: expected %s in %s as before, got %s", vp.name, days, s.Version, f, s.Fill)
		}
		fills[s.Version] = s.Fill
	}
	if got.ChartRole != "img" || got.ChartLabel == "" || !strings.Contains(got.ChartTitle, summary.From) {
		t.Errorf("%s, %d days: expected an image labelled with its window, got role %q, label %q, title %q",
			vp.name, days, got.ChartRole, got.ChartLabel, got.ChartTitle)
	}

	var wantUpgrades [][]string
	for _, u := range upgrades.Upgrades {
		wantUpgrades = append(wantUpgrades, []string{u.From, u.To, strconv.FormatInt(u.Instances, 10)})
	}
	gotUpgrades := make([][]string, len(got.Upgrades))
	for i, r := range got.Upgrades {
		gotUpgrades[i] = slices.Clone(r)
		if len(r) == 3 {
			gotUpgrades[i][2] = digits(r[2])
		}
	}
	if len(wantUpgrades) != 0 || len(gotUpgrades) != 0 {
		if !reflect.DeepEqual(gotUpgrades, wantUpgrades) {
			t.Errorf("%s, %d days: expected the upgrades %q, got %q", vp.name, days, wantUpgrades, got.Upgrades)
		}
	}

	// Fits the screen: no sideways scrolling, and the chart as wide as its box.
	if got.Overflow > 0 {
		t.Errorf("%s, %d days: expected no horizontal scrolling, the page is %vpx too wide", vp.name, days, got.Overflow)
	}
	if got.ChartWidth < got.BoxWidth-1 || got.ChartWidth > got.BoxWidth+1 {
		t.Errorf("%s, %d days: expected the chart %vpx wide as its box, got %vpx", vp.name, days, got.BoxWidth, got.ChartWidth)
	}
}

// digits keeps the digits of a formatted number such as "1,234".
func digits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}
