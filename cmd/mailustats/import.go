package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/mailustats/mailustats/plugin/hashid"
	"github.com/mailustats/mailustats/plugin/report"
	"github.com/mailustats/mailustats/plugin/sink"
	"github.com/mailustats/mailustats/plugin/sink/table"
)

// chunkLines is how many lines of a file make one batch: its records, merged by instance, day
// and version, are written in one transaction, under an ID made of the lines themselves. A
// batch of 262144 lines covers weeks of an old server's log, so each instance it holds is
// looked up once for several of its days (10 million lines import in half the time of batches
// of 32768) and the import's memory stays under 250 MiB. The tests make it smaller.
var chunkLines = 8 * sink.MaxBatch

// runImport is `mailustats import`: the records of old logs and sink files into the database.
func runImport(ctx context.Context, args []string, s streams) int {
	fs, dbFlags := newFlagSet("import", "[-hash-secret S] [-v] [-json] "+databaseUsage+" FILE...", s)
	secret := fs.String("hash-secret", "", "hash instance IDs with the `secret` of the server's hash_ids (-conf gives the Corefile's)")
	verbose := fs.Bool("v", false, "print the first lines skipped for each reason, with their file and line")
	asJSON := fs.Bool("json", false, "print the summary as JSON")
	if exit, ok := parseFlags(fs, args); !ok {
		return exit
	}
	if fs.NArg() == 0 {
		return s.fail("import", usageError("name the files to import, or - for standard input"))
	}
	db, err := dbFlags.database()
	if err != nil {
		return s.fail("import", err)
	}
	if *secret == "" {
		*secret = db.hashIDs
	}
	imp, err := newImporter(ctx, db, *secret, s, *verbose)
	if err != nil {
		return s.fail("import", err)
	}
	sum, err := imp.run(ctx, fs.Args())
	if cerr := imp.close(); err == nil {
		err = cerr
	}
	if err != nil {
		return s.fail("import", err)
	}
	if *asJSON {
		err = printJSON(s.stdout, sum)
	} else {
		err = sum.print(s.stdout)
	}
	if err != nil {
		return s.fail("import", err)
	}
	return exitOK
}

// importer writes the records of files to a database, a chunk of lines at a time.
type importer struct {
	sink    sink.Sink
	reader  *sql.DB // to tell the chunks stored before, and count what the import added
	dialect report.Dialect
	hash    func(string) string // nil without hash_ids
	now     time.Time
	out     streams
	verbose bool
	sum     importSummary
}

func newImporter(ctx context.Context, db database, secret string, s streams, verbose bool) (*importer, error) {
	sk, err := db.openSink(ctx)
	if err != nil {
		return nil, err
	}
	reader, err := db.opener.OpenReader()
	if err != nil {
		return nil, errors.Join(fmt.Errorf("%s: %w", db.name, err), sk.Close())
	}
	imp := &importer{sink: sk, reader: reader, dialect: db.dialect, now: time.Now(), out: s, verbose: verbose}
	if secret != "" {
		imp.hash = hashid.New(secret).Hash
	}
	if err := imp.checkKind(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("%s: %w", db.name, err), imp.close())
	}
	imp.sum.Skipped = map[string]int64{}
	return imp, nil
}

// checkKind refuses, before any batch, an import of IDs of the other kind than the database
// holds: the sink refuses only the batches it writes, so lines imported before would pass for
// unchanged.
func (imp *importer) checkKind(ctx context.Context) error {
	var stored string
	switch err := imp.reader.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = 'ids'`).Scan(&stored); {
	case errors.Is(err, sql.ErrNoRows):
		return nil // nothing stored yet
	case err != nil:
		return fmt.Errorf("settings: %w", err)
	}
	switch {
	case imp.hash != nil && stored == table.KindUUID:
		return errors.New("the database holds raw instance IDs, not hash_ids digests: import without -hash-secret and hash_ids")
	case imp.hash == nil && stored == table.KindHash:
		return errors.New("the database holds hash_ids digests, not raw instance IDs: import with the server's secret, by -hash-secret or -conf")
	}
	return nil
}

func (imp *importer) close() error { return errors.Join(imp.sink.Close(), imp.reader.Close()) }

// chunk is the records of up to chunkLines lines, and the digest of those lines.
type chunk struct {
	records []sink.Record
	digest  [sha256.Size]byte
}

// id is the batch ID of the chunk: the same lines always make the same ID.
func (c *chunk) id() string { return table.ImportPrefix + hex.EncodeToString(c.digest[:16]) }

// write stores the chunk as one batch, unless a batch of the same ID is stored already.
func (imp *importer) write(ctx context.Context, c *chunk) error {
	id := c.id()
	var stored int
	err := imp.reader.QueryRowContext(ctx, imp.batchStored(), id).Scan(&stored)
	if err != nil {
		return fmt.Errorf("batches: %w", err)
	}
	imp.sum.Chunks++
	if stored > 0 {
		imp.sum.ChunksBefore++
		return nil
	}
	if err := imp.sink.Write(ctx, sink.Batch{ID: id, Records: c.records}); err != nil {
		return err
	}
	imp.sum.Imported += int64(len(c.records))
	return nil
}

// batchStored counts the batches of an ID, in the database's SQL.
func (imp *importer) batchStored() string {
	if imp.dialect == report.Postgres {
		return `SELECT count(*) FROM batches WHERE id = $1`
	}
	return `SELECT count(*) FROM batches WHERE id = ?`
}
