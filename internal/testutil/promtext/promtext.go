// Package promtext scrapes a Prometheus /metrics endpoint and reads the values of its series,
// for tests and benchmarks.
package promtext

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Series is one series of a scrape: its labels and value.
type Series struct {
	Labels map[string]string
	Value  float64
}

// Metrics holds the series of one scrape by metric name. Only counters, gauges and untyped
// metrics are kept: summaries and histograms are left out.
type Metrics map[string][]Series

// Scrape reads http://addr/metrics in the Prometheus text format.
func Scrape(ctx context.Context, addr string) (Metrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", req.URL, resp.Status)
	}
	m, err := Parse(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", req.URL, err)
	}
	return m, nil
}

// Parse reads the Prometheus text format.
func Parse(r io.Reader) (Metrics, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, err
	}
	m := Metrics{}
	for name, f := range families {
		for _, metric := range f.GetMetric() {
			s := Series{Labels: map[string]string{}}
			switch {
			case metric.Counter != nil:
				s.Value = metric.GetCounter().GetValue()
			case metric.Gauge != nil:
				s.Value = metric.GetGauge().GetValue()
			case metric.Untyped != nil:
				s.Value = metric.GetUntyped().GetValue()
			default:
				continue
			}
			for _, l := range metric.GetLabel() {
				s.Labels[l.GetName()] = l.GetValue()
			}
			m[name] = append(m[name], s)
		}
	}
	return m, nil
}

// Select returns the series of name that have every label in match, given as pairs of label
// name and value; as in PromQL, a label that is absent has the value "".
func (m Metrics) Select(name string, match ...string) []Series {
	if len(match)%2 != 0 {
		panic(fmt.Sprintf("promtext: labels %q are not pairs of name and value", match))
	}
	var out []Series
	for _, s := range m[name] {
		if matches(s.Labels, match) {
			out = append(out, s)
		}
	}
	return out
}

// Sum adds the values of the series Select returns; found is false when there is none.
func (m Metrics) Sum(name string, match ...string) (total float64, found bool) {
	series := m.Select(name, match...)
	for _, s := range series {
		total += s.Value
	}
	return total, len(series) > 0
}

func matches(labels map[string]string, match []string) bool {
	for i := 0; i < len(match); i += 2 {
		if labels[match[i]] != match[i+1] {
			return false
		}
	}
	return true
}
