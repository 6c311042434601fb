package proctest

import (
	"os/exec"
	"testing"
	"time"
)

func TestTerminate(t *testing.T) {
	p := Start(t, "sh", exec.Command("sh", "-c", `trap "echo bye; exit 3" TERM; echo hi; while :; do sleep 0.05; done`))
	deadline := time.Now().Add(10 * time.Second)
	for p.Out.String() != "hi\n" { // the trap is set before the echo
		if time.Now().After(deadline) {
			t.Fatalf("expected hi, got %q", p.Out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if p.Exited() {
		t.Fatal("expected the process to be running")
	}
	out, code := p.Terminate(t, 10*time.Second)
	if out != "hi\nbye\n" || code != 3 {
		t.Errorf("expected output %q and exit code 3, got %q and %d", "hi\nbye\n", out, code)
	}
	if !p.Exited() {
		t.Error("expected the process to have exited")
	}
}

func TestKill(t *testing.T) {
	p := Start(t, "sleep", exec.Command("sleep", "60"))
	p.Kill()
	if !p.Exited() {
		t.Fatal("expected a killed process to have exited")
	}
	if code := p.Cmd.ProcessState.ExitCode(); code != -1 {
		t.Errorf("expected exit code -1 for a killed process, got %d", code)
	}
}

func TestWait(t *testing.T) {
	p := Start(t, "sh", exec.Command("sh", "-c", "exit 4"))
	if code, err := p.Wait(10 * time.Second); err != nil || code != 4 {
		t.Errorf("expected exit code 4, got %d, %v", code, err)
	}
	p = Start(t, "sleep", exec.Command("sleep", "60"))
	if code, err := p.Wait(50 * time.Millisecond); err == nil || code != -1 || !p.Exited() {
		t.Errorf("expected an error, exit code -1 and the process killed, got %d, %v, exited %v", code, err, p.Exited())
	}
}
