package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/mailustats/mailustats/internal/testutil/pgtest"
)

// pgServer is the PostgreSQL server of the package's tests, each on a database of its own.
var pgServer pgtest.Shared

// testChunkLines is the lines of a batch in the tests, which import logs of a few batches: small,
// so that they stay quick under the race detector.
const testChunkLines = 2048

func TestMain(m *testing.M) {
	chunkLines = testChunkLines
	code := m.Run()
	if err := pgServer.Close(); err != nil {
		fmt.Println(err)
	}
	os.Exit(code)
}

// result is what a run of the command left.
type result struct {
	exit           int
	stdout, stderr string
}

// runCommand runs the command with args in-process.
func runCommand(args ...string) result {
	var stdout, stderr bytes.Buffer
	exit := run(args, strings.NewReader(""), &stdout, &stderr)
	return result{exit: exit, stdout: stdout.String(), stderr: stderr.String()}
}

func TestUsage(t *testing.T) {
	tests := []struct {
		args   []string
		exit   int
		stdout string // substring; "" for no output
		stderr string // substring; "" for no output
	}{
		{args: nil, exit: exitUsage, stderr: "\n  report  print the instances per version"},
		{args: []string{"help"}, exit: exitOK, stdout: "Usage:\n\n\tmailustats COMMAND [flags]"},
		{args: []string{"-h"}, exit: exitOK, stdout: "Commands:"},
		{args: []string{"help", "report"}, exit: exitOK, stderr: "Usage: mailustats report [-days N|all]"},
		{args: []string{"help", "nosuch"}, exit: exitUsage, stderr: "mailustats help: unknown command \"nosuch\"\n"},
		{args: []string{"nosuch"}, exit: exitUsage, stderr: "mailustats: unknown command \"nosuch\"; run 'mailustats help'\n"},
		{args: []string{"report", "-h"}, exit: exitOK, stderr: "  -sqlite PATH\n"},
		{args: []string{"report", "-nosuch"}, exit: exitUsage, stderr: "flag provided but not defined: -nosuch\nUsage: mailustats report"},
		{args: []string{"report", "-days", "0", "-sqlite", "x.db"}, exit: exitUsage, stderr: "invalid value \"0\" for flag -days: want a whole number from 1 to 7320"},
		{args: []string{"report", "-days", "7321", "-sqlite", "x.db"}, exit: exitUsage, stderr: "flag -days"},
		{args: []string{"report", "-min-days", "x", "-sqlite", "x.db"}, exit: exitUsage, stderr: "flag -min-days"},
		{args: []string{"report"}, exit: exitUsage, stderr: "mailustats report: name the database with exactly one of -sqlite, -postgres or -conf\n"},
		{args: []string{"report", "-sqlite", "x.db", "-postgres", "postgres://localhost/x"}, exit: exitUsage, stderr: "mailustats report: name the database with exactly one"},
		{args: []string{"report", "-sqlite", "x.db", "extra"}, exit: exitUsage, stderr: "mailustats report: unexpected argument \"extra\"\n"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			got := runCommand(tc.args...)
			if got.exit != tc.exit {
				t.Errorf("expected exit %d, got %d (stderr %q)", tc.exit, got.exit, got.stderr)
			}
			checkOutput(t, "stdout", tc.stdout, got.stdout)
			checkOutput(t, "stderr", tc.stderr, got.stderr)
		})
	}
}

// checkOutput checks that got holds expected, or is empty when expected is.
func checkOutput(t *testing.T, name, expected, got string) {
	t.Helper()
	if (expected == "") != (got == "") || !strings.Contains(got, expected) {
		t.Errorf("expected %s with %q, got %q", name, expected, got)
	}
}
