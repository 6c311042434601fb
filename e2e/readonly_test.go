package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A sink directory on a filesystem made read-only: start-up fails, naming the sink's line and
// the cause, instead of serving answers whose records could not be kept. (A file already open
// stays writable on Linux, so a running server is only affected when it reopens its sinks on a
// reload, which then fails and leaves the running instance in place.)
func TestSinkOnReadOnlyFilesystem(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m,ro", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a read-only tmpfs here (needs root): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	causes := map[string]string{ // what each sink says of the read-only filesystem
		"file " + filepath.Join(dir, "s.csv"):  "read-only file system",
		"sqlite " + filepath.Join(dir, "s.db"): "unable to open database file",
	}
	for sink, cause := range causes {
		corefile := filepath.Join(t.TempDir(), "Corefile")
		writeFile(t, corefile, fmt.Sprintf("stats.mailu.io:%d {\n    bind 127.0.0.1\n    mailustats {\n        sink %s\n        ns ns1.stats.mailu.io 127.0.0.1\n    }\n}\n", freePort(t), sink))
		out := startFails(t, corefile)
		for _, want := range []string{corefile + ":4 - sink " + strings.Replace(sink, " ", ":", 1), cause} {
			if !strings.Contains(out, want) {
				t.Errorf("sink %s: expected %q in the error, got:\n%s", sink, want, out)
			}
		}
	}
}
