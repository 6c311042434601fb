//go:build linux

package main

import (
	"fmt"
	"path/filepath"
)

// config is one server configuration under test.
type config struct {
	Name string `json:"name"`
	Sink string `json:"sink,omitempty"` // "file" or "sqlite"; empty for the whoami baseline
}

// configs are the configurations in the order each round runs them; the first is the baseline.
var configs = []config{
	{Name: "whoami (baseline)"},
	{Name: "mailustats, sink file", Sink: "file"},
	{Name: "mailustats, sink sqlite", Sink: "sqlite"},
}

// sqliteConfig is the configuration of the memory mode.
var sqliteConfig = configs[2]

// corefile returns the configuration's Corefile, serving the zone on 127.0.0.1:port with its
// sink in dir and no log plugin.
func (c config) corefile(dir string, port int, metricsAddr string) string {
	head := fmt.Sprintf("%s:%d {\n    bind 127.0.0.1\n    prometheus %s\n", zone, port, metricsAddr)
	if c.Sink == "" {
		return head + "    whoami\n}\n"
	}
	return head + fmt.Sprintf("    mailustats {\n        ns ns1.%s 127.0.0.1\n        sink %s %s\n    }\n}\n", zone, c.Sink, c.sinkPath(dir))
}

// sinkPath is where the configuration's sink writes in dir.
func (c config) sinkPath(dir string) string {
	switch c.Sink {
	case "file":
		return filepath.Join(dir, "stats.csv")
	case "sqlite":
		return filepath.Join(dir, "stats.db")
	}
	return ""
}
