// Package e2e runs the custom CoreDNS binary as a real process on 127.0.0.1 and talks DNS to it,
// directly and through unbound, then checks what its sinks stored.
package e2e

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/mailustats/mailustats/internal/testutil/corednstest"
)

// coreDNSBin is the binary under test, built for this test run.
var coreDNSBin string

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("e2e: skipped in -short mode")
		os.Exit(0)
	}
	os.Exit(corednstest.Main(m, &coreDNSBin))
}
