package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/mailustats/mailustats/plugin/report"
)

// daysAll is the -days value that asks for the whole history.
const daysAll = "all"

// days is the value of -days: a number of days ending today, or the whole history.
type days struct {
	n   int
	all bool
}

func (d *days) String() string {
	if d.all {
		return daysAll
	}
	return strconv.Itoa(d.n)
}

func (d *days) Set(s string) error {
	if s == daysAll {
		*d = days{all: true}
		return nil
	}
	n, err := wholeDays(s)
	*d = days{n: n}
	return err
}

// wholeDays reads a number of days from 1 to report.MaxWindowDays.
func wholeDays(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > report.MaxWindowDays {
		return 0, fmt.Errorf("want a whole number from 1 to %d", report.MaxWindowDays)
	}
	return n, nil
}

// runReport is `mailustats report`: the summary of a window, as a table or as the API's JSON.
func runReport(ctx context.Context, args []string, s streams) int {
	fs, dbFlags := newFlagSet("report", "[-days N|all] [-min-days K] [-json] "+databaseUsage, s)
	window := days{n: 30}
	fs.Var(&window, "days", "the `N` UTC days ending today, or all: from the first day with data")
	minDays := 1
	fs.Func("min-days", "count only the instances seen on at least `K` distinct days of their whole history (default 1)", func(v string) error {
		var err error
		minDays, err = wholeDays(v)
		return err
	})
	asJSON := fs.Bool("json", false, "print the summary as JSON, as the API's /api/v1/summary")
	if exit, ok := parseFlags(fs, args); !ok {
		return exit
	}
	if err := noArguments(fs); err != nil {
		return s.fail("report", err)
	}
	db, err := dbFlags.database()
	if err != nil {
		return s.fail("report", err)
	}
	store, err := db.openStore(ctx)
	if err != nil {
		return s.fail("report", err)
	}
	defer store.Close()
	sum, err := summary(ctx, store, time.Now(), window, minDays)
	if err != nil {
		return s.fail("report", err)
	}
	if *asJSON {
		err = printJSON(s.stdout, sum)
	} else {
		err = printSummary(s.stdout, sum, window)
	}
	if err != nil {
		return s.fail("report", err)
	}
	return exitOK
}

// summary reads the summary of the window as the API computes it: d days ending with now's
// UTC day, or from the first day with data to today (today alone when there is none).
func summary(ctx context.Context, store *report.Store, now time.Time, d days, minDays int) (report.Summary, error) {
	win := report.LastDays(now, d.n)
	if d.all {
		var err error
		if win, err = store.WholeHistory(ctx, now); err != nil {
			return report.Summary{}, err
		}
	}
	return store.Summary(ctx, win, minDays)
}

// printJSON writes v as one line of JSON, as the API does.
func printJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// printSummary writes sum as a table, version by version, with a total.
func printSummary(w io.Writer, sum report.Summary, d days) error {
	if sum.Instances == 0 {
		line := fmt.Sprintf("no data from %s to %s", sum.From, sum.To)
		if sum.MinDays > 1 {
			line += fmt.Sprintf(": no instance seen on at least %d days", sum.MinDays)
		}
		_, err := fmt.Fprintln(w, line)
		return err
	}
	span := plural(windowDays(sum.Window), "day")
	if d.all {
		span = "all data: " + span
	}
	title := fmt.Sprintf("%s to %s (%s, UTC)", sum.From, sum.To, span)
	if sum.MinDays > 1 {
		title += fmt.Sprintf(", seen on at least %d days", sum.MinDays)
	}
	if _, err := fmt.Fprintf(w, "Instances from %s\n\n", title); err != nil {
		return err
	}
	// tabwriter pads cells on the right, so the numbers come padded to their width already to
	// align on the right.
	count := max(len(strconv.FormatInt(sum.Instances, 10)), len("INSTANCES"))
	const share = len("100.0%")
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "VERSION\t%*s\t%*s\n", count, "INSTANCES", share, "SHARE")
	for _, v := range sum.Versions {
		pct := 100 * float64(v.Instances) / float64(sum.Instances)
		fmt.Fprintf(tw, "%s\t%*d\t%*.1f%%\n", v.Version, count, v.Instances, share-1, pct)
	}
	// No version is spelled with parentheses, so the total cannot be taken for one.
	fmt.Fprintf(tw, "(total)\t%*d\t%*.1f%%\n", count, sum.Instances, share-1, 100.0)
	return tw.Flush()
}

// windowDays is the number of days in w, which the store has checked.
func windowDays(w report.Window) int {
	from, err1 := time.Parse(time.DateOnly, w.From)
	to, err2 := time.Parse(time.DateOnly, w.To)
	if err1 != nil || err2 != nil {
		return 0
	}
	return int(to.Sub(from).Hours()/24) + 1
}

// plural is n and the noun, in the plural unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
