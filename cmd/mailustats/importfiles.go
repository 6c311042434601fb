package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"

	"github.com/google/uuid"

	"github.com/mailustats/mailustats/internal/logimport"
	"github.com/mailustats/mailustats/plugin/sink"
)

// maxLine is the longest line read whole; a longer one is skipped as bad format.
const maxLine = 64 << 10

// verboseLines is how many skipped lines of each reason -v prints.
const verboseLines = 5

// run imports the files, in order, and returns the importSummary.
func (imp *importer) run(ctx context.Context, names []string) (importSummary, error) {
	start := time.Now()
	files := make([]*logimport.File, 0, len(names))
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	var total int64
	for _, name := range names {
		f, err := logimport.Open(name, imp.out.stdin)
		if err != nil {
			return importSummary{}, err
		}
		files = append(files, f)
		if total >= 0 && f.Size() >= 0 {
			total += f.Size()
		} else {
			total = -1 // unknown, as for standard input
		}
	}
	before, err := imp.counts(ctx)
	if err != nil {
		return importSummary{}, err
	}
	p := newProgress(imp.out.stderr, "importing", "import:", bytesUnit, total, imp.rate)
	instances := map[uuid.UUID]struct{}{}
	var read int64 // the bytes of the files done
	for _, f := range files {
		if err := imp.importFile(ctx, f, p, read, instances); err != nil {
			p.done()
			return importSummary{}, err
		}
		read += max(f.Size(), 0)
	}
	p.done()
	after, err := imp.counts(ctx)
	if err != nil {
		return importSummary{}, err
	}
	imp.sum.Instances = int64(len(instances))
	imp.sum.InstanceDays = after.instanceDays - before.instanceDays
	imp.sum.NewInstances = after.instances - before.instances
	imp.sum.Elapsed = time.Since(start).Round(time.Millisecond).String()
	return imp.sum, nil
}

// rate is what an import's progress says besides the bytes read: the lines read per second,
// and elsewhere than on the bar how many.
func (imp *importer) rate(elapsed time.Duration, bar bool) string {
	rate := float64(imp.sum.Lines) / elapsed.Seconds()
	if bar {
		return fmt.Sprintf(", %.0f lines/s", rate)
	}
	return fmt.Sprintf(", %d lines, %.0f lines/s", imp.sum.Lines, rate)
}

// importFile imports the lines of f, chunkLines at a time, counting into p the bytes it reads
// after the read of the files before.
func (imp *importer) importFile(ctx context.Context, f *logimport.File, p *progress, read int64, instances map[uuid.UUID]struct{}) error {
	r := bufio.NewReaderSize(f, maxLine)
	c := chunk{records: make([]sink.Record, 0, chunkLines)}
	digest := sha256.New()
	lines := 0 // in the chunk
	flush := func() error {
		digest.Sum(c.digest[:0])
		err := imp.write(ctx, &c)
		c.records, lines = c.records[:0], 0
		digest.Reset()
		return err
	}
	for number := 1; ; number++ {
		line, tooLong, err := readLine(r, digest)
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("%s: line %d: %w", f.Name(), number, err)
		}
		if len(line) == 0 && !tooLong && errors.Is(err, io.EOF) {
			break // the end, after a last newline or none
		}
		imp.sum.Lines++
		lines++
		if rec, reason := imp.parse(line, tooLong); reason != logimport.None {
			imp.skip(f.Name(), number, reason, line)
		} else {
			c.records = append(c.records, rec.record(imp.hash))
			instances[rec.Instance] = struct{}{}
			imp.sum.span(rec.Time)
		}
		if lines == chunkLines {
			if err := flush(); err != nil {
				return fmt.Errorf("%s: lines to %d: %w", f.Name(), number, err)
			}
		}
		p.set(read + f.Consumed())
		if errors.Is(err, io.EOF) {
			break // a last line without a newline
		}
	}
	if lines > 0 {
		if err := flush(); err != nil {
			return fmt.Errorf("%s: the last lines: %w", f.Name(), err)
		}
	}
	return ctx.Err()
}

// readLine reads a line, without its newline, and adds it to digest with a newline, so that a
// last line without one counts the same. A line longer than the reader's buffer is read to its
// end and reported too long, with its last part. At the end it returns no line and io.EOF.
func readLine(r *bufio.Reader, digest hash.Hash) (line []byte, tooLong bool, err error) {
	line, err = r.ReadSlice('\n')
	for errors.Is(err, bufio.ErrBufferFull) {
		tooLong = true
		digest.Write(line)
		line, err = r.ReadSlice('\n')
	}
	if len(line) == 0 && !tooLong {
		return nil, false, err
	}
	line = bytes.TrimSuffix(line, []byte{'\n'})
	digest.Write(line)
	digest.Write([]byte{'\n'})
	return line, tooLong, err
}

// parse reads a line as a record, by the DNS path's rules.
func (imp *importer) parse(line []byte, tooLong bool) (importedRecord, logimport.Reason) {
	if tooLong {
		return importedRecord{}, logimport.BadFormat
	}
	rec, reason := logimport.Parse(line, imp.now)
	return importedRecord(rec), reason
}

// skip counts a skipped line and, with -v, prints the first ones of each reason.
func (imp *importer) skip(file string, number int, reason logimport.Reason, line []byte) {
	n := imp.sum.Skipped[reason.String()] + 1
	imp.sum.Skipped[reason.String()] = n
	if imp.verbose && n <= verboseLines {
		fmt.Fprintf(imp.out.stderr, "%s:%d: %s: %q\n", file, number, reason, line)
	}
}

// importedRecord is a record read from a line.
type importedRecord logimport.Record

// record is r as the server records it: the instance ID as text, hashed with hash_ids.
func (r importedRecord) record(hash func(string) string) sink.Record {
	id := r.Instance.String()
	if hash != nil {
		id = hash(id)
	}
	return sink.Record{Time: r.Time, Version: r.Version, Instance: id}
}

// databaseCounts are what the import adds to: the instance-days and the instances.
type databaseCounts struct{ instanceDays, instances int64 }

// counts reads the database's instance-days, from the per-day counts, and instances.
func (imp *importer) counts(ctx context.Context) (databaseCounts, error) {
	var c databaseCounts
	err := imp.reader.QueryRowContext(ctx, `SELECT (SELECT coalesce(sum(instances), 0) FROM day_counts),
		(SELECT count(*) FROM instances)`).Scan(&c.instanceDays, &c.instances)
	if err != nil {
		return c, fmt.Errorf("counting: %w", err)
	}
	return c, nil
}
