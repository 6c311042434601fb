package report_test

import (
	"context"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/mailustats/mailustats/internal/testutil/population"
	"github.com/mailustats/mailustats/plugin/report"
)

// apiTimes is what the page's resource timing saw of its API requests since it was last
// cleared: each request's path, time from sending it to the end of its answer, and the size of
// the answer on the wire and decoded, in ms and bytes; then it clears it.
const apiTimes = `(() => {
	const api = performance.getEntriesByType("resource").filter((e) => e.name.includes("/api/v1/"));
	performance.clearResourceTimings();
	return api.map((e) => ({
		path: new URL(e.name).pathname, start: e.startTime, end: e.responseEnd,
		wire: e.encodedBodySize, size: e.decodedBodySize,
	}));
})()`

// apiTime is an entry of apiTimes.
type apiTime struct {
	Path  string  `json:"path"`
	Start float64 `json:"start"`
	End   float64 `json:"end"`
	Wire  int     `json:"wire"`
	Size  int     `json:"size"`
}

// BenchmarkPage times the statistics page in headless Chromium on the benchmark population of
// 100,000 instances over 5 years in SQLite, with the browser's cache off: per iteration,
// loading / until every answer is drawn (90 days), then choosing 1 year, then all history.
// It reports each in ms, and the part of it between the first API request and the end of the
// last answer, as the page's resource timing sees it. The browser's session is bounded by
// browserTimeout: run it a few times, as with -benchtime 3x.
func BenchmarkPage(b *testing.B) {
	c := population.Benchmark(100_000, 5)
	store := benchSQLite(b, c) // before the browser, whose session is bounded
	now := c.End().Add(12 * time.Hour)
	ts := httptest.NewServer(report.NewHandler(store, report.Options{Now: func() time.Time { return now }}))
	b.Cleanup(ts.Close)

	tab, cancel := chromedp.NewContext(startBrowser(b))
	b.Cleanup(cancel)
	// The tab needs a listener: without one, chromedp 0.23 stops delivering its events and
	// the first navigation never ends.
	var problems atomic.Int64 // exceptions and console errors
	if err := chromedp.Listen(tab, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			problems.Add(1)
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				problems.Add(1)
			}
		}
	}); err != nil {
		b.Fatal(err)
	}
	do := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		b.Helper()
		ctx, cancel := context.WithTimeout(tab, stepTimeout)
		defer cancel()
		if err := chromedp.Do(ctx, actions...); err != nil {
			b.Fatalf("%s: %v", name, err)
		}
	}
	do("set up", chromedp.EmulateViewport(1280, 800), chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true})
		return err
	}))

	steps := []struct {
		name   string
		action chromedp.Action[chromedp.Void]
		ready  string
	}{
		{"load-90d", chromedp.Navigate(ts.URL + "/"), "90d/30"},
		{"1y", chromedp.Click(chromedp.CSS(`label[for="range-1y"]`)), "1y/30"},
		{"all", chromedp.Click(chromedp.CSS(`label[for="range-all"]`)), "all/30"},
	}
	total := make([]time.Duration, len(steps))
	api := make([]float64, len(steps))
	n := 0
	for b.Loop() {
		for i, s := range steps {
			start := time.Now()
			do(s.name, s.action, chromedp.WaitReady(chromedp.CSS(`body[data-ready="`+s.ready+`"], body[data-ready="error"]`)))
			total[i] += time.Since(start)
			ctx, cancel := context.WithTimeout(tab, stepTimeout)
			ready, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.dataset.ready`))
			times, err2 := chromedp.Run(ctx, chromedp.Evaluate[[]apiTime](apiTimes))
			cancel()
			if err != nil || err2 != nil || ready != s.ready || len(times) == 0 {
				b.Fatalf("%s: expected the page drawn for %s from the API, got %q, %d requests (%v, %v)",
					s.name, s.ready, ready, len(times), err, err2)
			}
			first, last := times[0].Start, times[0].End
			for _, t := range times {
				first, last = min(first, t.Start), max(last, t.End)
				if n == 0 && testing.Verbose() {
					b.Logf("%s: %s answered in %.0f ms, %d KiB (%d KiB decoded)", s.name, t.Path, t.End-t.Start, t.Wire>>10, t.Size>>10)
				}
			}
			api[i] += last - first
		}
		n++
	}
	if errs := problems.Load(); errs > 0 {
		b.Fatalf("expected no errors in the page, got %d", errs)
	}
	for i, s := range steps {
		b.ReportMetric(total[i].Seconds()*1000/float64(n), "ms/"+s.name)
		b.ReportMetric(api[i]/float64(n), "api-ms/"+s.name)
	}
}
