package sink

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// A write that fails part-way (disk full, file size limit) must not leave a torn line that the
// retry of the same batch then appends to. RLIMIT_FSIZE makes the kernel take part of a write
// and refuse the rest, as a full disk does; Go ignores the SIGXFSZ that comes with it.
func TestFilePartialWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.csv")
	s := openFile(t, path)
	defer s.Close()
	if err := s.Write(context.Background(), Batch{ID: "test", Records: batch[:1]}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}

	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Skipf("getrlimit: %v", err)
	}
	limit := old
	limit.Cur = uint64(fi.Size()) + 10 // room for part of the next line only
	if limit.Cur > old.Max {
		t.Skip("hard file size limit too low")
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &limit); err != nil {
		t.Skipf("setrlimit: %v", err)
	}
	err = s.Write(context.Background(), Batch{ID: "test", Records: batch})
	if rerr := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); rerr != nil {
		t.Fatalf("restoring the file size limit: %v", rerr)
	}
	if err == nil {
		t.Fatal("expected a write beyond the file size limit to fail")
	}

	// The worker retries the same batch.
	if err := s.Write(context.Background(), Batch{ID: "test", Records: batch}); err != nil {
		t.Fatal(err)
	}
	want := append(append([]Record{}, batch[:1]...), batch...)
	if got := readCSV(t, path); !sameRecords(got, want) {
		data, _ := os.ReadFile(path)
		t.Errorf("expected records %v, got %v; file:\n%s", want, got, data)
	}
}
