package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	// named apart from the tests' function history
	hist "github.com/mailustats/mailustats/plugin/history"
	"github.com/mailustats/mailustats/plugin/sink"
)

// A purge removes in transactions of at most purgeChunkInstances instances and
// purgeChunkDays of their days with rows, which bound the rows each reads and writes while it
// keeps the server's writers waiting: on the benchmark database (100,000 instances over five
// years) 15 ms, at most 34 ms, for a flood of instances seen once; 34 ms, at most 0.25 s, for
// every sighting of a month.
const (
	purgeChunkInstances = 1000
	purgeChunkDays      = 5000
)

// purgeRestRatio is how much longer than a transaction took the purge waits after it, so that
// the server's writer, which waited meanwhile, has its turn.
const purgeRestRatio = 1

// purger is a database whose sightings a purge removes: those of both SQL sinks.
type purger interface {
	sink.Sink
	// PurgeCandidates calls found, in id order, with each instance that may have rows f
	// picks, and its days with rows.
	PurgeCandidates(ctx context.Context, f hist.Filter, found func(id, days int64)) error
	// PurgeChunk removes the rows f picks of the instances ids in one transaction, keeping
	// the aggregates as if they had never been written, or with dry only reads them; then
	// it calls removed for each instance that lost rows. It returns how long it kept the
	// writers waiting.
	PurgeChunk(ctx context.Context, f hist.Filter, ids []int64, dry bool,
		removed func(id int64, rows []hist.Row, gone bool)) (time.Duration, error)
}

// runPurge is `mailustats purge`: it prints which sightings of some days, of instances seen
// once or of a version, would go, and with -yes removes them and what they counted in the
// aggregates.
func runPurge(ctx context.Context, args []string, s streams) int {
	fs, dbFlags := newFlagSet("purge", "-from DAY -to DAY [-only-once] [-version V] [-yes] [-json] "+databaseUsage, s)
	from := fs.String("from", "", "the first UTC `DAY` whose sightings go, as YYYY-MM-DD")
	to := fs.String("to", "", "the last UTC `DAY` whose sightings go, as YYYY-MM-DD")
	onlyOnce := fs.Bool("only-once", false, "only those of instances seen on a single day in their whole history, as a flood\n"+
		"of made-up IDs announced once each is: the whole instance goes")
	version := fs.String("version", "", "only those of the version `V`")
	yes := fs.Bool("yes", false, "remove them; without it, only print what would go and change nothing")
	asJSON := fs.Bool("json", false, "print, instead of tables, one line of JSON: what would go, or with -yes what went")
	if exit, ok := parseFlags(fs, args); !ok {
		return exit
	}
	if err := noArguments(fs); err != nil {
		return s.fail("purge", err)
	}
	f, err := purgeFilter(*from, *to, *version, *onlyOnce)
	if err != nil {
		return s.fail("purge", err)
	}
	db, err := dbFlags.database()
	if err != nil {
		return s.fail("purge", err)
	}
	p, err := openPurger(ctx, db)
	if err != nil {
		return s.fail("purge", err)
	}
	defer p.Close()
	if err := purge(ctx, p, f, *yes, *asJSON, s); err != nil {
		return s.fail("purge", fmt.Errorf("%s: %w", db.name, err))
	}
	return exitOK
}

// purgeFilter reads the days and the filters of the command line, a usageError if wrong.
func purgeFilter(from, to, version string, onlyOnce bool) (hist.Filter, error) {
	f := hist.Filter{Version: version, OnlyOnce: onlyOnce}
	for _, d := range []struct {
		flag, value string
		day         *int32
	}{{"-from", from, &f.From}, {"-to", to, &f.To}} {
		if d.value == "" {
			return f, usageError(fmt.Sprintf("name the days with -from and -to (%s is missing)", d.flag))
		}
		day, err := hist.ParseDay(d.value)
		if err != nil {
			return f, usageError(fmt.Sprintf("%s %q: want a UTC day as YYYY-MM-DD", d.flag, d.value))
		}
		*d.day = day
	}
	if f.From > f.To {
		return f, usageError(fmt.Sprintf("-from %s is after -to %s", from, to))
	}
	return f, nil
}

// openPurger opens the database as the server does, but not a SQLite file that does not exist
// (openExisting).
func openPurger(ctx context.Context, db database) (purger, error) {
	s, err := db.openExisting(ctx)
	if err != nil {
		return nil, err
	}
	p, ok := s.(purger)
	if !ok {
		return nil, errors.Join(fmt.Errorf("%s cannot be purged", db.name), s.Close())
	}
	return p, nil
}

// purge prints what the purge by f removes, and with yes removes it and prints what it
// removed.
func purge(ctx context.Context, p purger, f hist.Filter, yes, asJSON bool, s streams) error {
	start := time.Now()
	planned, affected, err := planPurge(ctx, p, f, s)
	if err != nil {
		return err
	}
	if !yes || planned.Rows == 0 {
		planned.Elapsed = time.Since(start).Round(time.Millisecond).String()
		if asJSON {
			return printJSON(s.stdout, planned)
		}
		if err := planned.print(s.stdout); err != nil || planned.Rows == 0 {
			return err
		}
		_, err := fmt.Fprintln(s.stdout, "Dry run: nothing was removed. Run again with -yes to remove them.")
		return err
	}
	if !asJSON {
		if err := planned.print(s.stdout); err != nil {
			return err
		}
	}
	done, err := removePurge(ctx, p, f, affected, s)
	done.Elapsed = time.Since(start).Round(time.Millisecond).String()
	if err != nil {
		return fmt.Errorf("%w, after %d transactions, which removed %d rows of %d instances: the database is consistent; "+
			"run the same command again to remove the rest", err, done.Removal.Transactions, done.Rows, done.Instances)
	}
	if asJSON {
		return printJSON(s.stdout, done)
	}
	return done.printDone(s.stdout)
}

// candidate is an instance a purge reads, with its days with rows.
type candidate struct{ id, days int64 }

// purgeChunks cuts instances into the chunks of a purge's transactions.
func purgeChunks(instances []candidate) [][]int64 {
	var out [][]int64
	var days int64
	for i, c := range instances {
		if i == 0 || len(out[len(out)-1]) == purgeChunkInstances || days+c.days > purgeChunkDays {
			out, days = append(out, nil), 0
		}
		out[len(out)-1] = append(out[len(out)-1], c.id)
		days += c.days
	}
	return out
}

// planPurge reads what the purge by f removes, changing nothing, and returns it and the
// instances that lose rows.
func planPurge(ctx context.Context, p purger, f hist.Filter, s streams) (purgeSummary, []candidate, error) {
	var candidates []candidate
	if err := p.PurgeCandidates(ctx, f, func(id, days int64) { candidates = append(candidates, candidate{id, days}) }); err != nil {
		return purgeSummary{}, nil, fmt.Errorf("instances: %w", err)
	}
	days := make(map[int64]int64, len(candidates))
	for _, c := range candidates {
		days[c.id] = c.days
	}
	t := newPurgeTally(f)
	var affected []candidate
	prog := t.progress(s.stderr, "reading", len(candidates))
	defer prog.done()
	for _, ids := range purgeChunks(candidates) {
		_, err := p.PurgeChunk(ctx, f, ids, true, func(id int64, rows []hist.Row, gone bool) {
			t.add(rows, gone)
			affected = append(affected, candidate{id, days[id]})
		})
		if err != nil {
			return purgeSummary{}, nil, err
		}
		prog.add(int64(len(ids)))
	}
	return t.summary(), affected, nil
}

// removePurge removes the rows f picks of the instances affected, a chunk a transaction, and
// returns what it removed.
func removePurge(ctx context.Context, p purger, f hist.Filter, affected []candidate, s streams) (purgeSummary, error) {
	t := newPurgeTally(f)
	prog := t.progress(s.stderr, "removing", len(affected))
	defer prog.done()
	var rest time.Duration // after the transaction before
	for _, ids := range purgeChunks(affected) {
		select {
		case <-ctx.Done():
			return t.done(), ctx.Err()
		case <-time.After(rest):
		}
		held, err := p.PurgeChunk(ctx, f, ids, false, func(_ int64, rows []hist.Row, gone bool) { t.add(rows, gone) })
		if err != nil {
			return t.done(), err
		}
		t.transaction(held)
		prog.add(int64(len(ids)))
		rest = purgeRestRatio * held
	}
	return t.done(), nil
}

// progress shows how far the step what of a purge is over n instances, and once t counts
// transactions, elsewhere than on the bar how many and the longest that kept the writers
// waiting.
func (t *purgeTally) progress(stderr io.Writer, what string, n int) *progress {
	return newProgress(stderr, what+" instances", "purge: "+what, "instances", int64(n), func(_ time.Duration, bar bool) string {
		if bar || t.transactions == 0 {
			return ""
		}
		return fmt.Sprintf(", %d transactions, the longest %s", t.transactions, t.longest.Round(time.Millisecond))
	})
}
