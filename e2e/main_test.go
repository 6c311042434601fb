// Package e2e runs the custom CoreDNS binary as a real process on 127.0.0.1 and talks DNS to it,
// directly and through unbound, then checks what its sinks stored.
package e2e

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// coreDNSBin is the binary built from ./build for this test run.
var coreDNSBin string

// Build attempts, for when someone is in the middle of an edit.
const (
	buildAttempts = 3
	buildRetry    = 3 * time.Second
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		fmt.Println("e2e: skipped in -short mode")
		return 0
	}
	dir, err := os.MkdirTemp("", "mailustats-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	coreDNSBin = filepath.Join(dir, "coredns")
	if err := build(coreDNSBin); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	return m.Run()
}

// build compiles ./build from the repository root into bin.
func build(bin string) error {
	root, err := filepath.Abs("..")
	if err != nil {
		return err
	}
	var out []byte
	for attempt := 1; ; attempt++ {
		cmd := exec.Command("go", "build", "-o", bin, "./build")
		cmd.Dir = root
		out, err = cmd.CombinedOutput()
		if err == nil {
			return nil
		}
		if attempt == buildAttempts {
			return fmt.Errorf("go build -o %s ./build in %s: %v\n%s", bin, root, err, out)
		}
		time.Sleep(buildRetry)
	}
}
