package logimport

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mailustats/mailustats/plugin/hashid"
	"github.com/mailustats/mailustats/plugin/sink"
)

const (
	// id is a version 4 UUID with the RFC 9562 variant; idMixed is the same in mixed case.
	id      = "3f2b8c1e-9a4d-4e6f-8b2a-1c3d5e7f9a0b"
	idMixed = "3F2b8C1e-9A4d-4E6f-8B2a-1C3d5E7f9A0B"
	// idV1 is a version 1 UUID, which the DNS path refuses.
	idV1 = "3f2b8c1e-9a4d-1e6f-8b2a-1c3d5e7f9a0b"
	// digest is a hash_ids digest of id.
	digest = "9c4b1f0e8d7a6b5c4d3e2f1a0b9c8d7e"
)

// now is the time the lines are parsed at.
var now = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

// parseTest is a line and what Parse must make of it; version, id and sec are checked for None.
type parseTest struct {
	line    string
	reason  Reason
	version string
	id      string
	sec     int64
}

var parseTests = []parseTest{
	// The packet sniffer: lower case, float seconds, truncated.
	{"15," + id + ",1517236000.124301", None, "15", id, 1517236000},
	{"0," + id + ",1517240111.5", None, "0", id, 1517240111},
	{"15," + id + ",1517236000.999999", None, "15", id, 1517236000},
	{"15," + id + ",1517236000.", None, "15", id, 1517236000}, // cut after the dot
	{"15," + id + ",1517236000.0", None, "15", id, 1517236000},

	// The Go server: the resolver's letter case, integer seconds.
	{"18," + id + ",1600000001", None, "18", id, 1600000001},
	{"MaSTer," + idMixed + ",1600000100", None, "master", id, 1600000100},
	{"V2_0-RC1," + id + ",1600000100", None, "v2_0-rc1", id, 1600000100},
	{strings.Repeat("v", 32) + "," + id + ",1600000100", None, strings.Repeat("v", 32), id, 1600000100},
	{idMixed + ",1600000000", OneLabel, "", "", 0},
	{"anything,1600000000", OneLabel, "", "", 0},
	{",1600000004", Apex, "", "", 0},
	{"1,9," + id + ",1600000200", BadVersion, "", "", 0}, // a label with a comma
	{"a,b," + id + ",1600000200", BadVersion, "", "", 0}, // three labels
	{"19," + id + ",x,1600000200", BadVersion, "", "", 0},
	{"," + id + ",1600000200", BadVersion, "", "", 0},
	{strings.Repeat("v", 33) + "," + id + ",1600000100", BadVersion, "", "", 0},
	{"2024.06," + id + ",1600000100", BadVersion, "", "", 0},
	{`a\.b,` + id + ",1600000100", BadVersion, "", "", 0},
	{"19,not-a-uuid,1600000300", BadUUID, "", "", 0},
	{"19,,1600000300", BadUUID, "", "", 0},
	{"19," + idV1 + ",1600000300", BadUUID, "", "", 0},
	{"19," + strings.ReplaceAll(id, "-", "") + ",1600000300", BadUUID, "", "", 0},
	{"19,{" + id + "},1600000300", BadUUID, "", "", 0},
	{"19," + digest + ",1600000300", BadUUID, "", "", 0}, // a csv sink file with hash_ids

	// Times: missing, not a number as the servers wrote them, out of bounds.
	{"19," + id + ",", BadTime, "", "", 0},
	{"19," + id + ",-1600000000", BadTime, "", "", 0},
	{"19," + id + ",+1600000000", BadTime, "", "", 0},
	{"19," + id + ",1.6e9", BadTime, "", "", 0},
	{"19," + id + ",nan", BadTime, "", "", 0},
	{"19," + id + ",NaN", BadTime, "", "", 0},
	{"19," + id + ",inf", BadTime, "", "", 0},
	{"19," + id + ",.5", BadTime, "", "", 0},
	{"19," + id + ",1600000000.5.5", BadTime, "", "", 0},
	{"19," + id + ", 1600000000", BadTime, "", "", 0},
	{"19," + id + ",1600000000 ", BadTime, "", "", 0},
	{"19," + id + ",1600000000x", BadTime, "", "", 0},
	{"19," + id + ",999999999999999999", BadTime, "", "", 0},
	{"19," + id + ",99999999999999999999999", BadTime, "", "", 0},
	{"19," + id + ",1420070399", BadTime, "", "", 0},
	{"19," + id + ",1420070399.999", BadTime, "", "", 0},
	{"19," + id + ",1420070400", None, "19", id, 1420070400},
	{"19," + id + ",0001420070400", None, "19", id, 1420070400},
	{"19," + id + ",1796126400", None, "19", id, 1796126400},    // now + 24h
	{"19," + id + ",1796126401", BadTime, "", "", 0},            // a second later
	{"garbage," + id + ",1796126401", BadTime, "", "", 0},       // the time first
	{",1000", BadTime, "", "", 0},                               // even for the apex
	{"hello,world", BadTime, "", "", 0},                         // the last field is the time
	{"19,not-a-uuid,", BadTime, "", "", 0},                      // so a bad label is not looked at
	{"version,instance,time", BadTime, "", "", 0},               // a header, which no sink writes
	{"15," + id + ",1517236000.12", None, "15", id, 1517236000}, // cut in the fraction

	// Cut short by a crash.
	{"19,5bc8fbbc-bde5-4099-8", BadTime, "", "", 0},
	{"19," + id + ",16000", BadTime, "", "", 0},
	{"19," + id, BadTime, "", "", 0},
	{"19,", BadTime, "", "", 0},
	{"19", BadFormat, "", "", 0},
	{`{"time":"2024-05-06T05:08:09Z","version":"18","inst`, BadFormat, "", "", 0},

	// A trailing \r, as a file that went through Windows has.
	{"18," + id + ",1600000001\r", None, "18", id, 1600000001},
	{",1600000001\r", Apex, "", "", 0},
	{"18," + id + ",1600000001\r\r", BadTime, "", "", 0},
	{"\r", BadFormat, "", "", 0},

	// Neither form.
	{"", BadFormat, "", "", 0},
	{"hello", BadFormat, "", "", 0},
	{"1600000000", BadFormat, "", "", 0},
	{"{", BadFormat, "", "", 0},
	{"{}", BadFormat, "", "", 0},
	{"[1,2,1600000000]", BadTime, "", "", 0}, // only a { starts JSON
	{`{"time":"2024-05-06T05:08:09Z","version":"18"}`, BadFormat, "", "", 0},
	{`{"time":"2024-05-06T05:08:09Z","version":18,"instance":"` + id + `"}`, BadFormat, "", "", 0},
	{`{"time":null,"version":"18","instance":"` + id + `"}`, BadFormat, "", "", 0},
	{`{"time":"2024-05-06T05:08:09Z","version":"18","instance":"` + id + `"} x`, BadFormat, "", "", 0},
	{`{"time":"2024-05-06T05:08:09Z","version":"1` + "\x01" + `","instance":"` + id + `"}`, BadFormat, "", "", 0},

	// The jsonl sink file, and JSON that only says the same.
	{`{"time":"2024-05-06T05:08:09Z","version":"18","instance":"` + id + `"}`, None, "18", id, 1714972089},
	{`{"time":"2024-05-06T05:08:09Z","version":"MASTER","instance":"` + idMixed + `"}`, None, "master", id, 1714972089},
	{`{"time":"2024-05-06T07:08:09.75+02:00","version":"18","instance":"` + id + `"}`, None, "18", id, 1714972089},
	{`{ "instance": "` + id + `", "version": "18", "time": "2024-05-06T05:08:09Z", "host": "a" }`, None, "18", id, 1714972089},
	{`{"time":"2024-05-06T05:08:09Z","version":"\u0031\u0038","instance":"` + id + `"}`, None, "18", id, 1714972089},
	{`{"time":"2024-05-06T05:08:09Z","version":"18","instance":"` + id + `"}` + "\r", None, "18", id, 1714972089},
	{`{"time":"2024-05-06 05:08:09Z","version":"18","instance":"` + id + `"}`, BadTime, "", "", 0},
	{`{"time":"1600000000","version":"18","instance":"` + id + `"}`, BadTime, "", "", 0},
	{`{"time":"2014-12-31T23:59:59Z","version":"x","instance":"x"}`, BadTime, "", "", 0},
	{`{"time":"2026-12-01T12:00:01Z","version":"18","instance":"` + id + `"}`, BadTime, "", "", 0},
	{`{"time":"2024-05-06T05:08:09Z","version":"2024.06","instance":"x"}`, BadVersion, "", "", 0},
	{`{"time":"2024-05-06T05:08:09Z","version":"1\"8","instance":"` + id + `"}`, BadVersion, "", "", 0},
	{`{"time":"2024-05-06T05:08:09Z","version":"","instance":"` + id + `"}`, BadVersion, "", "", 0},
	{`{"time":"2024-05-06T05:08:09Z","version":"18","instance":"` + digest + `"}`, BadUUID, "", "", 0},
	{`{"time":"2024-05-06T05:08:09Z","version":"18","instance":"b"}`, BadUUID, "", "", 0},
}

func TestParse(t *testing.T) {
	for i, tc := range parseTests {
		rec, reason := Parse([]byte(tc.line), now)
		if reason != tc.reason {
			t.Errorf("test %d: Parse(%q): expected reason %s, got %s", i, tc.line, tc.reason, reason)
			continue
		}
		if reason != None {
			if rec != (Record{}) {
				t.Errorf("test %d: Parse(%q): expected no record with reason %s, got %+v", i, tc.line, reason, rec)
			}
			continue
		}
		expected := Record{Time: time.Unix(tc.sec, 0).UTC(), Version: tc.version, Instance: uuid.MustParse(tc.id)}
		if rec != expected {
			t.Errorf("test %d: Parse(%q): expected %+v, got %+v", i, tc.line, expected, rec)
		}
		if rec.Time.Location() != time.UTC {
			t.Errorf("test %d: Parse(%q): expected a time in UTC, got %v", i, tc.line, rec.Time)
		}
	}
}

// The same instance in any letter case is the same UUID.
func TestParseCase(t *testing.T) {
	lines := []string{
		"18," + id + ",1600000001",
		"18," + strings.ToUpper(id) + ",1600000001",
		"18," + idMixed + ",1600000001",
		`{"time":"2020-09-13T12:26:41Z","version":"18","instance":"` + strings.ToUpper(id) + `"}`,
	}
	for _, line := range lines {
		rec, reason := Parse([]byte(line), now)
		if reason != None {
			t.Fatalf("Parse(%q): expected a record, got %s", line, reason)
		}
		if rec.Instance != uuid.MustParse(id) {
			t.Errorf("Parse(%q): expected instance %s, got %s", line, id, rec.Instance)
		}
	}
}

func TestMinSeconds(t *testing.T) {
	if got := time.Unix(minSeconds, 0).UTC(); !got.Equal(time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("expected minSeconds to be 2015-01-01T00:00:00Z, got %v", got)
	}
}

func TestReasons(t *testing.T) {
	expected := []string{"one-label", "apex", "malformed version", "malformed UUID", "bad time", "bad format"}
	if len(Reasons) != len(expected) {
		t.Fatalf("expected %d reasons, got %v", len(expected), Reasons)
	}
	for i, r := range Reasons {
		if r.String() != expected[i] {
			t.Errorf("reason %d: expected %q, got %q", i, expected[i], r.String())
		}
	}
	if None.String() != "none" {
		t.Errorf("expected None to be %q, got %q", "none", None.String())
	}
}

// samplePath is a copy of the shared sample of the old servers' logs (shared/old-logs), so that
// the tests need nothing outside the repository.
const samplePath = "testdata/output.log"

// TestSample reads the sample line by line as the importer does: through Open, without a
// newline after the last line.
func TestSample(t *testing.T) {
	const (
		id15 = "5bc8fbbc-bde5-4099-8164-d8399f767c45"
		id0  = "d76d4330-f144-4bea-b0c1-1fdecb91ce37"
		id18 = "87b0b125-ec1d-4da0-a6eb-8c9ebd69fe29"
		idM  = "c6a53877-7733-4bdb-9721-0dff076ce2ef"
	)
	expected := []parseTest{
		{"15," + id15 + ",1517236000.124301", None, "15", id15, 1517236000},
		{"a resolver's retry", None, "15", id15, 1517236002},
		{"first era, version 0", None, "0", id0, 1517240111},
		{"QNAME minimisation", OneLabel, "", "", 0},
		{"again, in another case", OneLabel, "", "", 0},
		{"second era, mixed case", None, "18", id18, 1600000001},
		{"a retry", None, "18", id18, 1600000003},
		{"the apex", Apex, "", "", 0},
		{"master, mixed case", None, "master", idM, 1600000100},
		{"a label with a comma", BadVersion, "", "", 0},
		{"not a UUID", BadUUID, "", "", 0},
		{"no time", BadTime, "", "", 0},
		{"an empty line", BadFormat, "", "", 0},
		{"cut short: its last field is not a time", BadTime, "", "", 0},
	}
	lines := readLines(t, samplePath)
	if len(lines) != len(expected) {
		t.Fatalf("expected %d lines, got %d", len(expected), len(lines))
	}
	instances := map[uuid.UUID]bool{}
	versions := map[string]bool{}
	records := 0
	for i, line := range lines {
		tc := expected[i]
		rec, reason := Parse([]byte(line), now)
		if reason != tc.reason {
			t.Errorf("line %d (%s) %q: expected reason %s, got %s", i+1, tc.line, line, tc.reason, reason)
			continue
		}
		if reason != None {
			continue
		}
		records++
		instances[rec.Instance] = true
		versions[rec.Version] = true
		want := Record{Time: time.Unix(tc.sec, 0).UTC(), Version: tc.version, Instance: uuid.MustParse(tc.id)}
		if rec != want {
			t.Errorf("line %d (%s): expected %+v, got %+v", i+1, tc.line, want, rec)
		}
	}
	if records != 6 || len(instances) != 4 || len(versions) != 4 {
		t.Errorf("expected 6 records of 4 instances and 4 versions, got %d of %d and %v", records, len(instances), versions)
	}
}

// The copy in testdata is the shared sample, where the shared folder is at hand.
func TestSampleIsShared(t *testing.T) {
	shared, err := os.ReadFile("../../../shared/old-logs/output.log")
	if err != nil {
		t.Skipf("no shared sample: %v", err)
	}
	copied, err := os.ReadFile(samplePath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(copied, shared) {
		t.Errorf("expected %s to be a copy of the shared sample", samplePath)
	}
}

// readLines reads a file's lines as the importer does.
func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// The lines the file sink writes, in both formats, are read back as the records they hold; those
// written with hash_ids are not.
func TestParseSinkFile(t *testing.T) {
	plus2 := time.FixedZone("UTC+2", 2*3600)
	other := "c6a53877-7733-4bdb-9721-0dff076ce2ef"
	written := []sink.Record{
		{Time: time.Date(2024, 5, 6, 7, 8, 9, 500_000_000, plus2), Version: "2024-06", Instance: id},
		{Time: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), Version: "master", Instance: other},
		{Time: time.Date(2025, 1, 2, 3, 4, 6, 0, time.UTC), Version: "master", Instance: hashid.New("secret").Hash(other)},
		{Time: time.Date(2014, 12, 31, 23, 59, 59, 0, time.UTC), Version: "1.5", Instance: id},
	}
	expected := []struct {
		reason Reason
		rec    Record
	}{
		{None, Record{Time: time.Date(2024, 5, 6, 5, 8, 9, 0, time.UTC), Version: "2024-06", Instance: uuid.MustParse(id)}},
		{None, Record{Time: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), Version: "master", Instance: uuid.MustParse(other)}},
		{BadUUID, Record{}},
		{BadTime, Record{}},
	}
	for _, format := range []string{"csv", "jsonl"} {
		lines := writeSink(t, format, written)
		if len(lines) != len(expected) {
			t.Fatalf("%s: expected %d lines, got %d", format, len(expected), len(lines))
		}
		for i, line := range lines {
			rec, reason := Parse([]byte(line), now)
			if reason != expected[i].reason || rec != expected[i].rec {
				t.Errorf("%s line %d %q: expected %s %+v, got %s %+v", format, i+1, line, expected[i].reason, expected[i].rec, reason, rec)
			}
			if _, ok := sinkJSON([]byte(line)); format == "jsonl" && !ok {
				t.Errorf("%s line %d %q: expected the form sinkJSON reads without decoding", format, i+1, line)
			}
		}
	}
}

// writeSink writes recs through a file sink in format and returns the file's lines.
func writeSink(t *testing.T, format string, recs []sink.Record) []string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sink."+format)
	o, err := sink.ParseFile([]string{path, format})
	if err != nil {
		t.Fatal(err)
	}
	s, err := o.Open()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(context.Background(), sink.Batch{ID: "test", Records: recs}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return readLines(t, path)
}

// Parse allocates nothing for a skipped line and only the version's string for a record (a
// jsonl line with a bad time allocates time.Parse's error).
func TestParseAllocs(t *testing.T) {
	long := strings.Repeat("x", 40)
	tests := []struct {
		line   string
		allocs float64
	}{
		{"15," + id + ",1517236000.124301", 1},
		{"MaSTer," + idMixed + ",1600000100", 1},
		{`{"time":"2024-05-06T05:08:09Z","version":"18","instance":"` + id + `"}`, 1},
		{idMixed + ",1600000000", 0},
		{",1600000004", 0},
		{"1,9," + id + ",1600000200", 0},
		{long + "," + id + ",1600000200", 0},
		{"19," + long + ",1600000200", 0},
		{"19," + id + ",", 0},
		{"", 0},
		{`{"time":"2024-05-06T05:08:09Z","version":"` + long + `","instance":"` + id + `"}`, 0},
		{`{"time":"2024-05-06T05:08:09Z","version":"18","instance":"` + long + `"}`, 0},
	}
	for i, tc := range tests {
		line := []byte(tc.line)
		if got := testing.AllocsPerRun(100, func() { Parse(line, now) }); got > tc.allocs {
			t.Errorf("test %d: Parse(%q): expected at most %v allocations, got %v", i, tc.line, tc.allocs, got)
		}
	}
}
