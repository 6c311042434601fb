package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
)

// dnsvizTimeout bounds the whole probe: the server's start, dnsviz's queries and its analysis.
const dnsvizTimeout = 3 * time.Minute

// dnsvizLoopbackOnly are the findings a server on 127.0.0.1 cannot avoid: its name server's
// address, and so the glue, is not a public one.
var dnsvizLoopbackOnly = []string{"NS_NAME_PRIVATE_IP", "GLUE_PRIVATE_IP"}

// dnsvizScript runs in a network namespace of its own that has only loopback, so that neither
// the server nor the named that dnsviz starts for the delegation can reach anything else. It
// starts the server on port 53, probes the zone as its authoritative server with the delegation
// given on the command line, and writes dnsviz's findings as JSON.
const dnsvizScript = `set -eu
ip link set lo up
"$COREDNS" -conf "$DIR/Corefile" >"$DIR/coredns.log" 2>&1 &
server=$!
trap 'kill -TERM $server; wait $server' EXIT
for _ in $(seq 100); do grep -q 'CoreDNS-' "$DIR/coredns.log" && break; sleep 0.1; done
dnsviz probe -A -N "$ZONE:$NS=127.0.0.1" -o "$DIR/probe.json" "$ZONE" "$NAME"
dnsviz grok -l warning <"$DIR/probe.json" >"$DIR/grok.json"
`

// TestDnsviz has Debian's dnsviz probe the built server as the authoritative server of its zone,
// as a resolver on the internet would find it, and requires no error and no warning but those
// of serving from loopback.
func TestDnsviz(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("dnsviz runs in a network namespace of its own, which takes root (CI runs as root)")
	}
	dir := t.TempDir()
	const zone, ns = "stats.mailu.io", "ns1.stats.mailu.io"
	writeFile(t, filepath.Join(dir, "Corefile"), `stats.mailu.io:53 {
    bind 127.0.0.1
    bufsize 1232
    mailustats {
        ns ns1.stats.mailu.io 127.0.0.1
        sink file `+filepath.Join(dir, "records.csv")+`
    }
}
`)
	instance := uuid.NewString()
	ctx, cancel := context.WithTimeout(context.Background(), dnsvizTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", dnsvizScript)
	// A namespace of its own, and a process group to kill whole if the time runs out.
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.Env = append(os.Environ(), "COREDNS="+coreDNSBin, "DIR="+dir, "ZONE="+zone, "NS="+ns,
		"NAME=19."+instance+"."+zone)
	out, err := cmd.CombinedOutput()
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "coredns.log"))
		t.Fatalf("dnsviz: %v\n%s\ncoredns:\n%s", err, out, log)
	}

	var grok map[string]any
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(dir, "grok.json"))), &grok); err != nil {
		t.Fatalf("dnsviz grok's output: %v", err)
	}
	if _, ok := grok[zone+"."]; !ok {
		t.Fatalf("expected dnsviz to analyse %s, got %v", zone, grok)
	}
	var unexpected []string
	for _, f := range dnsvizFindings(grok, "") {
		if !slices.Contains(dnsvizLoopbackOnly, f.code) {
			unexpected = append(unexpected, f.String())
		}
	}
	if len(unexpected) > 0 {
		t.Errorf("expected no dnsviz errors or warnings but those of loopback addresses, got:\n%s", strings.Join(unexpected, "\n"))
	}
	if got := readFile(t, filepath.Join(dir, "records.csv")); !strings.HasPrefix(got, "19,"+instance+",") {
		t.Errorf("expected the name dnsviz probed recorded, got %q", got)
	}
}

// dnsvizFinding is an error or a warning of dnsviz grok, where in its output it stands.
type dnsvizFinding struct {
	path, kind, code, description string
}

func (f dnsvizFinding) String() string {
	return f.path + ": " + f.kind + " " + f.code + ": " + f.description
}

// dnsvizFindings collects every "errors" and "warnings" list below v, at any depth.
func dnsvizFindings(v any, path string) []dnsvizFinding {
	var found []dnsvizFinding
	switch v := v.(type) {
	case map[string]any:
		for key, child := range v {
			if key != "errors" && key != "warnings" {
				found = append(found, dnsvizFindings(child, path+"/"+key)...)
				continue
			}
			items, _ := child.([]any)
			for _, item := range items {
				m, _ := item.(map[string]any)
				code, _ := m["code"].(string)
				desc, _ := m["description"].(string)
				found = append(found, dnsvizFinding{path: path, kind: strings.TrimSuffix(key, "s"), code: code, description: desc})
			}
		}
	case []any:
		for _, child := range v {
			found = append(found, dnsvizFindings(child, path)...)
		}
	}
	return found
}
