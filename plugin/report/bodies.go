package report

// The bodies of the API's answers, which encode as JSON and as CSV (csv.go).

// summaryBody is the body of /api/v1/summary.
type summaryBody struct{ Summary }

// daysBody is the body of /api/v1/daily and /api/v1/new.
type daysBody struct {
	Window
	Days dayList
	what string // the endpoint, for the CSV file's name
}

// MarshalJSON implements json.Marshaler.
func (d daysBody) MarshalJSON() ([]byte, error) { return withDays(d.Window, "days", d.Days) }

// upgradesBody is the body of /api/v1/upgrades.
type upgradesBody struct {
	Window
	Upgrades []Upgrade `json:"upgrades"`
}

// trendBody is the body of /api/v1/trend.
type trendBody struct {
	trendHead
	Points dayList
}

// trendHead is what the body of /api/v1/trend says before its points.
type trendHead struct {
	Window
	WindowDays int `json:"window"`
	Step       int `json:"step"`
	MinDays    int `json:"min_days"`
}

// MarshalJSON implements json.Marshaler.
func (t trendBody) MarshalJSON() ([]byte, error) { return withDays(t.trendHead, "points", t.Points) }
