package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/mailustats/mailustats"
	"github.com/mailustats/mailustats/plugin/report"
	"github.com/mailustats/mailustats/plugin/sink"
	"github.com/mailustats/mailustats/plugin/sink/postgres"
	"github.com/mailustats/mailustats/plugin/sink/sqlite"
)

// databaseUsage is the part of a subcommand's usage line that names the database.
const databaseUsage = "(-sqlite PATH | -postgres DSN | -conf COREFILE)"

// databaseFlags are the flags that name the database, which every subcommand takes: exactly
// one of them.
type databaseFlags struct {
	sqlite, postgres, conf string
}

// addDatabaseFlags registers -sqlite, -postgres and -conf on flags.
func addDatabaseFlags(flags *flag.FlagSet) *databaseFlags {
	f := &databaseFlags{}
	flags.StringVar(&f.sqlite, "sqlite", "", "the SQLite database at `PATH`")
	flags.StringVar(&f.postgres, "postgres", "", "the PostgreSQL database at `DSN`, a libpq URL or key/value string")
	flags.StringVar(&f.conf, "conf", "", "the database of the first sqlite or postgres sink of the first mailustats block\n"+
		"of the `COREFILE`, with its hash_ids secret, read as the server reads it")
	return f
}

// database is the statistics database the flags name.
type database struct {
	opener  sqlOpener
	dialect report.Dialect
	hashIDs string // the Corefile's hash_ids secret; "" without -conf, or without hash_ids
	name    string // the sink's label, and with -conf its Corefile line, for messages
}

// sqlOpener is a SQL sink's configuration: it opens the sink, which writes and migrates, and
// read-only connections to its database.
type sqlOpener interface {
	sink.Opener
	OpenReader() (*sql.DB, error)
}

// database checks that exactly one flag names the database, a usageError otherwise, and reads
// what it names: the DSN, or the Corefile. It connects to nothing.
func (f *databaseFlags) database() (database, error) {
	given := 0
	for _, v := range []string{f.sqlite, f.postgres, f.conf} {
		if v != "" {
			given++
		}
	}
	if given != 1 {
		return database{}, usageError("name the database with exactly one of -sqlite, -postgres or -conf")
	}
	var o sink.Opener
	var err error
	d := database{}
	switch {
	case f.sqlite != "":
		o, err = sqlite.Parse([]string{f.sqlite})
		d.dialect = report.SQLite
	case f.postgres != "":
		o, err = postgres.Parse([]string{f.postgres})
		d.dialect = report.Postgres
	default:
		var cd mailustats.CorefileDatabase
		cd, err = mailustats.ReadCorefile(f.conf)
		o, d.dialect, d.hashIDs = cd.Opener, cd.Dialect, cd.HashIDs
		if err == nil {
			d.name = cd.Source + " - "
		}
	}
	if err != nil {
		return database{}, err
	}
	var ok bool
	if d.opener, ok = o.(sqlOpener); !ok {
		return database{}, fmt.Errorf("sink %s cannot be read", o.Label())
	}
	d.name += "sink " + o.Label()
	return d, nil
}

// openSink opens the database for writing, as the server does on start-up: it creates a
// SQLite file and its directory when missing, connects, and brings the schema up to date.
func (d database) openSink(ctx context.Context) (sink.Sink, error) {
	s, err := d.opener.Open()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.name, err)
	}
	if p, ok := s.(sink.Preparer); ok {
		if err := p.Prepare(ctx); err != nil {
			return nil, fmt.Errorf("%s: %w", d.name, errors.Join(err, s.Close()))
		}
	}
	return s, nil
}

// sqlitePath is the file of a SQLite database, false for another.
func (d database) sqlitePath() (string, bool) {
	return strings.CutPrefix(d.opener.Label(), "sqlite:") // a sqlite sink's label is sqlite:PATH
}

// openExisting opens the database as openSink does, but a SQLite file that does not exist is
// an error, not a new database.
func (d database) openExisting(ctx context.Context) (sink.Sink, error) {
	if path, ok := d.sqlitePath(); ok {
		switch _, err := os.Stat(path); {
		case errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("%s: no such file", d.name)
		case err != nil:
			return nil, fmt.Errorf("%s: %w", d.name, err)
		}
	}
	return d.openSink(ctx)
}

// openStore opens an existing database for reading. It brings the schema up to date first,
// as the server would (openExisting), since the queries read the latest schema.
func (d database) openStore(ctx context.Context) (*report.Store, error) {
	s, err := d.openExisting(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.Close(); err != nil {
		return nil, fmt.Errorf("%s: %w", d.name, err)
	}
	db, err := d.opener.OpenReader()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.name, err)
	}
	return report.NewStore(db, d.dialect), nil
}
