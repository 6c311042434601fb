package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/mailustats/mailustats/plugin/sink/table"
)

// backupExitCodes ends the usage of backup.
const backupExitCodes = `
Exit codes:
  0  the copy is written and passed its checks
  1  another failure, such as a destination that cannot be written, or an interrupt
  2  usage, or a PostgreSQL database: back it up with pg_dump -Fc
  3  cannot open the database: a missing file, not a database, unreadable, or an unknown schema version
  4  the copy is corrupt: the database is, or was read from a failing disk
  5  the aggregates of the copy disagree with its sightings: run verify -repair on the database
`

// defaultKeep is how many copies backup -dir keeps.
const defaultKeep = 7

// backupLayout is the UTC time in the names of the copies of backup -dir, which sort as their
// times do.
const backupLayout = "20060102T150405Z"

// backupName matches the names of the copies of backup -dir: the others in the directory are
// never removed.
var backupName = regexp.MustCompile(`^mailustats-\d{8}T\d{6}Z\.db$`)

// The metrics of backup in its -metrics textfile.
const (
	backupSuccess  = "mailustats_backup_last_success_timestamp_seconds"
	backupFailure  = "mailustats_backup_last_failure_timestamp_seconds"
	backupFailures = "mailustats_backup_failures_total"
	backupSize     = "mailustats_backup_size_bytes"
	backupDuration = "mailustats_backup_duration_seconds"
)

// backuper is a sink's database that backup copies.
type backuper interface {
	Backup(ctx context.Context, dst string) (table.Report, error)
}

// runBackup is `mailustats backup`: a consistent copy of the live SQLite database, checked as
// verify checks a database before it takes the place of the destination.
func runBackup(ctx context.Context, args []string, s streams) int {
	fs, dbFlags := newFlagSet("backup", "(-sqlite PATH | -conf COREFILE) (-to FILE | -dir DIR [-keep N]) [-metrics FILE]", s)
	to := fs.String("to", "", "write the copy to `FILE`, replacing it")
	dir := fs.String("dir", "", "write the copy into `DIR` as mailustats-YYYYMMDDTHHMMSSZ.db (UTC)")
	keep := fs.Int("keep", defaultKeep, "with -dir, then remove the oldest copies of that name but `N`")
	metrics := addMetricsFlag(fs)
	addExitCodes(fs, backupExitCodes)
	if exit, ok := parseFlags(fs, args); !ok {
		return exit
	}
	if err := checkDestination(fs, *to, *dir, *keep); err != nil {
		return s.fail("backup", err)
	}
	db, err := dbFlags.database()
	if err != nil {
		return s.fail("backup", err)
	}
	b, ok := db.opener.(backuper)
	if !ok {
		return s.fail("backup", usageError(db.name+": backup copies SQLite databases only; back up PostgreSQL with "+
			"pg_dump -Fc, as the README's Operations section says"))
	}
	start := time.Now()
	final := *to
	if *dir != "" {
		final = filepath.Join(*dir, "mailustats-"+start.UTC().Format(backupLayout)+".db")
	}
	if src, ok := db.sqlitePath(); ok && samePath(src, final) {
		return s.fail("backup", usageError(final+" is the database itself"))
	}
	m, err := readTextfile(*metrics)
	if err != nil {
		return s.fail("backup", err)
	}

	exit := exitOK
	r, size, err := writeCopy(ctx, b, final)
	switch {
	case err != nil:
		exit = s.fail("backup", fmt.Errorf("%s: %w", db.name, err))
	case len(r.Problems) > 0:
		f := faults[printProblems(s.stdout, r)]
		fmt.Fprintf(s.stderr, "mailustats backup: %s: %s; nothing written\n", db.name, f.advice)
		exit = f.exit
	}
	removed := 0
	if exit == exitOK && *dir != "" {
		if removed, err = removeOldCopies(*dir, *keep); err != nil {
			exit = s.fail("backup", err)
		}
	}
	took := time.Since(start)
	if exit == exitOK {
		fmt.Fprintf(s.stdout, "backup %s: %s in %s, checked: %s; %s removed\n",
			final, mebibytes(size), round(took), strings.Join(r.Passed, ", "), count(removed, "older copy", "older copies"))
	}
	return s.updateTextfile("backup", m, exit, func(m *textfile) { backupMetrics(m, exit, size, took) })
}

// backupMetrics sets the metrics of a run of backup that exited with exit.
func backupMetrics(m *textfile, exit int, size int64, took time.Duration) {
	if exit != exitOK {
		m.now(backupFailure, "When mailustats backup last failed.")
		m.inc(backupFailures, "The runs of mailustats backup that failed.")
		return
	}
	m.now(backupSuccess, "When mailustats backup last wrote a copy that passed its checks.")
	m.gauge(backupSize, "The size of the last copy mailustats backup wrote.", float64(size))
	m.gauge(backupDuration, "How long the last successful run of mailustats backup took.", took.Seconds())
}

// checkDestination checks that exactly one of -to and -dir is given, and -keep only with -dir.
func checkDestination(fs *flag.FlagSet, to, dir string, keep int) error {
	if err := noArguments(fs); err != nil {
		return err
	}
	keepGiven := false
	fs.Visit(func(f *flag.Flag) { keepGiven = keepGiven || f.Name == "keep" })
	switch {
	case (to == "") == (dir == ""):
		return usageError("name the destination with exactly one of -to or -dir")
	case keepGiven && dir == "":
		return usageError("-keep goes with -dir")
	case keep < 1:
		return usageError("-keep: want at least 1")
	}
	return nil
}

// writeCopy writes a copy of the database to a temporary file beside final, and once the copy
// passed its checks, syncs it and renames it to final, then syncs the directory; else it
// removes the temporary file. The copy is readable by its owner only, as the database holds
// instance IDs.
func writeCopy(ctx context.Context, b backuper, final string) (r table.Report, size int64, err error) {
	dir := filepath.Dir(final)
	f, err := os.CreateTemp(dir, ".mailustats-backup-*.tmp")
	if err != nil {
		return r, 0, err
	}
	tmp := f.Name()
	if err := f.Close(); err != nil {
		return r, 0, errors.Join(err, os.Remove(tmp))
	}
	renamed := false
	defer func() {
		if !renamed {
			os.Remove(tmp)
		}
		os.Remove(tmp + "-journal") // left if the checks failed while rolling back
	}()
	if r, err = b.Backup(ctx, tmp); err != nil || len(r.Problems) > 0 {
		return r, 0, err
	}
	if size, err = syncFile(tmp); err != nil {
		return r, 0, err
	}
	if err := os.Rename(tmp, final); err != nil {
		return r, 0, err
	}
	renamed = true
	_, err = syncFile(dir)
	return r, size, err
}

// syncFile flushes the file or directory at path to stable storage and returns its size.
func syncFile(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	var size int64
	fi, err := f.Stat()
	if err == nil {
		size = fi.Size()
		err = f.Sync()
	}
	return size, errors.Join(err, f.Close())
}

// removeOldCopies removes the oldest copies in dir but keep, and returns how many it removed.
func removeOldCopies(dir string, keep int) (int, error) {
	entries, err := os.ReadDir(dir) // sorted by name, so by time
	if err != nil {
		return 0, err
	}
	var copies []string
	for _, e := range entries {
		if e.Type().IsRegular() && backupName.MatchString(e.Name()) {
			copies = append(copies, e.Name())
		}
	}
	removed := 0
	for _, name := range copies[:max(0, len(copies)-keep)] {
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			return removed, err
		}
		removed++
	}
	return removed, nil
}

// samePath reports whether a and b name the same path.
func samePath(a, b string) bool {
	a, errA := filepath.Abs(a)
	b, errB := filepath.Abs(b)
	return errA == nil && errB == nil && a == b
}

// mebibytes writes a size for people.
func mebibytes(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
