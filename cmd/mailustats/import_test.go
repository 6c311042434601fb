package main

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mailustats/mailustats/internal/logimport"
	"github.com/mailustats/mailustats/plugin/hashid"
	"github.com/mailustats/mailustats/plugin/report"
	"github.com/mailustats/mailustats/plugin/sink"
	"github.com/mailustats/mailustats/plugin/sink/sqlite"
	"github.com/mailustats/mailustats/plugin/sink/table"
)

// samplePath is a sample of old log lines: 14 lines, 6 records of 4 instances, the last line
// cut short and without a newline.
const samplePath = "../../internal/logimport/testdata/output.log"

// sampleRows are the rows of the daily view after the import of the sample.
var sampleRows = map[viewRow]rowCounts{
	{"2018-01-29", "15", "5bc8fbbc-bde5-4099-8164-d8399f767c45"}:     {2, 1517236000, 1517236002},
	{"2018-01-29", "0", "d76d4330-f144-4bea-b0c1-1fdecb91ce37"}:      {1, 1517240111, 1517240111},
	{"2020-09-13", "18", "87b0b125-ec1d-4da0-a6eb-8c9ebd69fe29"}:     {2, 1600000001, 1600000003},
	{"2020-09-13", "master", "c6a53877-7733-4bdb-9721-0dff076ce2ef"}: {1, 1600000100, 1600000100},
}

// sampleSummary is the summary of the first import of the sample.
var sampleSummary = importSummary{
	Lines: 14, Imported: 6, InstanceDays: 4, Instances: 4, NewInstances: 4, Chunks: 1,
	Skipped: map[string]int64{"one-label": 2, "apex": 1, "malformed version": 1, "malformed UUID": 1, "bad time": 2, "bad format": 1},
	First:   "2018-01-29T14:26:40Z", Last: "2020-09-13T12:28:20Z",
}

// sampleSkipped are the lines -v prints for the sample, after the file's name.
var sampleSkipped = []string{
	`:4: one-label: "87b0b125-eC1D-4Da0-a6EB-8C9ebD69fE29,1600000000"`,
	`:5: one-label: "87b0B125-Ec1D-4Da0-a6Eb-8c9eBd69fe29,1600000001"`,
	`:8: apex: ",1600000004"`,
	`:10: malformed version: "1,9,c6a53877-7733-4bdb-9721-0dff076ce2ef,1600000200"`,
	`:11: malformed UUID: "19,not-a-uuid,1600000300"`,
	`:12: bad time: "19,c6a53877-7733-4bdb-9721-0dff076ce2ef,"`,
	`:13: bad format: ""`,
	`:14: bad time: "19,5bc8fbbc-bde5-4099-8"`,
}

// runWith runs the command with args in-process, reading stdin.
func runWith(stdin io.Reader, args ...string) result {
	var stdout, stderr bytes.Buffer
	exit := run(args, stdin, &stdout, &stderr)
	return result{exit: exit, stdout: stdout.String(), stderr: stderr.String()}
}

// importJSON imports with args and -json, reading stdin, and returns the summary; the import
// must succeed.
func importJSON(t *testing.T, stdin io.Reader, args ...string) (importSummary, result) {
	t.Helper()
	got := runWith(stdin, append([]string{"import", "-json"}, args...)...)
	if got.exit != exitOK {
		t.Fatalf("import %v: expected exit 0, got %d: %s", args, got.exit, got.stderr)
	}
	var sum importSummary
	if err := json.Unmarshal([]byte(got.stdout), &sum); err != nil {
		t.Fatalf("import %v: %v in %q", args, err, got.stdout)
	}
	return sum, got
}

// checkSummary compares an import's summary with the expected one, but for the time it took.
func checkSummary(t *testing.T, what string, expected, got importSummary) {
	t.Helper()
	if got.Elapsed == "" {
		t.Errorf("%s: expected the time elapsed, got none", what)
	}
	got.Elapsed = ""
	if expected.Skipped == nil {
		expected.Skipped = map[string]int64{}
	}
	if !reflect.DeepEqual(got, expected) {
		t.Errorf("%s: expected the summary\n%+v\ngot\n%+v", what, expected, got)
	}
}

// reimported is the summary of a file imported again: nothing added, every chunk known.
func reimported(sum importSummary) importSummary {
	sum.Imported, sum.InstanceDays, sum.NewInstances, sum.ChunksBefore = 0, 0, 0, sum.Chunks
	return sum
}

// testDB is a database the tests import into, named by the flag and value of the command.
type testDB struct{ flag, value string }

func newSQLite(t *testing.T) testDB {
	return testDB{"-sqlite", filepath.Join(t.TempDir(), "stats.db")}
}

func newPostgres(t *testing.T) testDB {
	return testDB{"-postgres", pgServer.Get(t).CreateDatabase(t, fmt.Sprint("import_", pgDatabases.Add(1)))}
}

// args returns the flag naming the database, then args.
func (d testDB) args(args ...string) []string { return append([]string{d.flag, d.value}, args...) }

// command returns the command line of the subcommand name on the database, with args.
func (d testDB) command(name string, args ...string) []string {
	return append([]string{name}, d.args(args...)...)
}

func (d testDB) database(t *testing.T) database {
	t.Helper()
	f := databaseFlags{}
	switch d.flag {
	case "-sqlite":
		f.sqlite = d.value
	case "-postgres":
		f.postgres = d.value
	default:
		f.conf = d.value
	}
	db, err := f.database()
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// rows reads the daily view.
func (d testDB) rows(t *testing.T) map[viewRow]rowCounts {
	t.Helper()
	db := d.database(t)
	reader, err := db.opener.OpenReader()
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	query := `SELECT day, version, instance, hits, first_seen, last_seen FROM daily`
	if db.dialect == report.Postgres {
		query = `SELECT day::text, version, instance, hits, extract(epoch FROM first_seen)::bigint,
			extract(epoch FROM last_seen)::bigint FROM daily`
	}
	rows, err := reader.QueryContext(t.Context(), query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[viewRow]rowCounts{}
	for rows.Next() {
		var k viewRow
		var c rowCounts
		if err := rows.Scan(&k.day, &k.version, &k.instance, &c.hits, &c.firstSeen, &c.lastSeen); err != nil {
			t.Fatal(err)
		}
		if _, ok := got[k]; ok {
			t.Fatalf("two rows of %v in the daily view", k)
		}
		got[k] = c
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

// report runs `report -days all -json` and returns the summary, without its last day, which
// is today's.
func (d testDB) report(t *testing.T) report.Summary {
	t.Helper()
	got := runCommand(d.command("report", "-days", "all", "-json")...)
	if got.exit != exitOK || got.stderr != "" {
		t.Fatalf("report: expected exit 0 and no errors, got %d, %q", got.exit, got.stderr)
	}
	var sum report.Summary
	if err := json.Unmarshal([]byte(got.stdout), &sum); err != nil {
		t.Fatalf("report: %v in %q", err, got.stdout)
	}
	sum.To = ""
	return sum
}

func (d testDB) store(t *testing.T) *report.Store {
	t.Helper()
	s, err := d.database(t).openStore(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// checkRows compares the rows of the daily view with the expected ones.
func checkRows(t *testing.T, what string, expected, got map[viewRow]rowCounts) {
	t.Helper()
	if maps.Equal(expected, got) {
		return
	}
	var diffs []string
	for _, k := range slices.SortedFunc(maps.Keys(expected), compareRows) {
		if g, ok := got[k]; !ok || g != expected[k] {
			diffs = append(diffs, fmt.Sprintf("%v: expected %v, got %v (%t)", k, expected[k], g, ok))
		}
	}
	for _, k := range slices.SortedFunc(maps.Keys(got), compareRows) {
		if _, ok := expected[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%v: expected no row, got %v", k, got[k]))
		}
	}
	t.Errorf("%s: expected %d rows of the daily view, got %d; %d differ, the first:\n%s",
		what, len(expected), len(got), len(diffs), strings.Join(diffs[:min(len(diffs), 10)], "\n"))
}

func compareRows(a, b viewRow) int {
	return cmp.Or(cmp.Compare(a.day, b.day), cmp.Compare(a.version, b.version), cmp.Compare(a.instance, b.instance))
}

// sumHits adds up the hits of rows.
func sumHits(rows map[viewRow]rowCounts) int64 {
	var n int64
	for _, c := range rows {
		n += c.hits
	}
	return n
}

// checkTruth checks that the database holds what the truth says and nothing else: the rows
// of the daily view; the report of the whole history; the daily counts, the new instances and
// versions, the changes of version over the whole history and over a past year, and the
// summary of that year, as report.Store answers them.
func checkTruth(t *testing.T, what string, d testDB, tr *truth) {
	t.Helper()
	checkRows(t, what, tr.rows, d.rows(t))
	if got := d.report(t); !reflect.DeepEqual(got, tr.report) {
		t.Errorf("%s: report -days all: expected %+v, got %+v", what, tr.report, got)
	}

	s := d.store(t)
	ctx := t.Context()
	whole, err := s.WholeHistory(ctx, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	daily, err := s.Daily(ctx, whole)
	if err != nil {
		t.Fatal(err)
	}
	checkDays(t, what+": daily", tr.daily, daily)
	added, err := s.New(ctx, whole)
	if err != nil {
		t.Fatal(err)
	}
	checkDays(t, what+": new", tr.added, added)
	for _, w := range []struct {
		window   report.Window
		expected []report.Upgrade
	}{{whole, tr.upgrades}, {yearWindow, tr.upgrades2020}} {
		got, err := s.Upgrades(ctx, w.window)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, w.expected) {
			t.Errorf("%s: upgrades from %s to %s: expected %v, got %v", what, w.window.From, w.window.To, w.expected, got)
		}
	}
	sum, err := s.Summary(ctx, yearWindow, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(sum, tr.summary2020) {
		t.Errorf("%s: summary of %v: expected %+v, got %+v", what, yearWindow, tr.summary2020, sum)
	}
}

// checkDays compares the days of a report with the expected counts of the days that have
// any; the other days must have none.
func checkDays(t *testing.T, what string, expected map[string]report.Day, got []report.Day) {
	t.Helper()
	seen := 0
	for _, d := range got {
		e, ok := expected[d.Day]
		if !ok {
			e = report.Day{Day: d.Day, Versions: map[string]int64{}}
		} else {
			seen++
		}
		if d.Instances != e.Instances || !maps.Equal(d.Versions, e.Versions) {
			t.Errorf("%s: %s: expected %d instances %v, got %d %v", what, d.Day, e.Instances, e.Versions, d.Instances, d.Versions)
			return
		}
	}
	if seen != len(expected) {
		t.Errorf("%s: expected %d days with instances in the window, got %d", what, len(expected), seen)
	}
}

// gzipped returns data compressed with gzip.
func gzipped(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// writeFile writes data to name in a temporary directory and returns its path.
func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestImportSample imports the sample: its summary, the lines -v prints, the rows and the
// report; then the same lines again, as they are, with a last newline, compressed under a
// name without .gz, and from standard input, plain and compressed: each is known, and
// changes nothing.
func TestImportSample(t *testing.T) {
	d := newSQLite(t)
	got := runCommand(d.command("import", "-v", samplePath)...)
	if got.exit != exitOK {
		t.Fatalf("expected exit 0, got %d: %s", got.exit, got.stderr)
	}
	for _, line := range []string{
		"lines read             14\n",
		"records imported       6\n",
		"lines skipped          8: one-label 2, apex 1, malformed version 1, malformed UUID 1, bad time 2, bad format 1\n",
		"instance-days written  4\n",
		"distinct instances     4 (4 new to the database)\n",
		"time span              2018-01-29T14:26:40Z to 2020-09-13T12:28:20Z\n",
		"batches                1 (0 stored by an earlier import)\n",
	} {
		if !strings.Contains(got.stdout, line) {
			t.Errorf("expected the summary to have the line %q, got\n%s", line, got.stdout)
		}
	}
	if strings.Contains(got.stdout, "nothing changed") {
		t.Errorf("expected changes, got\n%s", got.stdout)
	}
	checkSampleVerbose(t, "the sample", samplePath, got.stderr)

	checkRows(t, "sample", sampleRows, d.rows(t))
	expected := report.Summary{Window: report.Window{From: "2018-01-29"}, MinDays: 1, Instances: 4, Versions: []report.VersionCount{
		{Version: "0", Instances: 1}, {Version: "15", Instances: 1}, {Version: "18", Instances: 1}, {Version: "master", Instances: 1}}}
	if got := d.report(t); !reflect.DeepEqual(got, expected) {
		t.Errorf("report: expected %+v, got %+v", expected, got)
	}

	data, err := os.ReadFile(samplePath)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.HasSuffix(data, []byte("\n")) {
		t.Fatal("expected the sample to end without a newline")
	}
	gz := gzipped(t, data)
	again := []struct {
		name  string
		stdin []byte
		file  string
	}{
		{name: "the same file", file: samplePath},
		{name: "with a last newline", file: writeFile(t, "newline.log", append(slices.Clip(data), '\n'))},
		{name: "gzip named .log", file: writeFile(t, "sample.log", gz)},
		{name: "standard input", stdin: data, file: "-"},
		{name: "gzip on standard input", stdin: gz, file: "-"},
	}
	for _, tc := range again {
		sum, _ := importJSON(t, bytes.NewReader(tc.stdin), d.args(tc.file)...)
		checkSummary(t, tc.name, reimported(sampleSummary), sum)
		got := runWith(bytes.NewReader(tc.stdin), d.command("import", "-v", tc.file)...)
		if got.exit != exitOK || !strings.HasSuffix(got.stdout, "\nnothing changed: every batch of these lines was imported before\n") {
			t.Errorf("%s: expected exit 0 and nothing changed, got %d, %q, %q", tc.name, got.exit, got.stdout, got.stderr)
		}
		name := tc.file
		if name == "-" {
			name = logimport.StdinName
		}
		checkSampleVerbose(t, tc.name, name, got.stderr)
		rows := d.rows(t)
		checkRows(t, tc.name, sampleRows, rows)
		if n := sumHits(rows); n != 6 {
			t.Errorf("%s: expected 6 hits, got %d", tc.name, n)
		}
	}
	if got := d.report(t); !reflect.DeepEqual(got, expected) {
		t.Errorf("report after the imports again: expected %+v, got %+v", expected, got)
	}
}

// checkSampleVerbose checks what -v printed of the sample read as name.
func checkSampleVerbose(t *testing.T, what, name, stderr string) {
	t.Helper()
	var lines []string
	for _, line := range sampleSkipped {
		lines = append(lines, name+line+"\n")
	}
	if expected := strings.Join(lines, ""); stderr != expected {
		t.Errorf("%s: expected -v to print\n%s\ngot\n%s", what, expected, stderr)
	}
}

// TestImportGenerated imports generated logs of every era and kind of noise, of more than two
// chunks: the summary and the database must be what brute force over the generated records
// gives. The same log imported in two halves, the second first, gives the same database, and
// imported again changes nothing.
func TestImportGenerated(t *testing.T) {
	t.Parallel()
	for _, seed := range []uint64{1, 2} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			log := generateLog(seed, 2*testChunkLines+testChunkLines/4)
			lines := int64(len(log.lines))
			if lines <= 2*testChunkLines {
				t.Fatalf("expected more than two chunks of lines, got %d lines", lines)
			}
			path := writeLog(t, "stats.log", log.lines)
			tr := truthOf(log.events, nil)
			expected := importSummary{
				Lines: lines, Imported: int64(len(log.events)), Skipped: log.skipped,
				InstanceDays: int64(tr.instanceDays), Instances: int64(len(tr.instances)), NewInstances: int64(len(tr.instances)),
				First: tr.first.Format(time.RFC3339), Last: tr.last.Format(time.RFC3339),
				Chunks: (lines + testChunkLines - 1) / testChunkLines,
			}

			one := newSQLite(t)
			sum, got := importJSON(t, nil, one.args("-v", path)...)
			checkSummary(t, "one file", expected, sum)
			checkVerbose(t, path, log, got.stderr)
			checkTruth(t, "one file", one, tr)

			// Two halves, cut inside a chunk, the second imported first.
			half := len(log.lines) / 2
			first := writeLog(t, "first.log", append(slices.Clip(log.lines[:half]), ""))
			second := writeLog(t, "second.log", log.lines[half:])
			two := newSQLite(t)
			sum2, _ := importJSON(t, nil, two.args(second)...)
			sum1, _ := importJSON(t, nil, two.args(first)...)
			if sum1.Lines+sum2.Lines != lines || sum1.Imported+sum2.Imported != expected.Imported ||
				sum1.InstanceDays+sum2.InstanceDays != expected.InstanceDays || sum1.NewInstances+sum2.NewInstances != expected.NewInstances {
				t.Errorf("halves: expected the summaries to add up to %+v, got %+v and %+v", expected, sum2, sum1)
			}
			checkTruth(t, "halves", two, tr)

			sum, _ = importJSON(t, nil, one.args(path)...)
			checkSummary(t, "again", reimported(expected), sum)
			checkRows(t, "again", tr.rows, one.rows(t))
		})
	}
}

// verboseLine is a line of -v: the file, the line number, the reason and the line quoted.
var verboseLine = regexp.MustCompile(`^(.*):([0-9]+): ([a-zA-Z -]+): (".*")$`)

// checkVerbose checks what -v printed of the import of log from path: the first lines skipped
// for each reason, as many as verboseLines, naming their file and line.
func checkVerbose(t *testing.T, path string, log oldLog, stderr string) {
	t.Helper()
	printed := map[string]int64{}
	last := map[string]int{}
	for _, line := range strings.Split(strings.TrimSuffix(stderr, "\n"), "\n") {
		if strings.HasPrefix(line, "import: ") {
			continue // progress
		}
		m := verboseLine.FindStringSubmatch(line)
		if m == nil || m[1] != path {
			t.Errorf("-v: expected %s:LINE: REASON: \"LINE\", got %q", path, line)
			continue
		}
		number, _ := strconv.Atoi(m[2])
		if number < 1 || number > len(log.lines) {
			t.Errorf("-v: expected a line number from 1 to %d, got %q", len(log.lines), line)
			continue
		}
		// A line too long to read whole is shown by its end.
		text, err := strconv.Unquote(m[4])
		if whole := log.lines[number-1]; err != nil || text != whole && (len(whole) <= maxLine || !strings.HasSuffix(whole, text)) {
			t.Errorf("-v: expected line %d as it is in the file, got %q", number, line)
			continue
		}
		if reason := log.reasons[number-1]; reason.String() != m[3] {
			t.Errorf("-v: %q: expected reason %s, got %s", line, reason, m[3])
		}
		if number <= last[m[3]] {
			t.Errorf("-v: expected the lines of a reason in order, got %q after line %d", line, last[m[3]])
		}
		printed[m[3]]++
		last[m[3]] = number
	}
	for reason, n := range log.skipped {
		if expected := min(n, verboseLines); printed[reason] != expected {
			t.Errorf("-v: expected %d lines of %s, got %d", expected, reason, printed[reason])
		}
	}
	if len(printed) != len(log.skipped) {
		t.Errorf("-v: expected lines of the reasons %v, got %v", log.skipped, printed)
	}
}

// writeLive writes events through the sqlite sink as the server records them, in batches of
// the given size.
func writeLive(t *testing.T, d testDB, events []event, size int) {
	t.Helper()
	o, err := sqlite.Parse([]string{d.value})
	if err != nil {
		t.Fatal(err)
	}
	s, err := o.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	}()
	for i := 0; i < len(events); i += size {
		var records []sink.Record
		for _, e := range events[i:min(i+size, len(events))] {
			records = append(records, sink.Record{Time: e.time, Version: e.version, Instance: e.instance.String()})
		}
		if err := s.Write(t.Context(), sink.Batch{ID: fmt.Sprint("live ", i), Records: records}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestImportLiveOverlap imports logs into databases that the server wrote to on the same days:
// an instance seen on a day by both counts once, and the hits add up.
func TestImportLiveOverlap(t *testing.T) {
	t.Run("sample", func(t *testing.T) {
		d := newSQLite(t)
		a := uuid.MustParse("5bc8fbbc-bde5-4099-8164-d8399f767c45") // in the sample on 2018-01-29, version 15
		x := uuid.MustParse("0b7c3d3e-1111-4222-8333-444455556661") // not in the sample
		writeLive(t, d, []event{
			{time.Unix(1517239600, 0).UTC(), "15", a},
			{time.Unix(1517239601, 0).UTC(), "15", a},
			{time.Unix(1517243200, 0).UTC(), "16", a}, // later that day
			{time.Unix(1517250000, 0).UTC(), "15", x},
		}, 10)
		sum, _ := importJSON(t, nil, d.args(samplePath)...)
		if sum.Imported != 6 || sum.InstanceDays != 3 || sum.NewInstances != 3 || sum.Instances != 4 {
			t.Errorf("expected 6 records, 3 instance-days and 3 instances new of 4, got %+v", sum)
		}
		expected := maps.Clone(sampleRows)
		expected[viewRow{"2018-01-29", "15", a.String()}] = rowCounts{4, 1517236000, 1517239601}
		expected[viewRow{"2018-01-29", "16", a.String()}] = rowCounts{1, 1517243200, 1517243200}
		expected[viewRow{"2018-01-29", "15", x.String()}] = rowCounts{1, 1517250000, 1517250000}
		checkRows(t, "sample over live rows", expected, d.rows(t))
		daily, err := d.store(t).Daily(t.Context(), report.Window{From: "2018-01-29", To: "2018-01-29"})
		if err != nil {
			t.Fatal(err)
		}
		if want := []report.Day{{Day: "2018-01-29", Instances: 3, Versions: map[string]int64{"0": 1, "15": 2, "16": 1}}}; !reflect.DeepEqual(daily, want) {
			t.Errorf("expected %v, got %v", want, daily)
		}
	})

	t.Run("generated", func(t *testing.T) {
		log := generateLog(3, 10000)
		d := newSQLite(t)
		// The server saw a third of the announcements, and instances that the log misses.
		var live []event
		for i, e := range log.events {
			if i%3 == 0 {
				live = append(live, e)
			}
		}
		for i := range 5 {
			id := uuid.MustParse(fmt.Sprintf("0b7c3d3e-1111-4222-8333-44445555666%d", i))
			e := log.events[len(log.events)*i/5]
			live = append(live, event{e.time.Add(time.Minute), logVersions[i], id}, event{e.time.Add(time.Hour), logVersions[i+1], id})
		}
		writeLive(t, d, live, 100)
		before := truthOf(live, nil)
		sum, _ := importJSON(t, nil, d.args(writeLog(t, "stats.log", log.lines))...)
		all := append(slices.Clip(live), log.events...)
		after := truthOf(all, nil)
		if sum.InstanceDays != int64(after.instanceDays-before.instanceDays) || sum.NewInstances != int64(len(after.instances)-len(before.instances)) {
			t.Errorf("expected %d instance-days and %d instances added, got %+v", after.instanceDays-before.instanceDays,
				len(after.instances)-len(before.instances), sum)
		}
		checkTruth(t, "log over live rows", d, after)
	})
}

// TestImportHashIDs imports with hash_ids: the IDs stored are the server's digests, with
// -hash-secret or from the Corefile of -conf, and a database of one kind of ID refuses the
// other, even for lines imported before.
func TestImportHashIDs(t *testing.T) {
	const secret = "s3cret"
	h := hashid.New(secret)
	hashed := map[viewRow]rowCounts{}
	for k, c := range sampleRows {
		k.instance = h.Hash(k.instance)
		hashed[k] = c
	}
	other := writeLog(t, "other.log", generateLog(4, 1000).lines)

	hdb := newSQLite(t)
	sum, _ := importJSON(t, nil, hdb.args("-hash-secret", secret, samplePath)...)
	checkSummary(t, "hashed", sampleSummary, sum)
	checkRows(t, "hashed", hashed, hdb.rows(t))

	raw := newSQLite(t)
	importJSON(t, nil, raw.args(samplePath)...)

	refusals := []struct {
		name, kind string
		d          testDB
		args       []string
	}{
		{"raw IDs into a hashed database", "the database holds hash_ids digests", hdb, []string{other}},
		{"raw IDs of lines imported before into a hashed database", "the database holds hash_ids digests", hdb, []string{samplePath}},
		{"digests into a raw database", "the database holds raw instance IDs", raw, []string{"-hash-secret", secret, other}},
		{"digests of lines imported before into a raw database", "the database holds raw instance IDs", raw, []string{"-hash-secret", secret, samplePath}},
	}
	for _, tc := range refusals {
		before := tc.d.rows(t)
		got := runCommand(tc.d.command("import", tc.args...)...)
		if got.exit != exitFailure || !strings.HasPrefix(got.stderr, "mailustats import: ") || !strings.Contains(got.stderr, tc.kind) ||
			strings.Count(got.stderr, "\n") != 1 {
			t.Errorf("%s: expected exit 1 and one line of error with %q, got %d, %q", tc.name, tc.kind, got.exit, got.stderr)
		}
		checkRows(t, tc.name, before, tc.d.rows(t))
	}

	// The Corefile's hash_ids.
	path := filepath.Join(t.TempDir(), "stats.db")
	corefile := writeFile(t, "Corefile", []byte("stats.mailu.io {\n  mailustats {\n    ns ns1.stats.mailu.io 127.0.0.1\n"+
		"    hash_ids "+secret+"\n    sink sqlite "+path+"\n  }\n}\n"))
	conf := testDB{"-conf", corefile}
	sum, _ = importJSON(t, nil, conf.args(samplePath)...)
	checkSummary(t, "-conf", sampleSummary, sum)
	checkRows(t, "-conf", hashed, conf.rows(t))
	checkRows(t, "-conf, read with -sqlite", hashed, testDB{"-sqlite", path}.rows(t))
	log := generateLog(5, 5000)
	importJSON(t, nil, conf.args(writeLog(t, "stats.log", log.lines))...)
	checkTruth(t, "-conf", conf, truthOf(append(log.events, sampleEvents()...), h.Hash))
}

// sampleEvents are the records of the sample.
func sampleEvents() []event {
	var events []event
	for k, c := range sampleRows {
		id := uuid.MustParse(k.instance)
		events = append(events, event{time.Unix(c.firstSeen, 0).UTC(), k.version, id})
		for range c.hits - 1 {
			events = append(events, event{time.Unix(c.lastSeen, 0).UTC(), k.version, id})
		}
	}
	return events
}

// The environment variables that name the database of the child process of TestImportKilled,
// and the log it reads the first killedLines lines of.
const (
	killedEnv    = "TEST_MAILUSTATS_IMPORT_KILLED"
	killedLogEnv = "TEST_MAILUSTATS_IMPORT_KILLED_LOG"
)

// killedLines is how many lines the killed import reads: more than a chunk, less than two.
const killedLines = testChunkLines + testChunkLines/8

// TestImportKilled kills an import with SIGKILL once it has stored its first chunk, while it
// waits for more lines; the import started again on the whole file ends with the database of
// one clean import.
func TestImportKilled(t *testing.T) {
	if db := os.Getenv(killedEnv); db != "" {
		data, err := os.ReadFile(os.Getenv(killedLogEnv))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.SplitAfter(string(data), "\n")[:killedLines]
		r, w := io.Pipe()
		go func() {
			io.WriteString(w, strings.Join(lines, ""))
			time.Sleep(time.Hour) // never closed: the import waits for more
			w.Close()
		}()
		exit := run([]string{"import", "-sqlite", db, "-"}, r, os.Stdout, os.Stderr)
		t.Fatalf("expected to be killed, the import ended with %d", exit)
	}

	t.Parallel()
	log := generateLog(6, testChunkLines+testChunkLines/2)
	if len(log.lines) <= killedLines || len(log.lines) > 2*testChunkLines {
		t.Fatalf("expected more lines than the killed import reads, in two chunks, got %d", len(log.lines))
	}
	path := writeLog(t, "stats.log", log.lines)
	killed := newSQLite(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestImportKilled$", "-test.count=1")
	cmd.Env = append(os.Environ(), killedEnv+"="+killed.value, killedLogEnv+"="+path)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	batches := func() int {
		if _, err := os.Stat(killed.value); err != nil {
			return -1 // not made yet: a reader would make it
		}
		reader, err := killed.database(t).opener.OpenReader()
		if err != nil {
			t.Fatal(err)
		}
		defer reader.Close()
		n := -1 // before the tables are made
		reader.QueryRow(`SELECT count(*) FROM batches WHERE id LIKE '` + table.ImportPrefix + `%'`).Scan(&n)
		return n
	}
	for deadline := time.Now().Add(time.Minute); batches() < 1; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the import did not store its first chunk in a minute; its output:\n%s", out.String())
		}
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Fatalf("expected the import to be killed, it ended:\n%s", out.String())
	}
	if n := batches(); n != 1 {
		t.Fatalf("expected the killed import to have stored one chunk, got %d", n)
	}
	stored := log.eventsBefore(testChunkLines)
	checkRows(t, "killed", truthOf(stored, nil).rows, killed.rows(t))

	tr := truthOf(log.events, nil)
	sum, _ := importJSON(t, nil, killed.args(path)...)
	if sum.Chunks != 2 || sum.ChunksBefore != 1 || sum.Lines != int64(len(log.lines)) ||
		sum.Imported != int64(len(log.events)-len(stored)) || sum.Instances != int64(len(tr.instances)) {
		t.Errorf("expected 2 chunks, the first stored before, of %d lines, %d records to import and %d instances, got %+v",
			len(log.lines), len(log.events)-len(stored), len(tr.instances), sum)
	}
	clean := newSQLite(t)
	importJSON(t, nil, clean.args(path)...)
	checkRows(t, "killed and started again", clean.rows(t), killed.rows(t))
	if c, k := clean.report(t), killed.report(t); !reflect.DeepEqual(c, k) {
		t.Errorf("expected the report %+v, got %+v", c, k)
	}
	checkTruth(t, "killed and started again", killed, tr)
}

// TestImportPostgres imports the sample and a generated log into PostgreSQL: the database
// holds what SQLite does, and an import again changes nothing.
func TestImportPostgres(t *testing.T) {
	t.Parallel()
	pg := newPostgres(t)
	lite := newSQLite(t)
	log := generateLog(7, testChunkLines+testChunkLines/4)
	path := writeLog(t, "stats.log", log.lines)
	var sums [2][]importSummary
	for i, d := range []testDB{pg, lite} {
		for _, file := range []string{samplePath, path} {
			sum, _ := importJSON(t, nil, d.args(file)...)
			sum.Elapsed = ""
			sums[i] = append(sums[i], sum)
		}
	}
	if !reflect.DeepEqual(sums[0], sums[1]) {
		t.Errorf("expected the summaries of SQLite\n%+v\ngot\n%+v", sums[1], sums[0])
	}
	rows := pg.rows(t)
	checkRows(t, "postgres and sqlite", lite.rows(t), rows)
	if p, l := pg.report(t), lite.report(t); !reflect.DeepEqual(p, l) {
		t.Errorf("expected the report of SQLite %+v, got %+v", l, p)
	}
	checkTruth(t, "postgres", pg, truthOf(append(sampleEvents(), log.events...), nil))

	for i, file := range []string{path, samplePath} {
		sum, _ := importJSON(t, nil, pg.args(file)...)
		checkSummary(t, "again", reimported(sums[0][1-i]), sum)
	}
	got := runCommand(pg.command("import", samplePath, path)...)
	if got.exit != exitOK || !strings.HasSuffix(got.stdout, "\nnothing changed: every batch of these lines was imported before\n") {
		t.Errorf("expected exit 0 and nothing changed, got %d, %q, %q", got.exit, got.stdout, got.stderr)
	}
	checkRows(t, "postgres again", rows, pg.rows(t))
}

func TestImportUsage(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "stats.db")
	missing := filepath.Join(dir, "missing.log")
	data, err := os.ReadFile(samplePath)
	if err != nil {
		t.Fatal(err)
	}
	gz := gzipped(t, data)
	truncated := writeFile(t, "truncated.log.gz", gz[:len(gz)-10])
	corrupt := writeFile(t, "corrupt.log", []byte("\x1f\x8bnot gzip at all"))
	tests := []struct {
		args   []string
		exit   int
		stderr string // substring
	}{
		{args: []string{"-h"}, exit: exitOK, stderr: "Usage: mailustats import [-hash-secret S] [-v] [-json] (-sqlite PATH | -postgres DSN | -conf COREFILE) FILE...\n"},
		{args: []string{"-sqlite", db}, exit: exitUsage, stderr: "mailustats import: name the files to import, or - for standard input\n"},
		{args: nil, exit: exitUsage, stderr: "mailustats import: name the files to import"},
		{args: []string{samplePath}, exit: exitUsage, stderr: "mailustats import: name the database with exactly one of -sqlite, -postgres or -conf\n"},
		{args: []string{"-nosuch", samplePath}, exit: exitUsage, stderr: "flag provided but not defined: -nosuch\n"},
		{args: []string{"-sqlite", db, missing}, exit: exitFailure, stderr: "mailustats import: open " + missing + ": no such file or directory\n"},
		{args: []string{"-sqlite", db, samplePath, missing}, exit: exitFailure, stderr: "mailustats import: open " + missing + ": "},
		{args: []string{"-sqlite", db, dir}, exit: exitFailure, stderr: "mailustats import: read " + dir + ": is a directory\n"},
		{args: []string{"-sqlite", db, truncated}, exit: exitFailure, stderr: "mailustats import: " + truncated + ": line "},
		{args: []string{"-sqlite", db, corrupt}, exit: exitFailure, stderr: "mailustats import: read " + corrupt + ": gzip: invalid header\n"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			got := runCommand(append([]string{"import"}, tc.args...)...)
			if got.exit != tc.exit || !strings.Contains(got.stderr, tc.stderr) || got.stdout != "" {
				t.Errorf("expected exit %d and %q, got %d, %q, %q", tc.exit, tc.stderr, got.exit, got.stderr, got.stdout)
			}
			if tc.exit == exitFailure && strings.Count(got.stderr, "\n") != 1 {
				t.Errorf("expected one line of error, got %q", got.stderr)
			}
		})
	}
	// Nothing was imported, not even the files before the one that failed.
	if _, err := os.Stat(db); err == nil {
		if rows := (testDB{"-sqlite", db}).rows(t); len(rows) != 0 {
			t.Errorf("expected nothing imported, got %d rows", len(rows))
		}
	}
}
