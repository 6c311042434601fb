//go:build linux

package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" driver, as the sink uses it
)

// storedRecords counts the records the configuration's sink in dir holds: the lines of the csv
// file, or the sum of hits in the SQLite table daily.
func storedRecords(ctx context.Context, c config, dir string) (int64, error) {
	switch c.Sink {
	case "file":
		return countLines(c.sinkPath(dir))
	case "sqlite":
		return sumHits(ctx, c.sinkPath(dir))
	}
	return 0, fmt.Errorf("%s has no sink", c.Name)
}

// countLines counts the newline-terminated lines of the file at path.
func countLines(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var n int64
	buf := make([]byte, 1<<20)
	for {
		k, err := f.Read(buf)
		n += int64(bytes.Count(buf[:k], []byte{'\n'}))
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// countTimeout bounds reading the SQLite database.
const countTimeout = time.Minute

// sumHits returns SELECT sum(hits) FROM daily of the SQLite database at path.
func sumHits(ctx context.Context, path string) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, countTimeout)
	defer cancel()
	if _, err := os.Stat(path); err != nil {
		return 0, err // sql.Open would create an empty database
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n sql.NullInt64
	if err := db.QueryRowContext(ctx, "SELECT sum(hits) FROM daily").Scan(&n); err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return n.Int64, nil
}
