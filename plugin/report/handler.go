package report

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Logger is where the handler reports a failed query; CoreDNS's plugin logger is one.
type Logger interface {
	Warningf(format string, v ...any)
}

// defaultDays is the window of a request without ?days=N; the longest is MaxWindowDays.
const defaultDays = 30

// daysAll is the value of days that asks for the whole history.
const daysAll = "all"

// defaultMinDays is the min_days of a summary without ?min_days=K: every instance counts. The
// largest is MaxWindowDays too.
const defaultMinDays = 1

// queryTimeout bounds the database work of one request.
const queryTimeout = 10 * time.Second

// Cache lifetimes of the responses: the numbers change as announcements arrive, the page only
// with a new build. Errors are never cached.
const (
	cacheAPI   = "public, max-age=60"
	cachePage  = "public, max-age=300"
	cacheError = "no-store"
)

// allowed is the Allow header of a 405: every path serves GET and HEAD only.
const allowed = "GET, HEAD"

// The media types of the responses.
const (
	jsonType = "application/json; charset=utf-8"
	htmlType = "text/html; charset=utf-8"
)

// apiPolicy is the Content-Security-Policy of the JSON responses: they load and run nothing.
const apiPolicy = "default-src 'none'; frame-ancestors 'none'"

// defaultTrendDays is the window of a trend without ?window=W.
const defaultTrendDays = 30

// Options are the handler's settings; the zero value of each is a sensible default.
type Options struct {
	Title string           // names the statistics on the page, such as the zone served
	Now   func() time.Time // the clock that ends the windows; nil is time.Now
	Log   Logger           // where failed queries are reported; nil discards them
}

// handler serves the statistics page and its JSON API from a Store.
type handler struct {
	store *Store
	now   func() time.Time
	log   Logger
	page  []byte // the page, with its title
}

// NewHandler returns the HTTP handler of the statistics page and its API. Every path answers
// GET and HEAD only (405 with an Allow header otherwise); an unknown path is a 404.
//
// The API takes days=N, the window of N UTC days that ends today, from 1 to 7320 (default 30),
// or days=all, the window from the first day with rows to today (today alone when there are
// none, at most 7320 days); the summary and the trend also min_days=K, from 1 to 7320
// (default 1). Anything else, or a parameter given twice, is a 400. Every answer is a JSON
// object, or CSV with format=csv or an Accept header that asks for text/csv; errors are always
// JSON. Days are YYYY-MM-DD in UTC, and no answer holds an instance ID. Answers carry an ETag
// (a 304 answers an If-None-Match that names it), and large ones are compressed with gzip for
// the clients that accept it.
//
//	GET /api/v1/summary?days=30   the distinct instances in the window, each counted once
//	                              under the last version it reported there, largest first
//	{"from":"2026-10-24","to":"2026-11-22","min_days":1,"instances":42,
//	 "versions":[{"version":"2024.06","instances":30},{"version":"master","instances":12}]}
//
//	GET /api/v1/summary?days=30&min_days=2
//	                              the same, counting only the instances seen on at least 2
//	                              distinct days over their whole history, in the window or
//	                              not: a flood of made-up instances is seen on one day each
//	{"from":"2026-10-24","to":"2026-11-22","min_days":2,"instances":35,"versions":[...]}
//
//	GET /api/v1/daily?days=30     the distinct instances that announced themselves on each
//	                              day, in total and per version; every day of the window,
//	                              oldest first, zeros included (an empty "versions")
//	{"from":"2026-10-24","to":"2026-11-22",
//	 "days":[{"day":"2026-10-24","instances":3,"versions":{"2024.06":2,"master":1}}, ...]}
//
//	GET /api/v1/new?days=30       the same shape: "instances" counts the instances seen
//	                              for the first time ever that day, "versions" the
//	                              instances that reported a version for the first time
//	                              (new ones and upgrades: the adoption of each release)
//
//	GET /api/v1/upgrades?days=30  how many instances changed from one version to another
//	                              on a day of the window, from the version they reported
//	                              last before, in the window or not
//	{"from":"2026-10-24","to":"2026-11-22",
//	 "upgrades":[{"from":"2.0","to":"2024.06","instances":5}]}
//
//	GET /api/v1/trend?days=365&window=30&step=7
//	                              the instances running each version over time: every
//	                              step-th day of the window counted back from its last
//	                              (step from 1 to 7320, default 1), the distinct instances
//	                              seen in the window days ending that day (window from 1
//	                              to 365, default 30), counted as the summary counts them;
//	                              min_days as on the summary
//	{"from":"2025-11-23","to":"2026-11-22","window":30,"step":7,"min_days":1,
//	 "points":[{"day":"2025-11-24","instances":40,"versions":{"2.0":12,"2024.06":28}}, ...]}
//
//	GET /api/v1/summary?days=all  every endpoint over the whole history, from the first
//	                              day with rows
//	{"from":"2019-03-02","to":"2026-11-22","min_days":1,"instances":420,"versions":[...]}
//
//	GET /api/v1/daily?days=90&format=csv
//	                              a file with a row per day (per version for the summary,
//	                              per change for upgrades) and a header row
//	day,instances,2024.06,master
//	2026-08-25,3,2,1
//
//	an error, with status 400, 404, 405 or 503 (the database failed)
//	{"error":"days must be a whole number from 1 to 7320, or all"}
//
// GET / is a page that draws these numbers; it loads nothing but its own files and the API.
func NewHandler(store *Store, opts Options) http.Handler {
	h := &handler{store: store, now: opts.Now, log: opts.Log, page: renderPage(opts.Title)}
	if h.now == nil {
		h.now = time.Now
	}
	if h.log == nil {
		h.log = discard{}
	}
	return h
}

// discard is a Logger that drops what it is told.
type discard struct{}

func (discard) Warningf(string, ...any) {}

// ServeHTTP implements http.Handler.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	var serve func(http.ResponseWriter, *http.Request)
	switch path := r.URL.Path; {
	case path == "/":
		serve = h.servePage
	case path == "/api/v1/summary":
		serve = h.summary
	case path == "/api/v1/daily":
		serve = h.daily
	case path == "/api/v1/new":
		serve = h.newInstances
	case path == "/api/v1/upgrades":
		serve = h.upgrades
	case path == "/api/v1/trend":
		serve = h.trend
	case isAsset(path):
		serve = serveAsset
	default:
		writeError(w, r, http.StatusNotFound, "not found")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", allowed)
		writeError(w, r, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	serve(w, r)
}

func (h *handler) summary(w http.ResponseWriter, r *http.Request) {
	minDays, err := parseWhole(r, "min_days", defaultMinDays, MaxWindowDays)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, err.Error())
		return
	}
	h.serveQuery(w, r, func(ctx context.Context, win Window) (table, error) {
		s, err := h.store.Summary(ctx, win, minDays)
		s.Window, s.MinDays = win, minDays
		if s.Versions == nil {
			s.Versions = []VersionCount{}
		}
		return summaryBody{s}, err
	})
}

func (h *handler) daily(w http.ResponseWriter, r *http.Request) {
	h.serveQuery(w, r, func(ctx context.Context, win Window) (table, error) {
		d, err := h.store.Daily(ctx, win)
		return daysBody{Window: win, Days: nonNil(d), what: "daily"}, err
	})
}

func (h *handler) newInstances(w http.ResponseWriter, r *http.Request) {
	h.serveQuery(w, r, func(ctx context.Context, win Window) (table, error) {
		d, err := h.store.New(ctx, win)
		return daysBody{Window: win, Days: nonNil(d), what: "new"}, err
	})
}

func (h *handler) upgrades(w http.ResponseWriter, r *http.Request) {
	h.serveQuery(w, r, func(ctx context.Context, win Window) (table, error) {
		u, err := h.store.Upgrades(ctx, win)
		if u == nil {
			u = []Upgrade{}
		}
		return upgradesBody{Window: win, Upgrades: u}, err
	})
}

func (h *handler) trend(w http.ResponseWriter, r *http.Request) {
	body := trendBody{}
	var err error
	for _, p := range []struct {
		name     string
		to       *int
		def, max int
	}{
		{"window", &body.WindowDays, defaultTrendDays, MaxTrendDays},
		{"step", &body.Step, 1, MaxWindowDays},
		{"min_days", &body.MinDays, defaultMinDays, MaxWindowDays},
	} {
		if *p.to, err = parseWhole(r, p.name, p.def, p.max); err != nil {
			writeError(w, r, http.StatusBadRequest, err.Error())
			return
		}
	}
	h.serveQuery(w, r, func(ctx context.Context, win Window) (table, error) {
		body.Window = win
		points, err := h.store.Trend(ctx, win, body.WindowDays, body.Step, body.MinDays)
		body.Points = nonNil(points)
		return body, err
	})
}

// serveQuery answers an API request: it reads the window and the format, runs query on the
// window and writes the result, or the error.
func (h *handler) serveQuery(w http.ResponseWriter, r *http.Request, query func(context.Context, Window) (table, error)) {
	n, all, err := parseDays(r)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, err.Error())
		return
	}
	asCSV, err := wantsCSV(r)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), queryTimeout)
	defer cancel()
	now := h.now()
	win := LastDays(now, n)
	if all {
		win, err = h.store.WholeHistory(ctx, now)
	}
	var body table
	if err == nil {
		body, err = query(ctx, win)
	}
	if errors.Is(err, ErrWindow) { // parseDays keeps to what the store takes; should it not
		writeError(w, r, http.StatusBadRequest, errWhole("days", MaxWindowDays).Error())
		return
	}
	if err != nil {
		// The client that went away needs no answer and the log no line.
		if r.Context().Err() == nil {
			h.log.Warningf("report: %s: %v", r.URL.Path, err)
		}
		writeError(w, r, http.StatusServiceUnavailable, "statistics unavailable")
		return
	}
	w.Header().Add("Vary", "Accept")
	if asCSV {
		hdr := w.Header()
		hdr.Set("Content-Type", csvType)
		hdr.Set("Content-Disposition", `attachment; filename="`+body.csvName()+`"`)
		hdr.Set("Cache-Control", cacheAPI)
		hdr.Set("Content-Security-Policy", apiPolicy)
		writeBody(w, r, http.StatusOK, encodeCSV(body.csvRows()))
		return
	}
	writeJSON(w, r, http.StatusOK, cacheAPI, body)
}

// wantsCSV reads the format of the answer: format=csv or format=json, or else CSV when the
// Accept header names text/csv.
func wantsCSV(r *http.Request) (bool, error) {
	values, ok := r.URL.Query()["format"]
	switch {
	case !ok:
		return acceptsCSV(r.Header.Values("Accept")), nil
	case len(values) == 1 && values[0] == "csv":
		return true, nil
	case len(values) == 1 && values[0] == "json":
		return false, nil
	}
	return false, errors.New("format must be given once, as json or csv")
}

// acceptsCSV reports whether an Accept header names text/csv, without q=0.
func acceptsCSV(headers []string) bool {
	for _, h := range headers {
		for media := range strings.SplitSeq(h, ",") {
			name, params, _ := strings.Cut(media, ";")
			if strings.ToLower(strings.TrimSpace(name)) == "text/csv" && positive(params) {
				return true
			}
		}
	}
	return false
}

// errWhole is the answer to a parameter that is not a whole number from 1 to limit, or for
// days not all either.
func errWhole(name string, limit int) error {
	msg := name + " must be a whole number from 1 to " + strconv.Itoa(limit)
	if name == "days" {
		msg += ", or " + daysAll
	}
	return errors.New(msg)
}

// parseDays reads the parameter days: all, or a whole number as parseWhole reads it.
func parseDays(r *http.Request) (n int, all bool, err error) {
	if values := r.URL.Query()["days"]; len(values) == 1 && values[0] == daysAll {
		return 0, true, nil
	}
	n, err = parseWhole(r, "days", defaultDays, MaxWindowDays)
	return n, false, err
}

// parseWhole reads the parameter name: missing is def; present, it must be one plain decimal
// number from 1 to limit.
func parseWhole(r *http.Request, name string, def, limit int) (int, error) {
	values, ok := r.URL.Query()[name]
	if !ok {
		return def, nil
	}
	if len(values) != 1 {
		return 0, errors.New(name + " must be given once")
	}
	v := values[0]
	if v == "" || v[0] < '0' || v[0] > '9' { // Atoi also takes a sign
		return 0, errWhole(name, limit)
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > limit {
		return 0, errWhole(name, limit)
	}
	return n, nil
}

// nonNil makes days that the store left nil encode as empty JSON arrays and objects.
func nonNil(d []Day) dayList {
	if d == nil {
		return dayList{}
	}
	for i := range d {
		if d[i].Versions == nil {
			d[i].Versions = map[string]int64{}
		}
	}
	return d
}

// writeError writes an error as {"error": msg}, never cached.
func writeError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	writeJSON(w, r, status, cacheError, struct {
		Error string `json:"error"`
	}{msg})
}

// writeJSON writes body as a JSON response. It encodes before writing anything, so a body that
// fails to encode becomes a 500 and not half a response. A body that encodes itself is trusted
// to write compact, valid JSON, which its tests check; encoding/json would check it again.
func writeJSON(w http.ResponseWriter, r *http.Request, status int, cache string, body any) {
	var b []byte
	var err error
	if m, ok := body.(json.Marshaler); ok {
		b, err = m.MarshalJSON()
	} else {
		b, err = json.Marshal(body)
	}
	if err != nil {
		status, cache, b = http.StatusInternalServerError, cacheError, []byte(`{"error":"internal error"}`)
	}
	b = append(b, '\n')
	hdr := w.Header()
	hdr.Set("Content-Type", jsonType)
	hdr.Set("Cache-Control", cache)
	hdr.Set("Content-Security-Policy", apiPolicy)
	writeBody(w, r, status, b)
}
