package sink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"
)

// fileMode is the permission of a newly created sink file.
const fileMode = 0o640

type fileFormat int

const (
	formatCSV fileFormat = iota
	formatJSONL
)

// fileOpener is the configuration of a `sink file PATH [csv|jsonl]` line.
type fileOpener struct {
	path   string
	format fileFormat
}

// ParseFile reads the arguments of a `sink file PATH [csv|jsonl]` line.
func ParseFile(args []string) (Opener, error) {
	if len(args) < 1 || len(args) > 2 {
		return nil, errors.New("sink file takes PATH [csv|jsonl]")
	}
	o := fileOpener{path: args[0], format: formatCSV}
	if len(args) == 2 {
		switch args[1] {
		case "csv":
		case "jsonl":
			o.format = formatJSONL
		default:
			return nil, fmt.Errorf("unknown file format %q, want csv or jsonl", args[1])
		}
	}
	return o, nil
}

func (o fileOpener) Label() string { return "file:" + o.path }

// Open opens the file for appending, creating it if needed.
func (o fileOpener) Open() (Sink, error) {
	f, err := os.OpenFile(o.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, fileMode)
	if err != nil {
		return nil, err
	}
	return &fileSink{f: f, format: o.format}, nil
}

// fileSink appends one line per record. Each batch is written with one write call on a file
// opened with O_APPEND, so writers sharing the file during a reload never interleave lines.
type fileSink struct {
	f      *os.File
	format fileFormat
	buf    []byte
}

func (s *fileSink) Write(_ context.Context, batch Batch) error {
	s.buf = s.buf[:0]
	for _, r := range batch.Records {
		s.buf = s.appendLine(s.buf, r)
	}
	n, err := s.f.Write(s.buf)
	if err != nil && n > 0 {
		s.undo(n)
	}
	return err
}

// undo removes the n bytes a short write (a full disk) left at the end of the file, so the
// retry of the whole batch leaves no torn line. If another writer appended after them, they stay.
func (s *fileSink) undo(n int) {
	end, err := s.f.Seek(0, io.SeekCurrent) // with O_APPEND, the end of this write
	if err != nil {
		return
	}
	if fi, err := s.f.Stat(); err == nil && fi.Size() == end {
		s.f.Truncate(end - int64(n))
	}
}

func (s *fileSink) appendLine(b []byte, r Record) []byte {
	if s.format == formatJSONL {
		b = append(b, `{"time":"`...)
		b = r.Time.UTC().AppendFormat(b, time.RFC3339)
		b = append(b, `","version":`...)
		b = appendJSONString(b, r.Version)
		b = append(b, `,"instance":`...)
		b = appendJSONString(b, r.Instance)
		return append(b, "}\n"...)
	}
	b = append(b, r.Version...)
	b = append(b, ',')
	b = append(b, r.Instance...)
	b = append(b, ',')
	b = strconv.AppendInt(b, r.Time.Unix(), 10)
	return append(b, '\n')
}

// appendJSONString quotes s as JSON. Versions and instances are validated before they get here,
// so this only guards the format against a future caller.
func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}

func (s *fileSink) Close() error { return s.f.Close() }
