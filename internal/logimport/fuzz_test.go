package logimport

import (
	"bytes"
	"os"
	"testing"
	"time"

	"github.com/mailustats/mailustats/plugin/qname"
)

// FuzzParse checks that Parse never panics, leaves the line as it was, and returns only records
// the DNS path would have recorded, at a time within the bounds; and that the sink's own jsonl
// form, read without decoding, means what any JSON decoder reads in it.
func FuzzParse(f *testing.F) {
	for _, tc := range parseTests {
		f.Add([]byte(tc.line))
	}
	sample, err := os.ReadFile(samplePath)
	if err != nil {
		f.Fatal(err)
	}
	for _, line := range bytes.Split(sample, []byte("\n")) {
		f.Add(line)
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		before := bytes.Clone(line)
		rec, reason := Parse(line, now)
		if !bytes.Equal(line, before) {
			t.Fatalf("Parse(%q) changed the line to %q", before, line)
		}
		checkRecord(t, line, rec, reason)
		if len(line) == 0 || line[len(line)-1] != '\r' {
			rec2, reason2 := Parse(append(bytes.Clone(line), '\r'), now)
			if rec2 != rec || reason2 != reason {
				t.Errorf("Parse(%q): expected the same with a \\r as without, %s %+v, got %s %+v", line, reason, rec, reason2, rec2)
			}
		}
		if fast, ok := sinkJSON(line); ok {
			slow, ok := decodeJSON(line)
			if !ok {
				t.Fatalf("%q: read without decoding, but it is no JSON object of three strings", line)
			}
			rf, why := fast.parse(now)
			rs, whys := slow.parse(now)
			if rf != rs || why != whys {
				t.Errorf("%q: expected %s %+v as decoded, got %s %+v", line, whys, rs, why, rf)
			}
		}
	})
}

// checkRecord fails t unless reason is a known one and a record comes only with None, by the
// rules of the DNS path.
func checkRecord(t *testing.T, line []byte, rec Record, reason Reason) {
	t.Helper()
	if reason < None || reason > BadFormat {
		t.Fatalf("Parse(%q): unknown reason %d", line, reason)
	}
	if reason != None {
		if rec != (Record{}) {
			t.Errorf("Parse(%q): expected no record with reason %s, got %+v", line, reason, rec)
		}
		return
	}
	if v, ok := qname.ParseVersion(rec.Version); !ok || v.String() != rec.Version {
		t.Errorf("Parse(%q): version %q is not one the DNS path records", line, rec.Version)
	}
	if id, ok := qname.ParseInstance(rec.Instance.String()); !ok || id != rec.Instance {
		t.Errorf("Parse(%q): instance %s is not one the DNS path records", line, rec.Instance)
	}
	low := time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)
	if rec.Time.Before(low) || rec.Time.After(now.Add(24*time.Hour)) {
		t.Errorf("Parse(%q): time %v out of bounds", line, rec.Time)
	}
	if rec.Time.Location() != time.UTC || rec.Time.Nanosecond() != 0 {
		t.Errorf("Parse(%q): expected whole seconds in UTC, got %v", line, rec.Time)
	}
}
