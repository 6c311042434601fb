package table

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Options are the options after the path or DSN of a `sink sqlite` or `sink postgres` line:
// `[events] [retention DURATION]`.
type Options struct {
	Events    bool          // also keep every record in the events table
	Retention time.Duration // delete events older than this; 0 keeps them all
}

// ParseOptions reads the options of a SQL sink line.
func ParseOptions(args []string) (Options, error) {
	var o Options
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "events":
			o.Events = true
		case "retention":
			if i+1 == len(args) {
				return o, fmt.Errorf("retention takes a duration such as 90d or 720h")
			}
			i++
			d, err := parseDays(args[i])
			if err != nil {
				return o, err
			}
			o.Retention = d
		default:
			return o, fmt.Errorf("unknown sink option %q, want events or retention DURATION", args[i])
		}
	}
	if o.Retention > 0 && !o.Events {
		return o, fmt.Errorf("retention applies to events; add events to the sink line")
	}
	return o, nil
}

// parseDays reads a positive duration in Go's form (720h) or in whole days (90d).
func parseDays(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, derr := strconv.Atoi(days)
		d, err = time.Duration(n)*24*time.Hour, derr
	}
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("retention wants a positive duration such as 90d or 720h, got %q", s)
	}
	return d, nil
}
