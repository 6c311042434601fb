package e2e

import (
	"os/exec"
	"strings"
	"testing"
)

// git runs git in the repository and returns its output, trimmed.
func git(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", args...).Output()
	if err != nil {
		t.Fatalf("git %s: %v", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out))
}

// TestBuildIdentity checks that the binary, built by make build as a release is, says which
// commit of mailustats it is: in -version and in the build_info metrics.
func TestBuildIdentity(t *testing.T) {
	commit, described := git(t, "rev-parse", "HEAD"), git(t, "describe", "--tags", "--always", "--dirty")
	out, err := exec.Command(coreDNSBin, "-version").CombinedOutput()
	if err != nil {
		t.Fatalf("%s -version: %v\n%s", coreDNSBin, err, out)
	}
	if !strings.Contains(string(out), "+mailustats-"+described+"\n") || !strings.Contains(string(out), ", "+commit+"\n") {
		t.Errorf("-version: expected +mailustats-%s and the commit %s, got\n%s", described, commit, out)
	}

	srv := startMonitored(t, statsCorefile(true, "sink file "+t.TempDir()+"/s.csv"))
	m := srv.scrape(t)
	m.must(t, "coredns_build_info", "revision", commit)
	if v := m.must(t, "coredns_mailustats_build_info", "version", described, "revision", commit); v != 1 {
		t.Errorf("coredns_mailustats_build_info: expected 1, got %v", v)
	}
}
