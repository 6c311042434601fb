//go:build linux

package main

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
)

// zone is the zone every configuration serves.
const zone = "stats.mailu.io"

// versionShare is the share of instances, in percent, that report a version.
type versionShare struct {
	Version string
	Percent int
}

// versionMix is a realistic spread of versions. A version must be one label, so releases such
// as 2024.06 appear in their one-label form; the dotted form is among the malformed names.
var versionMix = []versionShare{{"19", 40}, {"2024-06", 30}, {"master", 15}, {"18", 10}, {"1-9", 5}}

// Shares of all names in the query file of the throughput runs that are not valid.
const (
	malformedShare = 0.05 // a bad UUID, a bad version or three labels
	partialShare   = 0.05 // one label, as asked by resolvers that minimise query names
)

// slot is one line of a query file before it is written: what kind of name, and which version.
type slot struct {
	kind    nameKind
	version uint8 // index into versionMix
}

// nameKind is what a generated name is meant to be.
type nameKind uint8

// The kinds of generated names; the malformed ones come one after another in turn.
const (
	nameValid       nameKind = iota
	namePartial              // <uuid>.<zone>
	nameBadUUID              // a UUID of version 1
	nameBadVersion           // a version with a character outside a-z 0-9 - _
	nameThreeLabels          // a dotted version: <major>.<minor>.<uuid>.<zone>
)

// querySet counts what a query file holds.
type querySet struct {
	Names     int            `json:"names"`
	Valid     int            `json:"valid"` // one distinct instance each
	Partial   int            `json:"partial"`
	Malformed int            `json:"malformed"`
	Versions  map[string]int `json:"versions"` // valid names by version
}

// plan lays out a query file: instances valid names spread over versionMix by exact counts, plus
// malformed and partial shares of all names, shuffled.
func plan(rng *rand.Rand, instances int, malformed, partial float64) ([]slot, querySet) {
	total := int(float64(instances)/(1-malformed-partial) + 0.5)
	set := querySet{Names: total, Valid: instances, Versions: map[string]int{}}
	set.Malformed = int(float64(total)*malformed + 0.5)
	set.Partial = total - instances - set.Malformed
	slots := make([]slot, 0, total)
	for i, n := range versionCounts(instances) {
		set.Versions[versionMix[i].Version] = n
		for range n {
			slots = append(slots, slot{kind: nameValid, version: uint8(i)})
		}
	}
	for range set.Partial {
		slots = append(slots, slot{kind: namePartial})
	}
	for i := range set.Malformed {
		slots = append(slots, slot{kind: nameBadUUID + nameKind(i%3)})
	}
	rng.Shuffle(len(slots), func(i, j int) { slots[i], slots[j] = slots[j], slots[i] })
	return slots, set
}

// versionCounts splits n over versionMix by the largest remainder, so the counts add up to n.
func versionCounts(n int) []int {
	counts := make([]int, len(versionMix))
	given := 0
	for i, v := range versionMix {
		counts[i] = n * v.Percent / 100
		given += counts[i]
	}
	for i := 0; given < n; i = (i + 1) % len(counts) {
		counts[i]++
		given++
	}
	return counts
}

// writeQueries writes one dnsperf line ("NAME A") for each slot, with a fresh random UUIDv4 in
// each name and every letter in random case, as resolvers using 0x20 send them.
func writeQueries(w io.Writer, rng *rand.Rand, slots []slot) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	var b strings.Builder
	for _, s := range slots {
		b.Reset()
		id := randomUUID(rng, 4)
		switch s.kind {
		case nameValid:
			b.WriteString(versionMix[s.version].Version + "." + id)
		case namePartial:
			b.WriteString(id)
		case nameBadUUID:
			b.WriteString("19." + randomUUID(rng, 1))
		case nameBadVersion:
			b.WriteString("v+19." + id)
		case nameThreeLabels:
			b.WriteString("2024.06." + id)
		}
		b.WriteString("." + zone)
		if _, err := bw.WriteString(randomCase(rng, b.String()) + " A\n"); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// writeQueryFile plans and writes a query file at path.
func writeQueryFile(path string, seed uint64, instances int, malformed, partial float64) (querySet, error) {
	rng := rand.New(rand.NewPCG(seed, 0x6d61696c75))
	slots, set := plan(rng, instances, malformed, partial)
	f, err := os.Create(path)
	if err != nil {
		return set, err
	}
	if err := writeQueries(f, rng, slots); err != nil {
		f.Close()
		return set, fmt.Errorf("write %s: %w", path, err)
	}
	return set, f.Close()
}

// randomUUID returns a random UUID of the given version with the RFC 9562 variant, in lower case.
func randomUUID(rng *rand.Rand, version byte) string {
	var u [16]byte
	hi, lo := rng.Uint64(), rng.Uint64()
	for i := range 8 {
		u[i], u[8+i] = byte(hi>>(8*i)), byte(lo>>(8*i))
	}
	u[6] = u[6]&0x0f | version<<4
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// randomCase upper-cases each letter of s with even odds.
func randomCase(rng *rand.Rand, s string) string {
	b := []byte(s)
	bits, left := uint64(0), 0
	for i, c := range b {
		if c < 'a' || c > 'z' {
			continue
		}
		if left == 0 {
			bits, left = rng.Uint64(), 64
		}
		if bits&1 == 1 {
			b[i] = c - 'a' + 'A'
		}
		bits >>= 1
		left--
	}
	return string(b)
}
