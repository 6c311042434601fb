package sink

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParseFile(t *testing.T) {
	tests := []struct {
		kind      string
		args      []string
		shouldErr bool
		format    fileFormat
		label     string
	}{
		{"file", []string{"/var/lib/mailustats/a.csv"}, false, formatCSV, "file:/var/lib/mailustats/a.csv"},
		{"file", []string{"a.csv", "csv"}, false, formatCSV, "file:a.csv"},
		{"file", []string{"a.jsonl", "jsonl"}, false, formatJSONL, "file:a.jsonl"},
		{"file", nil, true, 0, ""},
		{"file", []string{}, true, 0, ""},
		{"file", []string{"a.csv", "csv", "extra"}, true, 0, ""},
		{"file", []string{"a.csv", "xml"}, true, 0, ""},
		{"file", []string{"a.csv", "CSV"}, true, 0, ""},
	}
	for i, tc := range tests {
		o, err := ParseFile(tc.args)
		if tc.shouldErr {
			if err == nil {
				t.Errorf("test %d: ParseFile(%q): expected error, got %#v", i, tc.args, o)
			}
			continue
		}
		if err != nil {
			t.Errorf("test %d: ParseFile(%q): expected no error, got %v", i, tc.args, err)
			continue
		}
		if got := o.Label(); got != tc.label {
			t.Errorf("test %d: expected label %q, got %q", i, tc.label, got)
		}
		fo, ok := o.(fileOpener)
		if !ok {
			t.Errorf("test %d: expected a fileOpener, got %T", i, o)
			continue
		}
		if fo.format != tc.format {
			t.Errorf("test %d: expected format %d, got %d", i, tc.format, fo.format)
		}
	}
}

func TestParseOpensNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.csv")
	if _, err := ParseFile([]string{path}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("expected Parse to create no file, Stat gave %v", err)
	}
}

// openFile opens a file sink at path through Parse, as setup does.
func openFile(t testing.TB, path string, args ...string) Sink {
	t.Helper()
	o, err := ParseFile(append([]string{path}, args...))
	if err != nil {
		t.Fatal(err)
	}
	s, err := o.Open()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// readCSV parses a csv sink file into records; every line must have exactly three fields.
func readCSV(t *testing.T, path string) []Record {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cr := csv.NewReader(f)
	cr.FieldsPerRecord = 3
	var recs []Record
	for {
		line, err := cr.Read()
		if err == io.EOF {
			return recs
		}
		if err != nil {
			t.Fatalf("%s: line %d: %v", path, len(recs)+1, err)
		}
		sec, err := strconv.ParseInt(line[2], 10, 64)
		if err != nil {
			t.Fatalf("%s: line %d: time %q: %v", path, len(recs)+1, line[2], err)
		}
		recs = append(recs, Record{Version: line[0], Instance: line[1], Time: time.Unix(sec, 0)})
	}
}

// readJSONL parses a jsonl sink file into records; every line must be an object with exactly
// the fields time (RFC 3339 in UTC), version and instance.
func readJSONL(t *testing.T, path string) []Record {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Fatalf("%s: expected a newline at the end, got %q", path, data)
	}
	var recs []Record
	for i, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if line == "" && len(data) == 0 {
			break
		}
		var fields map[string]string
		if err := json.Unmarshal([]byte(line), &fields); err != nil {
			t.Fatalf("%s: line %d %q: %v", path, i+1, line, err)
		}
		if len(fields) != 3 {
			t.Fatalf("%s: line %d: expected 3 fields, got %v", path, i+1, fields)
		}
		ts, err := time.Parse(time.RFC3339, fields["time"])
		if err != nil {
			t.Fatalf("%s: line %d: time: %v", path, i+1, err)
		}
		if !strings.HasSuffix(fields["time"], "Z") {
			t.Errorf("%s: line %d: expected a UTC time, got %q", path, i+1, fields["time"])
		}
		recs = append(recs, Record{Time: ts, Version: fields["version"], Instance: fields["instance"]})
	}
	return recs
}

// sameRecords reports whether a and b hold the same records, to the second, in the same order.
func sameRecords(a, b []Record) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if recordKey(a[i]) != recordKey(b[i]) {
			return false
		}
	}
	return true
}

// recordKey identifies a record as the sinks store it: to the second.
func recordKey(r Record) string {
	return r.Version + "|" + r.Instance + "|" + strconv.FormatInt(r.Time.Unix(), 10)
}

var (
	plus2 = time.FixedZone("UTC+2", 2*3600)
	batch = []Record{
		{Time: time.Date(2024, 5, 6, 7, 8, 9, 500_000_000, plus2), Version: "2024.06", Instance: "0f8e3a5c-1c2d-4e5f-8a9b-0c1d2e3f4a5b"},
		{Time: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), Version: "master", Instance: "b"},
	}
)

func TestFileCSV(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.csv")
	s := openFile(t, path, "csv")
	if err := s.Write(context.Background(), Batch{ID: "test", Records: batch}); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(context.Background(), Batch{ID: "test", Records: batch[1:]}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	expected := "2024.06,0f8e3a5c-1c2d-4e5f-8a9b-0c1d2e3f4a5b,1714972089\n" +
		"master,b,1735787045\n" +
		"master,b,1735787045\n"
	if string(data) != expected {
		t.Errorf("expected file\n%s\ngot\n%s", expected, data)
	}
	want := append(append([]Record{}, batch...), batch[1])
	if got := readCSV(t, path); !sameRecords(got, want) {
		t.Errorf("expected records %v, got %v", want, got)
	}
}

func TestFileJSONL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.jsonl")
	s := openFile(t, path, "jsonl")
	if err := s.Write(context.Background(), Batch{ID: "test", Records: batch}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	expected := `{"time":"2024-05-06T05:08:09Z","version":"2024.06","instance":"0f8e3a5c-1c2d-4e5f-8a9b-0c1d2e3f4a5b"}` + "\n" +
		`{"time":"2025-01-02T03:04:05Z","version":"master","instance":"b"}` + "\n"
	if string(data) != expected {
		t.Errorf("expected file\n%s\ngot\n%s", expected, data)
	}
	got := readJSONL(t, path)
	if !sameRecords(got, batch) {
		t.Errorf("expected records %v, got %v", batch, got)
	}
	for i, r := range got {
		if r.Time.Location() != time.UTC {
			t.Errorf("record %d: expected time in UTC, got %v", i, r.Time)
		}
	}
}

// The file sink escapes what it cannot trust, so a stray quote cannot break a jsonl line.
func TestFileJSONLEscapes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.jsonl")
	s := openFile(t, path, "jsonl")
	want := []Record{{Time: time.Unix(1, 0), Version: `1"2\3`, Instance: "a\nb"}}
	if err := s.Write(context.Background(), Batch{ID: "test", Records: want}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readJSONL(t, path); !sameRecords(got, want) {
		t.Errorf("expected records %q, got %q", want, got)
	}
}

func TestFileAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.csv")
	old := "1.9,old,1000\n"
	if err := os.WriteFile(path, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	s := openFile(t, path)
	if err := s.Write(context.Background(), Batch{ID: "test", Records: batch[1:]}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if expected := old + "master,b,1735787045\n"; string(data) != expected {
		t.Errorf("expected file\n%s\ngot\n%s", expected, data)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("expected an existing file to keep mode 0600, got %#o", perm)
	}
}

func TestFileMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.csv")
	s := openFile(t, path)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	// The umask may take bits away but never adds any; the usual ones (022, 027, 002) keep 0640.
	perm := fi.Mode().Perm()
	if perm&0o640 != 0o640 || perm&^0o640 != 0 {
		t.Errorf("expected mode 0640, got %#o", perm)
	}
}

func TestFileOpenMissingDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "a.csv")
	o, err := ParseFile([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	s, err := o.Open()
	if err == nil {
		s.Close()
		t.Fatalf("expected Open of %s to fail", path)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("expected a not-exist error, got %v", err)
	}
}

func TestFileWriteError(t *testing.T) {
	const full = "/dev/full"
	if _, err := os.Stat(full); err != nil {
		t.Skipf("no %s: %v", full, err)
	}
	o, err := ParseFile([]string{full})
	if err != nil {
		t.Fatal(err)
	}
	s, err := o.Open()
	if err != nil {
		t.Skipf("cannot open %s: %v", full, err)
	}
	defer s.Close()
	err = s.Write(context.Background(), Batch{ID: "test", Records: batch})
	if err == nil {
		t.Fatalf("expected writing to %s to fail", full)
	}
	if !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("expected ENOSPC, got %v", err)
	}
}
