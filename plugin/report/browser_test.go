package report_test

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/mailustats/mailustats/internal/testutil/population"
	"github.com/mailustats/mailustats/plugin/qname"
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

// maxSeries is the most series a stacked chart of the page draws: the largest versions, and
// the others summed as one.
const maxSeries = 8

// otherShare is the most the other versions summed hold of a stacked chart's last day, as long
// as maxSeries allow.
const otherShare = 0.1

// browserPopulation is the history of the browser test: 300 instances over three years that
// install at a growing rate, adopt releases some time after they come out, go back to older
// ones now and then, fall silent for a year and go away (see population).
var browserPopulation = population.Benchmark(300, 3)

// browserNow is the clock of the browser test: the afternoon of the population's last day.
var browserNow = browserPopulation.End().Add(15 * time.Hour)

// browserAfterRelease is the clock of the browser test's second history, cut seven weeks
// before the end: a few weeks after a release came out, when it runs on many instances but
// is small over all history.
var browserAfterRelease = browserNow.AddDate(0, 0, -49)

// browserRecords are the records of browserPopulation up to the day of now, each with its
// version as Mailu announces it (see labelVersion).
func browserRecords(tb testing.TB, now time.Time) []sink.Record {
	tb.Helper()
	end := now.Truncate(24*time.Hour).AddDate(0, 0, 1)
	var records []sink.Record
	for r := range browserPopulation.Records() {
		if !r.Time.Before(end) {
			break
		}
		r.Version = labelVersion(r.Version)
		if v, ok := qname.ParseVersion(r.Version); !ok || v.String() != r.Version {
			tb.Fatalf("expected a version label for %q, got %q", r.Version, v)
		}
		records = append(records, r)
	}
	return records
}

// labelVersion is a version of the population as a Mailu release announces it, in one DNS
// label: its release, without the patch or the dots ("1.9" as "19", "2024.06.3" as "202406");
// "master" as it is.
func labelVersion(v string) string {
	parts := strings.Split(v, ".")
	return strings.Join(parts[:min(2, len(parts))], "")
}

// viewport is a screen the page is checked on.
type viewport struct {
	name          string
	width, height int64
	scale         float64
	mobile        bool
}

// pageView is a view of the page: its range and window, as in its address.
type pageView struct {
	rng    string // 90d, 1y or all
	window int
}

// days and step are the API's parameters for the view's range.
func (v pageView) days() string {
	return map[string]string{"90d": "90", "1y": "365", "all": "all"}[v.rng]
}
func (v pageView) step() int { return map[string]int{"90d": 1, "1y": 1, "all": 7}[v.rng] }

// ready is the page's body[data-ready] once it has drawn the view.
func (v pageView) ready() string { return v.rng + "/" + strconv.Itoa(v.window) }

// Shapes of what the page shows, read from its DOM by readPage.
type (
	pageReadoutRow struct {
		Version string `json:"version"` // empty for the other versions
		Other   bool   `json:"other"`
		Count   string `json:"count"`
		Share   string `json:"share"`
		Colour  string `json:"colour"`
	}
	pageReadout struct {
		Day   string           `json:"day"`
		Total string           `json:"total"`
		Rows  []pageReadoutRow `json:"rows"`
	}
	pageChart struct {
		Series    int         `json:"series"`
		From      string      `json:"from"`
		To        string      `json:"to"`
		Role      string      `json:"role"`
		Label     string      `json:"label"`
		Canvases  int         `json:"canvases"`
		BoxWidth  float64     `json:"boxWidth"`
		PlotWidth float64     `json:"plotWidth"`
		Readout   pageReadout `json:"readout"`
		Head      []string    `json:"head"`
		Rows      [][]string  `json:"rows"`
	}
	pageMore struct {
		Hidden bool   `json:"hidden"`
		Text   string `json:"text"`
	}
	pageLink struct {
		Href     string `json:"href"`
		Download bool   `json:"download"`
	}
	rendered struct {
		Ready         string              `json:"ready"`
		Search        string              `json:"search"`
		Checked       []string            `json:"checked"`
		Trend         pageChart           `json:"trend"`
		New           pageChart           `json:"new"`
		Daily         pageChart           `json:"daily"`
		Versions      [][]string          `json:"versions"`
		VersionsTotal string              `json:"versionsTotal"`
		VersionsMore  pageMore            `json:"versionsMore"`
		Upgrades      [][]string          `json:"upgrades"`
		UpgradesMore  pageMore            `json:"upgradesMore"`
		Links         map[string]pageLink `json:"links"`
		Overflow      float64             `json:"overflow"`
	}
)

// readPage reads the page's state from its DOM.
const readPage = `(() => {
	const text = (e) => (e ? e.textContent.trim() : "");
	const cells = (tr) => [...tr.cells].map(text);
	const rows = (id) => [...document.querySelectorAll("#" + id + " tbody tr")].filter((tr) => !tr.querySelector(".empty")).map(cells);
	const more = (id) => { const b = document.getElementById(id + "-more"); return { hidden: b.hidden, text: text(b) }; };
	const readout = (id) => {
		const r = document.getElementById(id + "-readout");
		return {
			day: r.dataset.day || "",
			total: text(r.querySelector(".total")),
			rows: [...r.querySelectorAll("li")].map((li) => ({
				version: li.dataset.version || "", other: li.classList.contains("other"),
				count: text(li.querySelector(".count")), share: text(li.querySelector(".share")),
				colour: li.querySelector(".swatch").style.background,
			})),
		};
	};
	const chart = (id) => {
		const box = document.getElementById(id + "-chart"), plot = box.querySelector(".uplot");
		const table = document.getElementById(id + "-table");
		return {
			series: Number(box.dataset.series), from: box.dataset.from || "", to: box.dataset.to || "",
			role: box.getAttribute("role") || "", label: box.getAttribute("aria-label") || "",
			canvases: box.querySelectorAll("canvas").length,
			boxWidth: box.getBoundingClientRect().width, plotWidth: plot ? plot.getBoundingClientRect().width : 0,
			readout: readout(id),
			head: [...table.tHead.querySelectorAll("th")].map(text),
			rows: [...table.tBodies[0].rows].map(cells),
		};
	};
	const link = (id) => { const a = document.getElementById(id); return { href: a.getAttribute("href") || "", download: a.hasAttribute("download") }; };
	return {
		ready: document.body.dataset.ready || "",
		search: location.search,
		checked: [...document.querySelectorAll(".controls input:checked")].map((i) => i.name + "=" + i.value),
		trend: chart("trend"), new: chart("new"), daily: chart("daily"),
		versions: rows("versions"), versionsTotal: text(document.getElementById("versions-total")), versionsMore: more("versions"),
		upgrades: rows("upgrades"), upgradesMore: more("upgrades"),
		links: { trend: link("trend-csv"), summary: link("versions-csv"), upgrades: link("upgrades-csv"), new: link("new-csv"), daily: link("daily-csv") },
		overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
	};
})()`

// openTables opens the tables behind the charts, which the page fills when they open.
const openTables = `document.querySelectorAll("details").forEach((d) => { d.open = true; }), true`

// tablesFilled is true once every table behind a chart has rows.
const tablesFilled = `[...document.querySelectorAll("details table")].every((t) => t.tBodies[0].rows.length > 0)`

// trendPlot is where the trend's plotting area is on the screen, brought into view.
const trendPlot = `(() => {
	const over = document.querySelector("#trend-chart .u-over");
	over.scrollIntoView({ block: "center" });
	const r = over.getBoundingClientRect();
	return { left: r.left, top: r.top, width: r.width, height: r.height };
})()`

func TestBrowserPage(t *testing.T) {
	browser := startBrowser(t)
	start := time.Now()
	store := handlerStore(t, browserRecords(t, browserNow))
	t.Logf("stored %d instances over %d days in %v", browserPopulation.Instances, browserPopulation.Days, time.Since(start).Round(time.Millisecond))
	ts := startHandler(t, store, browserNow) // httptest listens on 127.0.0.1

	dir := os.Getenv("MAILUSTATS_SCREENSHOTS") // none are taken without it
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	colours := map[string]string{} // the colour of each version, the same everywhere
	for _, vp := range []viewport{
		{name: "phone", width: 390, height: 844, scale: 2, mobile: true},
		{name: "desktop", width: 1280, height: 800, scale: 1},
	} {
		t.Run(vp.name, func(t *testing.T) { checkBrowser(t, browser, ts, vp, dir, colours) })
	}
	t.Run("after a release", func(t *testing.T) {
		ts := startHandler(t, handlerStore(t, browserRecords(t, browserAfterRelease)), browserAfterRelease)
		checkAfterRelease(t, browser, ts)
	})
}

// startBrowser starts headless Chromium for the rest of tb, or skips tb without it. The
// session is bounded by browserTimeout.
func startBrowser(tb testing.TB) context.Context {
	tb.Helper()
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("%s is missing: run scripts/deps.sh", chromium)
		}
		tb.Skipf("%s is missing (scripts/deps.sh installs it)", chromium)
	}
	// The browser is started here, outside every step's timeout, since chromedp ties the
	// browser's life to the context that starts it.
	session, cancelSession := context.WithTimeout(context.Background(), browserTimeout)
	tb.Cleanup(cancelSession)
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
		chromedp.UserDataDir(tb.TempDir()),
	)
	tb.Cleanup(cancelAlloc)
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	tb.Cleanup(cancelBrowser)
	if err := chromedp.Do(browser); err != nil {
		tb.Fatalf("starting %s: %v", chromium, err)
	}
	return browser
}

// browserTab is a browser tab of a test, with what it saw: every request, exception and
// console or browser-log error or warning, such as a script the policy blocked.
type browserTab struct {
	t   *testing.T
	ctx context.Context

	mu       sync.Mutex
	requests []string
	problems []string
}

// openTab opens a tab at vp.
func openTab(t *testing.T, browser context.Context, vp viewport) *browserTab {
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	tb := &browserTab{t: t, ctx: ctx}
	if err := chromedp.Listen(ctx, tb.listen); err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.EmulateViewportOption{chromedp.EmulateScale(vp.scale)}
	if vp.mobile {
		opts = append(opts, chromedp.EmulateMobile)
	}
	tb.do("emulate "+vp.name, chromedp.EmulateViewport(vp.width, vp.height, opts...))
	return tb
}

func (tb *browserTab) listen(ev any) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		tb.requests = append(tb.requests, ev.Request.URL)
	case *runtime.EventExceptionThrown:
		tb.problems = append(tb.problems, "exception: "+ev.ExceptionDetails.Text)
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
			tb.problems = append(tb.problems, "console "+string(ev.Type))
		}
	case *log.EventEntryAdded:
		if ev.Entry.Level == log.EntryLevelError || ev.Entry.Level == log.EntryLevelWarning {
			tb.problems = append(tb.problems, "log: "+ev.Entry.Text)
		}
	}
}

// do runs actions as one step, bounded by stepTimeout.
func (tb *browserTab) do(name string, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.t.Fatalf("%s: %v", name, err)
	}
}

// eval evaluates a JavaScript expression in the page, bounded by stepTimeout.
func eval[T any](tb *browserTab, expression string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expression))
	if err != nil {
		tb.t.Fatalf("evaluating %.40q: %v", expression, err)
	}
	return v
}

// await waits until the page has drawn v.
func (tb *browserTab) await(v pageView) {
	tb.t.Helper()
	tb.do("wait for "+v.ready(), chromedp.WaitReady(chromedp.CSS(`body[data-ready="`+v.ready()+`"], body[data-ready="error"]`)))
	if got := eval[string](tb, `document.body.dataset.ready`); got != v.ready() {
		tb.t.Fatalf("expected the page drawn for %s, got ready=%q and status %q", v.ready(), got, eval[string](tb, `document.getElementById("status").textContent`))
	}
}

// shoot saves a screenshot of the page as dir/name.png, if dir is set: the whole page, or down
// to the end of the element until.
func (tb *browserTab) shoot(dir, name, until string) {
	tb.t.Helper()
	if dir == "" {
		return
	}
	params := page.CaptureScreenshotParams{CaptureBeyondViewport: new(true)}
	if until != "" {
		bottom := eval[float64](tb, `document.querySelector("`+until+`").getBoundingClientRect().bottom + scrollY + 16`)
		width := eval[float64](tb, `document.documentElement.clientWidth`)
		params.Clip = &page.Viewport{Width: width, Height: bottom, Scale: 1}
	}
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, func(ctx context.Context, t *chromedp.Target) ([]byte, error) {
		r, err := cdp.Call(ctx, t, page.CaptureScreenshot, params)
		return r.Data, err
	})
	if err != nil {
		tb.t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
	tb.t.Logf("screenshot: %s (%d KiB)", path, len(png)>>10)
}

// checkBrowser opens the page in a new tab at vp and checks every range and window choice
// against the API, the hover values of the trend, and that the page loads and complains of
// nothing; it saves screenshots in dir.
func checkBrowser(t *testing.T, browser context.Context, ts *httptest.Server, vp viewport, dir string, colours map[string]string) {
	tb := openTab(t, browser, vp)
	api := pageAPI{t: t, base: ts.URL}

	tb.do("load", chromedp.Navigate(ts.URL+"/"))
	v := pageView{"90d", 30}
	tb.await(v)
	tb.shoot(dir, "report-"+vp.name+"-90d", "")
	eval[bool](tb, openTables)
	tb.do("fill the tables", chromedp.Poll[chromedp.Void](tablesFilled, chromedp.WithPollingTimeout(stepTimeout)))
	checkPageView(t, tb, api, v, vp, colours, "")
	checkPageHover(t, tb, api, v)

	for _, step := range []struct {
		click  string
		view   pageView
		search string
	}{
		{`label[for="range-1y"]`, pageView{"1y", 30}, "?range=1y"},
		{`label[for="range-all"]`, pageView{"all", 30}, "?range=all"},
		{`label[for="window-7"]`, pageView{"all", 7}, "?range=all&window=7"},
		{`label[for="range-90d"]`, pageView{"90d", 7}, "?window=7"},
	} {
		tb.do("choose "+step.view.ready(), chromedp.Click(chromedp.CSS(step.click)))
		tb.await(step.view)
		checkPageView(t, tb, api, step.view, vp, colours, step.search)
		checkPageHover(t, tb, api, step.view)
	}

	// The long tables show all their rows on request.
	v = pageView{"all", 7}
	tb.do("choose all history", chromedp.Click(chromedp.CSS(`label[for="range-all"]`)))
	tb.await(v)
	for _, id := range []string{"versions", "upgrades"} {
		if !eval[bool](tb, `document.getElementById("`+id+`-more").hidden`) {
			tb.do("show all "+id, chromedp.Click(chromedp.CSS("#"+id+"-more")))
		}
	}
	checkPageTables(t, eval[rendered](tb, readPage), api, v, vp, true)

	// The share of each version, drawn from the same answers.
	tb.do("choose share", chromedp.Click(chromedp.CSS(`label[for="scale-share"]`)))
	got := eval[rendered](tb, readPage)
	if want := "?range=all&window=7&scale=share"; got.Search != want || got.Ready != v.ready() {
		t.Errorf("%s: expected the address %q and the page drawn, got %q and ready=%q", vp.name, want, got.Search, got.Ready)
	}
	checkPageTrend(t, got, api, v, vp, colours)
	if !strings.Contains(got.Trend.Label, "share") {
		t.Errorf("%s: expected the chart of shares labelled so, got %q", vp.name, got.Trend.Label)
	}
	checkPageHover(t, tb, api, v)

	// The address reproduces a view, but for what the page no longer knows, as the old
	// grouping of versions by release; without tables open, the page makes the screenshot of
	// the README.
	tb.do("load all history", chromedp.Navigate(ts.URL+"/?range=all&versions=release"))
	v = pageView{"all", 30}
	tb.await(v)
	tb.shoot(dir, "page-"+vp.name, "")
	tb.shoot(dir, "readme-"+vp.name, ".grid2")
	got = eval[rendered](tb, readPage)
	if want := []string{"range=all", "window=30", "scale=count"}; !slices.Equal(got.Checked, want) {
		t.Errorf("%s: expected the choices %q from the address, got %q", vp.name, want, got.Checked)
	}
	checkPageTrend(t, got, api, v, vp, colours)
	checkPageHover(t, tb, api, v)

	// In dark mode the page and its charts take their dark colours.
	tb.do("dark mode", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}},
		})
		return err
	}), chromedp.Poll[chromedp.Void](`document.querySelector("#trend-readout .swatch").style.background !== "`+
		got.Trend.Readout.Rows[0].Colour+`"`, chromedp.WithPollingTimeout(5*time.Second)))
	tb.shoot(dir, "page-"+vp.name+"-dark", "")
	dark := eval[rendered](tb, readPage)
	if bg := eval[string](tb, `getComputedStyle(document.body).backgroundColor`); bg != "rgb(15, 19, 24)" {
		t.Errorf("%s, dark: expected the dark background, got %s", vp.name, bg)
	}
	for i, r := range dark.Trend.Readout.Rows {
		if r.Colour == "" || r.Colour == got.Trend.Readout.Rows[i].Colour {
			t.Errorf("%s, dark: expected %s in a colour of its own for dark mode, got %q", vp.name, r.Version, r.Colour)
		}
	}
	checkPageTrend(t, dark, api, v, vp, map[string]string{})

	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.checkProblems(vp.name)
	allowed := regexp.MustCompile(`^/(\?range=all&versions=release)?$|^/assets/uplot/uPlot\.(iife\.min\.js|min\.css)$|^/api/v1/(trend|summary|upgrades|new|daily)\?days=(90|365|all)(&|$)`)
	asked := map[string]bool{}
	for _, u := range tb.requests {
		parsed, err := url.Parse(u)
		if err != nil || parsed.Scheme+"://"+parsed.Host != ts.URL || !allowed.MatchString(parsed.RequestURI()) {
			t.Errorf("%s: expected requests only to the page, its assets and its API, got %s", vp.name, u)
			continue
		}
		if instanceID.MatchString(u) {
			t.Errorf("%s: expected no instance ID in a request, got %s", vp.name, u)
		}
		asked[parsed.Path] = true
	}
	for _, p := range []string{"/", "/assets/uplot/uPlot.iife.min.js", "/assets/uplot/uPlot.min.css",
		"/api/v1/trend", "/api/v1/summary", "/api/v1/upgrades", "/api/v1/new", "/api/v1/daily"} {
		if !asked[p] {
			t.Errorf("%s: expected the page to request %s, got %q", vp.name, p, tb.requests)
		}
	}
}

// checkProblems checks that the tab saw no exception, console error or warning; tb.mu is held.
func (tb *browserTab) checkProblems(name string) {
	tb.t.Helper()
	for _, p := range tb.problems {
		tb.t.Errorf("%s: expected no errors in the page, got %s", name, p)
	}
}

// checkAfterRelease checks all history a few weeks after a release: the release, small over
// the range but large on the last day, has a series of its own, where the largest versions
// over the range alone would leave it among the other versions.
func checkAfterRelease(t *testing.T, browser context.Context, ts *httptest.Server) {
	vp := viewport{name: "desktop after a release", width: 1280, height: 800, scale: 1}
	tb := openTab(t, browser, vp)
	api := pageAPI{t: t, base: ts.URL}
	tb.do("load all history", chromedp.Navigate(ts.URL+"/?range=all"))
	v := pageView{"all", 30}
	tb.await(v)
	checkPageTrend(t, eval[rendered](tb, readPage), api, v, vp, map[string]string{})
	checkPageHover(t, tb, api, v)

	points := api.trend(v).Points
	named, _ := versionGroups(points)
	if bySize := largest(versionSizes(points))[:maxSeries-1]; slices.Equal(slices.Sorted(slices.Values(named)), slices.Sorted(slices.Values(bySize))) {
		t.Errorf("expected a version large on %s but not over the range, got the same versions %q", points[len(points)-1].Day, named)
	}
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.checkProblems(vp.name)
}

// checkPageView checks everything the page shows for v against the API.
func checkPageView(t *testing.T, tb *browserTab, api pageAPI, v pageView, vp viewport, colours map[string]string, search string) {
	t.Helper()
	got := eval[rendered](tb, readPage)
	if got.Search != search {
		t.Errorf("%s, %s: expected the address to hold %q, got %q", vp.name, v.ready(), search, got.Search)
	}
	if want := []string{"range=" + v.rng, "window=" + strconv.Itoa(v.window), "scale=count"}; !slices.Equal(got.Checked, want) {
		t.Errorf("%s, %s: expected the choices %q, got %q", vp.name, v.ready(), want, got.Checked)
	}
	checkPageTrend(t, got, api, v, vp, colours)
	checkPageTables(t, got, api, v, vp, false)
	checkPageWeeks(t, got, api, v, vp)
	checkPageDaily(t, got, api, v, vp)
	if got.Overflow > 0 {
		t.Errorf("%s, %s: expected no horizontal scrolling, the page is %vpx too wide", vp.name, v.ready(), got.Overflow)
	}
}

// checkPageTrend checks the trend's chart, readout and table against the API's trend.
func checkPageTrend(t *testing.T, got rendered, api pageAPI, v pageView, vp viewport, colours map[string]string) {
	t.Helper()
	name := vp.name + ", " + v.ready() + ", trend"
	trend := api.trend(v)
	if len(trend.Points) < 2 || trend.Window != v.window || trend.Step != v.step() {
		t.Fatalf("%s: expected points every %d days of a %d-day window, got %d points every %d of %d",
			name, v.step(), v.window, len(trend.Points), trend.Step, trend.Window)
	}
	points := trend.Points
	named, other := versionGroups(points)
	if len(named) < 3 {
		t.Fatalf("%s: expected several versions in the test data, got %q", name, named)
	}
	first, last := points[0], points[len(points)-1]
	if n := groupCount(last, "", true, named); float64(n) > otherShare*float64(last.Instances) {
		t.Errorf("%s: expected the other versions to hold at most %v of the last point, got %d of %d", name, otherShare, n, last.Instances)
	}
	checkPageChart(t, name, got.Trend, len(named)+oneIf(other), first.Day, last.Day)
	checkPageReadout(t, name, got.Trend.Readout, last, named, other, true)
	for _, r := range got.Trend.Readout.Rows {
		if c, ok := colours[r.Version]; ok && c != r.Colour {
			t.Errorf("%s: expected %s in %s as before, got %s", name, r.Version, c, r.Colour)
		}
		colours[r.Version] = r.Colour
	}
	if len(got.Trend.Rows) > 0 { // once the tables are open
		want := [][]string{}
		for _, p := range points {
			want = append(want, groupRow(p, got.Trend.Head, named))
		}
		checkPageRows(t, name+" table", got.Trend.Rows, want)
	}
	checkPageLink(t, name, got.Links["trend"], api, "trend", v, url.Values{"window": {strconv.Itoa(v.window)}, "step": {strconv.Itoa(v.step())}})
}

// checkPageTables checks the tables of versions and upgrades against the API; all says that
// every row is shown, rather than the first ten.
func checkPageTables(t *testing.T, got rendered, api pageAPI, v pageView, vp viewport, all bool) {
	t.Helper()
	name := vp.name + ", " + v.ready()
	var summary report.Summary
	api.get("summary", v, nil, &summary)
	var upgrades upgradesBody
	api.get("upgrades", v, nil, &upgrades)
	if summary.Instances == 0 || len(summary.Versions) < 2 || len(upgrades.Upgrades) < 2 {
		t.Fatalf("%s: expected several versions and upgrades in the test data, got %+v and %+v", name, summary, upgrades)
	}

	var versions, changes [][]string
	for _, vc := range summary.Versions {
		versions = append(versions, []string{vc.Version, strconv.FormatInt(vc.Instances, 10), percentOf(vc.Instances, summary.Instances)})
	}
	for _, u := range upgrades.Upgrades {
		changes = append(changes, []string{u.From, u.To, strconv.FormatInt(u.Instances, 10)})
	}
	for _, c := range []struct {
		what string
		got  [][]string
		more pageMore
		want [][]string
	}{
		{"versions", got.Versions, got.VersionsMore, versions},
		{"upgrades", got.Upgrades, got.UpgradesMore, changes},
	} {
		shown := len(c.want)
		if !all {
			shown = min(shown, 10)
			wantMore := pageMore{Hidden: len(c.want) <= 10, Text: "Show all " + fmt.Sprint(len(c.want))}
			if c.more != wantMore {
				t.Errorf("%s, %s: expected the button %+v, got %+v", name, c.what, wantMore, c.more)
			}
		}
		checkPageRows(t, name+", "+c.what, c.got, c.want[:shown])
	}
	if digits(got.VersionsTotal) != strconv.FormatInt(summary.Instances, 10) {
		t.Errorf("%s: expected the total %d, got %q", name, summary.Instances, got.VersionsTotal)
	}
	checkPageLink(t, name+", versions", got.Links["summary"], api, "summary", v, nil)
	checkPageLink(t, name+", upgrades", got.Links["upgrades"], api, "upgrades", v, nil)
}

// checkPageWeeks checks the chart and table of new installations per week against the API's
// new installations per day, summed by ISO week.
func checkPageWeeks(t *testing.T, got rendered, api pageAPI, v pageView, vp viewport) {
	t.Helper()
	name := vp.name + ", " + v.ready() + ", new per week"
	var answer daysBody
	api.get("new", v, nil, &answer)
	var want [][]string
	for _, d := range answer.Days {
		day, err := time.Parse(time.DateOnly, d.Day)
		if err != nil {
			t.Fatal(err)
		}
		monday := day.AddDate(0, 0, -(int(day.Weekday())+6)%7).Format(time.DateOnly)
		if len(want) == 0 || want[len(want)-1][0] != monday {
			want = append(want, []string{monday, "0", "0"})
		}
		w := want[len(want)-1]
		w[1] = addDigits(w[1], 1)
		w[2] = addDigits(w[2], d.Instances)
	}
	checkPageChart(t, name, got.New, 1, want[0][0], want[len(want)-1][0])
	if len(got.New.Rows) > 0 {
		checkPageRows(t, name+" table", got.New.Rows, want)
	}
	last := want[len(want)-1]
	if got.New.Readout.Day != last[0] || digits(got.New.Readout.Total) != last[2] {
		t.Errorf("%s: expected the readout of the week of %s, %s new, got %+v", name, last[0], last[2], got.New.Readout)
	}
	checkPageLink(t, name, got.Links["new"], api, "new", v, nil)
}

// checkPageDaily checks the chart and table of start-ups per day against the API's daily.
func checkPageDaily(t *testing.T, got rendered, api pageAPI, v pageView, vp viewport) {
	t.Helper()
	name := vp.name + ", " + v.ready() + ", daily"
	var daily daysBody
	api.get("daily", v, nil, &daily)
	days := daily.Days
	named, other := versionGroups(days)
	first, last := days[0], days[len(days)-1]
	checkPageChart(t, name, got.Daily, len(named)+oneIf(other), first.Day, last.Day)
	checkPageReadout(t, name, got.Daily.Readout, last, named, other, false)
	if len(got.Daily.Rows) > 0 {
		var want [][]string
		for _, d := range days {
			want = append(want, groupRow(d, got.Daily.Head, named))
		}
		checkPageRows(t, name+" table", got.Daily.Rows, want)
	}
	checkPageLink(t, name, got.Links["daily"], api, "daily", v, nil)
}

// checkPageHover moves the mouse over the trend at a third of its days and checks the readout
// against the API's numbers of that day, then moves it away.
func checkPageHover(t *testing.T, tb *browserTab, api pageAPI, v pageView) {
	t.Helper()
	points := api.trend(v).Points
	i := len(points) / 3
	p := points[i]
	box := eval[struct {
		Left   float64 `json:"left"`
		Top    float64 `json:"top"`
		Width  float64 `json:"width"`
		Height float64 `json:"height"`
	}](tb, trendPlot)
	x := box.Left + box.Width*float64(i)/float64(len(points)-1)
	tb.do("hover "+p.Day,
		chromedp.MouseEvent(chromedp.MouseMoved, x, box.Top+box.Height/2),
		chromedp.Poll[chromedp.Void](`document.getElementById("trend-readout").dataset.day === "`+p.Day+`"`,
			chromedp.WithPollingTimeout(5*time.Second)),
	)
	named, other := versionGroups(points)
	checkPageReadout(t, v.ready()+", hovering "+p.Day, eval[rendered](tb, readPage).Trend.Readout, p, named, other, true)
	tb.do("leave the chart", chromedp.MouseEvent(chromedp.MouseMoved, 1, 1))
}

// checkPageChart checks that a chart is drawn, labelled, fits its box and spans from to to with
// series series.
func checkPageChart(t *testing.T, name string, got pageChart, series int, from, to string) {
	t.Helper()
	if got.Series != series || got.Canvases == 0 {
		t.Errorf("%s: expected %d series drawn, got %d (%d canvases)", name, series, got.Series, got.Canvases)
	}
	if got.From != from || got.To != to {
		t.Errorf("%s: expected the chart from %s to %s, got %s to %s", name, from, to, got.From, got.To)
	}
	if got.Role != "img" || got.Label == "" {
		t.Errorf("%s: expected an image with a label, got role %q, label %q", name, got.Role, got.Label)
	}
	if got.PlotWidth < got.BoxWidth-1 || got.PlotWidth > got.BoxWidth+0.5 {
		t.Errorf("%s: expected the chart as wide as its box, %vpx, got %vpx", name, got.BoxWidth, got.PlotWidth)
	}
}

// checkPageReadout checks a readout against a day of the API: its total, and each version's
// count and, if shares, its share of the total, the versions of no group summed as the other
// versions.
func checkPageReadout(t *testing.T, name string, got pageReadout, d report.Day, named []string, other, shares bool) {
	t.Helper()
	if got.Day != d.Day || digits(got.Total) != strconv.FormatInt(d.Instances, 10) {
		t.Errorf("%s: expected the readout of %s, %d instances, got %s, %q", name, d.Day, d.Instances, got.Day, got.Total)
	}
	var versions []string
	for _, r := range got.Rows {
		n := groupCount(d, r.Version, r.Other, named)
		shareOK := r.Share == ""
		if shares {
			shareOK = sameShare(r.Share, percentOf(n, d.Instances))
		}
		if r.Other != (r.Version == "") || digits(r.Count) != strconv.FormatInt(n, 10) || !shareOK {
			t.Errorf("%s: %q (other: %v): expected %d, %s, got %q, %q", name, r.Version, r.Other, n, percentOf(n, d.Instances), r.Count, r.Share)
		}
		if !r.Other {
			versions = append(versions, r.Version)
		}
	}
	slices.Sort(versions)
	if want := slices.Sorted(slices.Values(named)); !slices.Equal(versions, want) || len(got.Rows) != len(named)+oneIf(other) {
		t.Errorf("%s: expected the versions %q and other: %v, got %+v", name, want, other, got.Rows)
	}
}

// checkPageLink checks that a CSV link asks the API for endpoint with v's days and extra, and
// that it answers with CSV.
func checkPageLink(t *testing.T, name string, got pageLink, api pageAPI, endpoint string, v pageView, extra url.Values) {
	t.Helper()
	u, err := url.Parse(got.Href)
	want := url.Values{"days": {v.days()}, "format": {"csv"}}
	maps.Copy(want, extra)
	if err != nil || u.Path != "/api/v1/"+endpoint || u.Host != "" || !maps.EqualFunc(u.Query(), want, slices.Equal) || !got.Download {
		t.Errorf("%s: expected a download link to /api/v1/%s?%s, got %+v", name, endpoint, want.Encode(), got)
		return
	}
	if r := request(t, http.MethodGet, api.base+got.Href); r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") {
		t.Errorf("%s: expected CSV from %s, got %d %s", name, got.Href, r.status, r.header.Get("Content-Type"))
	}
}

// checkPageRows compares the rows of a table with want, numbers by their digits.
func checkPageRows(t *testing.T, name string, got, want [][]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: expected %d rows, got %d", name, len(want), len(got))
		return
	}
	for i := range want {
		same := len(got[i]) == len(want[i])
		for j := 0; same && j < len(want[i]); j++ {
			g, w := got[i][j], want[i][j]
			same = g == w || digits(g) == w && w != "" && !strings.HasSuffix(w, "%") || sameShare(g, w)
		}
		if !same {
			t.Errorf("%s: row %d: expected %q, got %q", name, i, want[i], got[i])
			return
		}
	}
}

// pageAPI asks the test server's API for what the page shows.
type pageAPI struct {
	t    *testing.T
	base string
}

// get decodes the answer of endpoint for v's range, with extra parameters, into out.
func (a pageAPI) get(endpoint string, v pageView, extra url.Values, out any) {
	a.t.Helper()
	q := url.Values{"days": {v.days()}}
	maps.Copy(q, extra)
	getJSON(a.t, a.base+"/api/v1/"+endpoint+"?"+q.Encode(), out)
}

// trend is the trend the page draws for v.
func (a pageAPI) trend(v pageView) trendBody {
	a.t.Helper()
	var body trendBody
	a.get("trend", v, url.Values{"window": {strconv.Itoa(v.window)}, "step": {strconv.Itoa(v.step())}}, &body)
	return body
}

// versionGroups are the versions a stacked chart of days draws each on its own: all of them
// when they are at most maxSeries, else maxSeries-1 of them, and then other reports that the
// rest are summed. Those are first the largest on the last day, until the rest hold at most
// otherShare of it, then the largest summed over the days.
func versionGroups(days []report.Day) (named []string, other bool) {
	size := versionSizes(days)
	if len(size) <= maxSeries {
		return slices.Sorted(maps.Keys(size)), false
	}
	last := days[len(days)-1].Versions
	var rest int64
	for _, n := range last {
		rest += n
	}
	most := otherShare * float64(rest)
	for _, v := range largest(last) {
		if float64(rest) <= most || len(named) == maxSeries-1 {
			break
		}
		named = append(named, v)
		rest -= last[v]
	}
	for _, v := range largest(size) {
		if len(named) == maxSeries-1 {
			break
		}
		if !slices.Contains(named, v) {
			named = append(named, v)
		}
	}
	return named, true
}

// versionSizes are the instances of each version summed over days.
func versionSizes(days []report.Day) map[string]int64 {
	size := map[string]int64{}
	for _, d := range days {
		for v, n := range d.Versions {
			size[v] += n
		}
	}
	return size
}

// largest are the versions of counts, the most first, ties by name.
func largest(counts map[string]int64) []string {
	return slices.SortedFunc(maps.Keys(counts), func(a, b string) int {
		return cmp.Or(cmp.Compare(counts[b], counts[a]), strings.Compare(a, b))
	})
}

// groupCount is the count of a readout's or table's version on d: the version's, or for the
// other versions the sum of those not named.
func groupCount(d report.Day, version string, other bool, named []string) int64 {
	if !other {
		return d.Versions[version]
	}
	var n int64
	for v, c := range d.Versions {
		if !slices.Contains(named, v) {
			n += c
		}
	}
	return n
}

// groupRow is the expected row of d in a table behind a chart whose header is head: the
// day, its total, then a column per version or "Other versions".
func groupRow(d report.Day, head []string, named []string) []string {
	row := []string{d.Day, strconv.FormatInt(d.Instances, 10)}
	for _, h := range head[min(2, len(head)):] {
		other := h == "Other versions"
		if other {
			h = ""
		}
		row = append(row, strconv.FormatInt(groupCount(d, h, other, named), 10))
	}
	return row
}

// percentOf is n of total in percent, to one decimal.
func percentOf(n, total int64) string {
	if total == 0 {
		return "0.0%"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(total))
}

// sameShare reports whether two percentages to one decimal are the same, but for rounding a
// half (JavaScript and Go round a half differently).
func sameShare(a, b string) bool {
	x, errA := strconv.ParseFloat(strings.TrimSuffix(a, "%"), 64)
	y, errB := strconv.ParseFloat(strings.TrimSuffix(b, "%"), 64)
	return errA == nil && errB == nil && strings.HasSuffix(a, "%") && strings.HasSuffix(b, "%") && math.Abs(x-y) < 0.11
}

// addDigits adds n to a decimal number.
func addDigits(s string, n int64) string {
	v, _ := strconv.ParseInt(s, 10, 64)
	return strconv.FormatInt(v+n, 10)
}

func oneIf(b bool) int {
	if b {
		return 1
	}
	return 0
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
