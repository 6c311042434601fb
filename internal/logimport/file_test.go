package logimport

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

// content is a log of many lines with random instance labels, so that even its gzip takes more
// than one read.
var content = func() []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	var b bytes.Buffer
	for i := range 20000 {
		fmt.Fprintf(&b, "%d,%016x%016x,%d\n", i%40, rng.Uint64(), rng.Uint64(), 1600000000+i)
	}
	return b.Bytes()
}()

func gzipped(t *testing.T, parts ...[]byte) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, p := range parts { // one gzip member each, as `cat a.gz b.gz` makes
		w := gzip.NewWriter(&b)
		if _, err := w.Write(p); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// readAll reads f to its end, checking that Consumed grows and stays within Size, and returns
// what it read and what Consumed said after the first read.
func readAll(t *testing.T, f *File) ([]byte, int64) {
	t.Helper()
	var out bytes.Buffer
	buf := make([]byte, 4096)
	first, last := int64(-1), int64(0)
	for {
		n, err := f.Read(buf)
		out.Write(buf[:n])
		c := f.Consumed()
		if c < last || f.Size() >= 0 && c > f.Size() {
			t.Fatalf("%s: Consumed went from %d to %d of %d", f.Name(), last, c, f.Size())
		}
		if first < 0 {
			first = c
		}
		last = c
		if err == io.EOF {
			return out.Bytes(), first
		}
		if err != nil {
			t.Fatalf("%s: %v", f.Name(), err)
		}
	}
}

func TestOpen(t *testing.T) {
	// The names do not tell: a gzip file without .gz, a plain one with it.
	tests := []struct {
		name string
		data []byte
	}{
		{"plain.log", content},
		{"plain.log.gz", content},
		{"compressed", gzipped(t, content)},
		{"members.gz", gzipped(t, content[:1000], content[1000:])},
		{"empty", nil},
		{"one-byte", []byte{0x1f}},
		{"sample.log", []byte("19,5bc8fbbc-bde5-4099-8")}, // no newline at the end
	}
	for _, tc := range tests {
		path := writeTemp(t, tc.name, tc.data)
		f, err := Open(path, nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if f.Name() != path {
			t.Errorf("%s: expected name %q, got %q", tc.name, path, f.Name())
		}
		if f.Size() != int64(len(tc.data)) {
			t.Errorf("%s: expected size %d, got %d", tc.name, len(tc.data), f.Size())
		}
		got, _ := readAll(t, f)
		want := tc.data
		if tc.name == "compressed" || tc.name == "members.gz" {
			want = content
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: expected %d bytes as written, got %d", tc.name, len(want), len(got))
		}
		if f.Consumed() != f.Size() {
			t.Errorf("%s: expected all %d bytes consumed, got %d", tc.name, f.Size(), f.Consumed())
		}
		if err := f.Close(); err != nil {
			t.Errorf("%s: Close: %v", tc.name, err)
		}
	}
}

// Consumed counts the compressed bytes as they are read, for a progress bar.
func TestOpenProgress(t *testing.T) {
	data := gzipped(t, content)
	f, err := Open(writeTemp(t, "a.gz", data), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, first := readAll(t, f)
	if !bytes.Equal(got, content) {
		t.Fatalf("expected %d bytes as written, got %d", len(content), len(got))
	}
	if first <= 0 || first >= int64(len(data)) {
		t.Errorf("expected a part of %d bytes consumed after the first read, got %d", len(data), first)
	}
	if f.Consumed() != int64(len(data)) {
		t.Errorf("expected %d bytes consumed, got %d", len(data), f.Consumed())
	}
}

type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

func TestOpenStdin(t *testing.T) {
	for _, data := range [][]byte{content, gzipped(t, content)} {
		stdin := &closeRecorder{Reader: bytes.NewReader(data)}
		f, err := Open("-", stdin)
		if err != nil {
			t.Fatal(err)
		}
		if f.Name() != StdinName || f.Size() != -1 {
			t.Errorf("expected name %q and size -1, got %q and %d", StdinName, f.Name(), f.Size())
		}
		if got, _ := readAll(t, f); !bytes.Equal(got, content) {
			t.Errorf("expected %d bytes as written, got %d", len(content), len(got))
		}
		if f.Consumed() != int64(len(data)) {
			t.Errorf("expected %d bytes consumed, got %d", len(data), f.Consumed())
		}
		if err := f.Close(); err != nil || stdin.closed {
			t.Errorf("expected Close to leave stdin open, got error %v and closed %v", err, stdin.closed)
		}
	}
}

// A file that is not there, or not readable, fails Open with its name; so do a gzip file
// without a valid header and standard input that fails. A gzip file cut short fails when read.
func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.log")
	if _, err := Open(missing, nil); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("expected a not-exist error naming %s, got %v", missing, err)
	}
	if _, err := Open(dir, nil); err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("expected an error naming the directory %s, got %v", dir, err)
	}
	bad := writeTemp(t, "bad.gz", []byte{0x1f, 0x8b, 7, 0, 0, 0, 0, 0, 0, 0}) // method 7, not deflate
	if _, err := Open(bad, nil); !errors.Is(err, gzip.ErrHeader) || !strings.Contains(err.Error(), bad) {
		t.Errorf("expected a gzip header error naming %s, got %v", bad, err)
	}
	failed := errors.New("failed")
	if _, err := Open("-", iotest.ErrReader(failed)); !errors.Is(err, failed) || !strings.Contains(err.Error(), StdinName) {
		t.Errorf("expected the error of stdin naming %s, got %v", StdinName, err)
	}
	data := gzipped(t, content)
	f, err := Open(writeTemp(t, "cut.gz", data[:len(data)/2]), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.Copy(io.Discard, f); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("expected an unexpected EOF, got %v", err)
	}
}
