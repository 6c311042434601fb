package e2e

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

func TestBinaryListsPlugins(t *testing.T) {
	out, err := exec.Command(coreDNSBin, "-plugins").CombinedOutput()
	if err != nil {
		t.Fatalf("coredns -plugins: %v\n%s", err, out)
	}
	listed := strings.Fields(string(out))
	for _, p := range []string{"mailustats", "bind", "errors", "log", "metadata", "prometheus",
		"health", "ready", "reload", "cache", "acl", "whoami", "cancel", "timeouts"} {
		if !slices.Contains(listed, p) {
			t.Errorf("expected %s in coredns -plugins, got %q", p, out)
		}
	}
}
