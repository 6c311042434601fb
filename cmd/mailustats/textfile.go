package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// textfile is a Prometheus textfile, as node_exporter's textfile collector reads them
// (--collector.textfile.directory, files named *.prom), that a run of verify or backup
// updates: it sets the metrics of the run and keeps the others the file held, such as the time
// of the last success after a failure, so that an alert can tell a stale backup.
type textfile struct {
	path     string
	families map[string]*dto.MetricFamily // by name
}

// addMetricsFlag registers -metrics on fs: the textfile a run of verify or backup updates.
func addMetricsFlag(fs *flag.FlagSet) *string {
	return fs.String("metrics", "", "update the Prometheus textfile `FILE`, for node_exporter's textfile collector")
}

// readTextfile reads the textfile at path, none (nil) if path is ""; a missing file holds no
// metrics.
func readTextfile(path string) (*textfile, error) {
	if path == "" {
		return nil, nil
	}
	t := &textfile{path: path, families: map[string]*dto.MetricFamily{}}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return t, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	if t.families, err = p.TextToMetricFamilies(f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// gauge sets the gauge name to v.
func (t *textfile) gauge(name, help string, v float64) {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	g.Set(v)
	t.set(g)
}

// now sets the gauge name to the time.
func (t *textfile) now(name, help string) {
	t.gauge(name, help, float64(time.Now().UnixMilli())/1e3)
}

// inc adds 1 to the counter name.
func (t *textfile) inc(name, help string) {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	if old := t.families[name].GetMetric(); len(old) == 1 {
		c.Add(old[0].GetCounter().GetValue())
	}
	c.Inc()
	t.set(c)
}

func (t *textfile) set(c prometheus.Collector) {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	families, _ := reg.Gather() // a lone gauge or counter gathers without error
	for _, f := range families {
		t.families[f.GetName()] = f
	}
}

// updateTextfile sets with set the metrics of a run of the subcommand name in m, unless nil,
// and writes it. It returns exit, the run's exit code, or that of a failure to write m.
func (s streams) updateTextfile(name string, m *textfile, exit int, set func(m *textfile)) int {
	if m == nil {
		return exit
	}
	set(m)
	if err := m.write(); err != nil {
		return s.fail(name, err)
	}
	return exit
}

// write replaces the file by a new one, atomically.
func (t *textfile) write() error {
	return prometheus.WriteToTextfile(t.path, prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		var out []*dto.MetricFamily
		for _, name := range slices.Sorted(maps.Keys(t.families)) {
			out = append(out, t.families[name])
		}
		return out, nil
	}))
}
