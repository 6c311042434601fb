package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mailustats/mailustats/plugin/sink/table"
)

// verifyExitCodes ends the usage of verify.
const verifyExitCodes = `
Exit codes:
  0  sound, also once -repair repaired the aggregates
  1  another failure, such as an I/O error or an interrupt
  2  usage
  3  cannot open: a missing file, not a database, unreadable, or an unknown schema version
  4  corrupt: the integrity check fails, or the file is malformed or truncated
  5  the aggregates disagree with the sightings: run verify -repair
`

// faults are the exit code of each fault a check finds, and what to do about it.
var faults = map[table.Fault]struct {
	exit   int
	advice string
}{
	table.Unopenable: {exitUnopenable, "cannot open it as a mailustats database of this build"},
	table.Corrupt:    {exitCorrupt, "it is corrupt: stop the server, and restore the newest backup that verifies"},
	table.Disagrees:  {exitDisagrees, "the aggregates disagree with the sightings: run verify -repair, with the server stopped or quiet"},
}

// The metrics of verify in its -metrics textfile.
const (
	verifySuccess  = "mailustats_verify_last_success_timestamp_seconds"
	verifyFailure  = "mailustats_verify_last_failure_timestamp_seconds"
	verifyFailures = "mailustats_verify_failures_total"
	verifyProblems = "mailustats_verify_problems"
	verifyDuration = "mailustats_verify_duration_seconds"
)

// verifier is a sink's database that verify checks.
type verifier interface {
	Verify(ctx context.Context, repair bool) (table.Report, error)
}

// runVerify is `mailustats verify`: it checks the database and prints what is wrong with it.
func runVerify(ctx context.Context, args []string, s streams) int {
	fs, dbFlags := newFlagSet("verify", "[-repair] [-metrics FILE] "+databaseUsage, s)
	repair := fs.Bool("repair", false, "keep the aggregates recomputed from the sightings when they disagree; on SQLite this\n"+
		"holds the server's writer up meanwhile: run it with the server stopped or quiet")
	metrics := addMetricsFlag(fs)
	addExitCodes(fs, verifyExitCodes)
	if exit, ok := parseFlags(fs, args); !ok {
		return exit
	}
	if err := noArguments(fs); err != nil {
		return s.fail("verify", err)
	}
	db, err := dbFlags.database()
	if err != nil {
		return s.fail("verify", err)
	}
	v, ok := db.opener.(verifier)
	if !ok {
		return s.fail("verify", fmt.Errorf("%s cannot be verified", db.name))
	}
	m, err := readTextfile(*metrics)
	if err != nil {
		return s.fail("verify", err)
	}
	start := time.Now()
	r, err := v.Verify(ctx, *repair)
	took := time.Since(start)
	var exit int
	if err != nil {
		exit = s.fail("verify", fmt.Errorf("%s: %w", db.name, err))
	} else {
		exit = printReport(s.stdout, db.name, r, took)
	}
	return s.updateTextfile("verify", m, exit, func(m *textfile) { verifyMetrics(m, exit, r, err == nil, took) })
}

// verifyMetrics sets the metrics of a run of verify that exited with exit, and found r if
// checked.
func verifyMetrics(m *textfile, exit int, r table.Report, checked bool, took time.Duration) {
	if checked {
		m.gauge(verifyProblems, "The problems the last run of mailustats verify found.", float64(len(r.Problems)))
	}
	if exit != exitOK {
		m.now(verifyFailure, "When mailustats verify last failed or found a problem.")
		m.inc(verifyFailures, "The runs of mailustats verify that failed or found a problem.")
		return
	}
	m.now(verifySuccess, "When mailustats verify last found the database sound.")
	m.gauge(verifyDuration, "How long the last sound run of mailustats verify took.", took.Seconds())
}

// addExitCodes ends the usage of fs with codes.
func addExitCodes(fs *flag.FlagSet, codes string) {
	usage := fs.Usage
	fs.Usage = func() {
		usage()
		fmt.Fprint(fs.Output(), codes)
	}
}

// printReport prints the problems, repairs and skipped checks of r, one a line, then a verdict
// on the database, and returns the exit code of the gravest problem.
func printReport(w io.Writer, name string, r table.Report, took time.Duration) int {
	gravest := printProblems(w, r)
	for _, text := range r.Repaired {
		fmt.Fprintf(w, "repaired: %s\n", text)
	}
	for _, text := range r.Skipped {
		fmt.Fprintf(w, "skipped: %s\n", text)
	}
	passed := strings.Join(r.Passed, ", ")
	switch {
	case gravest != 0:
		fmt.Fprintf(w, "%s: %s: %s\n", name, count(len(r.Problems), "problem", "problems"), faults[gravest].advice)
		return faults[gravest].exit
	case len(r.Repaired) > 0:
		fmt.Fprintf(w, "%s: repaired the aggregates of %s; sound: %s (%s)\n", name, count(len(r.Repaired), "table", "tables"), passed, round(took))
	default:
		fmt.Fprintf(w, "%s: sound: %s (%s)\n", name, passed, round(took))
	}
	return exitOK
}

// printProblems prints the problems of r, one a line, and returns the gravest fault, 0 when
// there are none.
func printProblems(w io.Writer, r table.Report) table.Fault {
	var gravest table.Fault
	for _, p := range r.Problems {
		fmt.Fprintf(w, "problem: %s\n", p.Text)
		if gravest == 0 || p.Fault < gravest {
			gravest = p.Fault
		}
	}
	return gravest
}

// count writes n things: one, or many.
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// round rounds a duration for people.
func round(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(100 * time.Millisecond)
}
