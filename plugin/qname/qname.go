// Package qname parses the names Mailu instances resolve to announce themselves,
// <version>.<instanceid>.<zone>, without allocating and in any letter case.
package qname

import "github.com/google/uuid"

// MaxVersionLen is the longest version label accepted.
const MaxVersionLen = 32

// Kind says where a query name stands in the zone.
type Kind uint8

// The kinds of names inside a zone.
const (
	// Malformed is any name that is neither the apex, one label, nor a valid announcement.
	Malformed Kind = iota
	// Apex is the zone itself.
	Apex
	// Partial is one label below the apex, as asked by resolvers that minimise query names.
	Partial
	// Valid is <version>.<instanceid>.<zone> with both labels well formed.
	Valid
)

var kindNames = [...]string{Malformed: "malformed", Apex: "apex", Partial: "partial", Valid: "valid"}

// String returns the kind's lower-case name.
func (k Kind) String() string { return kindNames[k] }

// Version is a lower-cased version label held by value, so parsing allocates nothing.
type Version struct {
	b [MaxVersionLen]byte
	n uint8
}

// String returns the version label.
func (v Version) String() string { return string(v.b[:v.n]) }

// Name is the parsed form of a query name.
type Name struct {
	Kind     Kind
	Version  Version   // set when Kind is Valid
	Instance uuid.UUID // set when Kind is Valid
}

// Parse classifies name, a fully qualified query name in any letter case in its presentation
// form (escapes as miekg/dns writes them), against zone, the lower-case fully qualified zone that
// Match found for it.
func Parse(name, zone string) Name {
	if len(name) < len(zone) || !isSuffix(name, zone) {
		return Name{}
	}
	rel := len(name) - len(zone) // name[:rel] is the part below the zone, with its trailing dot
	if rel == 0 {
		return Name{Kind: Apex}
	}
	if zone == "." {
		rel++ // the root's dot is also the last label's separator
	}
	rest := name[:rel-1]
	first, second, labels := splitTwo(rest)
	switch labels {
	case 1:
		return Name{Kind: Partial}
	case 2:
		v, okv := ParseVersion(first)
		id, oki := ParseInstance(second)
		if okv && oki {
			return Name{Kind: Valid, Version: v, Instance: id}
		}
	}
	return Name{}
}

// splitTwo returns the first two labels of s and how many labels s has, counting no further
// than three. Escaped dots ("\.") do not separate labels.
func splitTwo(s string) (first, second string, labels int) {
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++ // the escaped byte, or the first digit of \DDD, is part of the label
		case '.':
			switch labels {
			case 0:
				first = s[start:i]
			case 1:
				second = s[start:i]
			default:
				return first, second, 3
			}
			labels++
			start = i + 1
		}
	}
	switch labels {
	case 0:
		first = s[start:]
	case 1:
		second = s[start:]
	}
	return first, second, labels + 1
}

// ParseVersion reads a version label: 1 to MaxVersionLen bytes of a-z, 0-9, '-' and '_', in any
// case, lower-cased. The DNS path and the importer of old logs accept the same labels.
func ParseVersion(s string) (Version, bool) {
	var v Version
	if len(s) == 0 || len(s) > MaxVersionLen {
		return v, false
	}
	for i := 0; i < len(s); i++ {
		c := lower(s[i])
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return v, false
		}
		v.b[i] = c
	}
	v.n = uint8(len(s))
	return v, true
}

// ParseInstance reads an instance label: a UUID version 4 (RFC 9562 variant) in its 36-character
// form, in any case.
func ParseInstance(s string) (uuid.UUID, bool) {
	var id uuid.UUID
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return id, false
	}
	for j, i := range hexPairs {
		hi, ok1 := hexValue(s[i])
		lo, ok2 := hexValue(s[i+1])
		if !ok1 || !ok2 {
			return id, false
		}
		id[j] = hi<<4 | lo
	}
	if id[6]>>4 != 4 || id[8]>>6 != 0b10 {
		return id, false
	}
	return id, true
}

// hexPairs are the offsets of the 16 hex byte pairs in the 36-character form.
var hexPairs = [16]int{0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34}

func hexValue(c byte) (byte, bool) {
	switch c = lower(c); {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
