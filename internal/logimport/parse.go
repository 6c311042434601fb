// Package logimport reads, line by line, the logs of the old Mailu statistics servers and the
// files of this project's file sink, for `mailustats import`. A line becomes a record only if its
// name is one the DNS path records, by the same rules (plugin/qname), at a believable time.
//
// The forms, told apart by each line's first byte:
//
//   - labels,seconds: the packet sniffer (Mailu/Stats server.py) wrote version,instanceid and
//     float seconds in lower case; the Go server (main.go) the labels below the zone joined by
//     commas, in the case the resolver sent, and integer seconds, so instanceid,seconds for the
//     one-label names QNAME-minimising resolvers ask and ,seconds for the apex; `sink file PATH
//     csv` writes version,instance,seconds.
//   - {...}: `sink file PATH jsonl` writes {"time":RFC 3339,"version":...,"instance":...}. Any
//     JSON object with these three strings is read; other fields are ignored.
//
// The packet sniffer took any UUID that Python reads (of any version, without dashes, in
// braces) and the Go server any name; their lines are skipped where the DNS path refuses them.
//
// A sink file written with hash_ids holds digests (32 hex digits) in place of instance IDs. Their
// lines are skipped as BadUUID: a digest cannot be checked as the DNS path checks an ID, and
// hashing it again under hash_ids would count the instance under another key than the server's.
package logimport

import (
	"bytes"
	"encoding/json"
	"time"
	"unsafe"

	"github.com/google/uuid"

	"github.com/mailustats/mailustats/plugin/qname"
)

// Reason is why a line is not a record; None for a record.
type Reason int

// The reasons a line is skipped for; Parse says in which order it checks them.
const (
	None       Reason = iota
	OneLabel          // one label below the zone
	Apex              // the zone itself
	BadVersion        // a version label the DNS path refuses, or more than two labels
	BadUUID           // an instance label that is not a version 4 UUID, such as a digest
	BadTime           // the time is missing, not a number, or outside the bounds
	BadFormat         // not labels,seconds nor a JSON object of the sink's three strings
)

var reasonNames = [...]string{
	None:       "none",
	OneLabel:   "one-label",
	Apex:       "apex",
	BadVersion: "malformed version",
	BadUUID:    "malformed UUID",
	BadTime:    "bad time",
	BadFormat:  "bad format",
}

// String returns the reason as reports name it.
func (r Reason) String() string { return reasonNames[r] }

// Reasons are the reasons a line is skipped for, in the order reports list them.
var Reasons = []Reason{OneLabel, Apex, BadVersion, BadUUID, BadTime, BadFormat}

// Record is one announcement read from a line.
type Record struct {
	Time     time.Time // in UTC, whole seconds
	Version  string    // lower case, as qname.Version.String() gives it
	Instance uuid.UUID
}

const (
	// minSeconds is 2015-01-01T00:00:00Z, the earliest time a record may have.
	minSeconds = 1420070400
	// maxAhead is how far past now a record's time may lie, for clocks that run ahead.
	maxAhead = 24 * time.Hour
	// maxDigits is the most digits read in seconds; more would not fit an int64.
	maxDigits = 18
)

// Parse reads line, without its newline (a trailing \r is dropped too), as a record whose time
// lies between 2015-01-01 and now+24h, or says why it is none: the first that applies of
// BadFormat, BadTime, Apex, OneLabel, BadVersion, BadUUID. The time comes before the name because
// every form has it in one place and a line cut short loses it first: the last field of a cut
// line is no time, and its labels are not taken at face value. Fractions of a second are
// dropped. Parse keeps nothing of line and allocates only a record's Version.
func Parse(line []byte, now time.Time) (Record, Reason) {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if len(line) > 0 && line[0] == '{' {
		return parseJSON(line, now)
	}
	return parseFields(line, now)
}

// parseFields reads labels,seconds. A third label means that the version label held a comma or
// the name had more labels, so the line is BadVersion.
func parseFields(line []byte, now time.Time) (Record, Reason) {
	cut := bytes.LastIndexByte(line, ',')
	if cut < 0 {
		return Record{}, BadFormat
	}
	sec, ok := parseSeconds(line[cut+1:])
	if !ok || !inTime(sec, now) {
		return Record{}, BadTime
	}
	labels := line[:cut]
	i := bytes.IndexByte(labels, ',')
	switch {
	case len(labels) == 0:
		return Record{}, Apex
	case i < 0:
		return Record{}, OneLabel
	case bytes.IndexByte(labels[i+1:], ',') >= 0:
		return Record{}, BadVersion
	}
	return fromLabels(sec, view(labels[:i]), view(labels[i+1:]))
}

// parseSeconds reads Unix seconds as the servers wrote them: digits, and for the packet sniffer
// a dot and the fraction, which is dropped. Signs, exponents, NaN and Inf are refused.
func parseSeconds(b []byte) (int64, bool) {
	var sec int64
	i := 0
	for ; i < len(b) && isDigit(b[i]); i++ {
		if i == maxDigits {
			return 0, false
		}
		sec = sec*10 + int64(b[i]-'0')
	}
	if i == 0 {
		return 0, false
	}
	if i == len(b) {
		return sec, true
	}
	if b[i] != '.' {
		return 0, false
	}
	for _, c := range b[i+1:] {
		if !isDigit(c) {
			return 0, false
		}
	}
	return sec, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// inTime reports whether sec lies between 2015-01-01 and a day after now, both included.
func inTime(sec int64, now time.Time) bool {
	return sec >= minSeconds && sec <= now.Add(maxAhead).Unix()
}

// fromLabels checks the labels of a line whose time is good, with the DNS path's parsers.
func fromLabels(sec int64, version, instance string) (Record, Reason) {
	v, ok := qname.ParseVersion(version)
	if !ok {
		return Record{}, BadVersion
	}
	id, ok := qname.ParseInstance(instance)
	if !ok {
		return Record{}, BadUUID
	}
	return Record{Time: time.Unix(sec, 0).UTC(), Version: v.String(), Instance: id}, None
}

// view returns b as a string without copying it, for a call that only reads it and keeps
// nothing of it (a plain conversion copies labels longer than 32 bytes to the heap).
func view(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// jsonFields are the values of a jsonl line, unchecked.
type jsonFields struct {
	time, version, instance string
}

// parseJSON reads a line of a jsonl sink file.
func parseJSON(line []byte, now time.Time) (Record, Reason) {
	f, ok := sinkJSON(line)
	if !ok {
		if f, ok = decodeJSON(line); !ok {
			return Record{}, BadFormat
		}
	}
	return f.parse(now)
}

func (f jsonFields) parse(now time.Time) (Record, Reason) {
	t, err := time.Parse(time.RFC3339, f.time)
	if err != nil || !inTime(t.Unix(), now) {
		return Record{}, BadTime
	}
	return fromLabels(t.Unix(), f.version, f.instance)
}

// The text the file sink writes around the values of a jsonl line.
const (
	jsonTime     = `{"time":"`
	jsonVersion  = `","version":"`
	jsonInstance = `","instance":"`
	jsonEnd      = `"}`
)

// sinkJSON reads a line in exactly the form the file sink writes, with values that need no
// unescaping, without allocating; any other JSON is left to decodeJSON.
func sinkJSON(line []byte) (jsonFields, bool) {
	t, rest, ok := jsonString(line, jsonTime)
	if !ok {
		return jsonFields{}, false
	}
	v, rest, ok := jsonString(rest, jsonVersion)
	if !ok {
		return jsonFields{}, false
	}
	id, rest, ok := jsonString(rest, jsonInstance)
	if !ok || string(rest) != jsonEnd {
		return jsonFields{}, false
	}
	return jsonFields{time: view(t), version: view(v), instance: view(id)}, true
}

// jsonString cuts prefix from b, then a string value up to its closing quote; it refuses a value
// with a byte that JSON escapes or forbids in strings, which decodeJSON must read.
func jsonString(b []byte, prefix string) (value, rest []byte, ok bool) {
	if len(b) < len(prefix) || string(b[:len(prefix)]) != prefix {
		return nil, nil, false
	}
	b = b[len(prefix):]
	for i, c := range b {
		switch {
		case c == '"':
			return b[:i], b[i:], true
		case c == '\\' || c < 0x20:
			return nil, nil, false
		}
	}
	return nil, nil, false
}

// decodeJSON reads any JSON object with the string fields time, version and instance.
func decodeJSON(line []byte) (jsonFields, bool) {
	var v struct {
		Time     *string `json:"time"`
		Version  *string `json:"version"`
		Instance *string `json:"instance"`
	}
	if json.Unmarshal(line, &v) != nil || v.Time == nil || v.Version == nil || v.Instance == nil {
		return jsonFields{}, false
	}
	return jsonFields{time: *v.Time, version: *v.Version, instance: *v.Instance}, true
}
