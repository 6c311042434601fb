// Command mailustats works on the statistics database of the mailustats plugin offline, beside
// or without a running server: each subcommand names the database with -sqlite, -postgres or
// -conf (a Corefile). Run it without arguments for the list of subcommands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
)

// The exit codes. verify and backup tell a database's problems apart: exitUnopenable,
// exitCorrupt and exitDisagrees.
const (
	exitOK         = 0
	exitFailure    = 1
	exitUsage      = 2
	exitUnopenable = 3 // missing, not a database, unreadable, or an unknown schema version
	exitCorrupt    = 4 // damaged: integrity_check fails, or the file is malformed or truncated
	exitDisagrees  = 5 // an aggregate differs from what the sightings give
)

// command is a subcommand. run parses its own flags from args and returns the exit code.
type command struct {
	name    string
	summary string // one line for the list of subcommands
	run     func(ctx context.Context, args []string, s streams) int
}

// commands are the subcommands, in the order the usage lists them.
var commands = []command{
	{name: "import", summary: "import old servers' logs and sink files into the database", run: runImport},
	{name: "report", summary: "print the instances per version over the last days", run: runReport},
	{name: "purge", summary: "remove the sightings of some days: a flood of instances seen once, a made-up version", run: runPurge},
	{name: "verify", summary: "check the database, its schema version and its aggregates", run: runVerify},
	{name: "backup", summary: "copy the live SQLite database, and check the copy", run: runBackup},
}

// streams are the standard streams a subcommand reads and writes.
type streams struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

// run runs the subcommand args name and returns the exit code. An interrupt cancels the
// subcommand's context.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	s := streams{stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	name, args := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		return help(args, s)
	}
	cmd, ok := lookup(name)
	if !ok {
		fmt.Fprintf(stderr, "mailustats: unknown command %q; run 'mailustats help'\n", name)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return cmd.run(ctx, args, s)
}

// help prints the usage, or with the name of a subcommand that subcommand's.
func help(args []string, s streams) int {
	switch {
	case len(args) == 0:
		usage(s.stdout)
		return exitOK
	case len(args) > 1:
		fmt.Fprintln(s.stderr, "mailustats help: takes at most one command")
		return exitUsage
	}
	cmd, ok := lookup(args[0])
	if !ok {
		fmt.Fprintf(s.stderr, "mailustats help: unknown command %q\n", args[0])
		return exitUsage
	}
	return cmd.run(context.Background(), []string{"-h"}, s)
}

func lookup(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// usage lists the subcommands.
func usage(w io.Writer) {
	fmt.Fprint(w, "mailustats works on the statistics database of the mailustats CoreDNS plugin.\n\n"+
		"Usage:\n\n\tmailustats COMMAND [flags]\n\nCommands:\n\n")
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	for _, c := range commands {
		fmt.Fprintf(tw, "\t%s\t%s\n", c.name, c.summary)
	}
	tw.Flush()
	fmt.Fprint(w, "\nRun 'mailustats help COMMAND' or 'mailustats COMMAND -h' for a command's flags.\n")
}

// newFlagSet returns the flag set of a subcommand, with the flags that name the database:
// errors and -h print to stderr the usage line, then the flags.
func newFlagSet(name, args string, s streams) (*flag.FlagSet, *databaseFlags) {
	fs := flag.NewFlagSet("mailustats "+name, flag.ContinueOnError)
	fs.SetOutput(s.stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: mailustats %s %s\n\nFlags:\n", name, args)
		fs.PrintDefaults()
	}
	return fs, addDatabaseFlags(fs)
}

// parseFlags parses args with fs, which reports its errors itself; when the subcommand is to
// stop there, it returns false and the exit code: 0 after -h, 2 after an error.
func parseFlags(fs *flag.FlagSet, args []string) (exit int, ok bool) {
	switch err := fs.Parse(args); {
	case errors.Is(err, flag.ErrHelp):
		return exitOK, false
	case err != nil:
		return exitUsage, false
	}
	return exitOK, true
}

// noArguments is the usageError of an argument after the flags of a subcommand that takes
// none, nil when there is none.
func noArguments(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return usageError(fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	}
	return nil
}

// usageError is a mistake in the command line, which exits with exitUsage.
type usageError string

func (e usageError) Error() string { return string(e) }

// fail reports err on one line of stderr, prefixed by the subcommand, and returns the exit code
// it calls for: exitUsage for a usageError, else exitFailure.
func (s streams) fail(name string, err error) int {
	msg := strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ")
	fmt.Fprintf(s.stderr, "mailustats %s: %s\n", name, msg)
	if errors.As(err, new(usageError)) {
		return exitUsage
	}
	return exitFailure
}
