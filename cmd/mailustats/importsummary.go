package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mailustats/mailustats/internal/logimport"
)

// importSummary is what an import did, printed at its end.
type importSummary struct {
	Lines        int64            `json:"lines"`         // lines read
	Imported     int64            `json:"imported"`      // records written, of the chunks not stored before
	Skipped      map[string]int64 `json:"skipped"`       // lines skipped, by reason
	InstanceDays int64            `json:"instance_days"` // what the database gained
	Instances    int64            `json:"instances"`     // distinct instances of the records read
	NewInstances int64            `json:"new_instances"` // instances the database did not know
	First        string           `json:"first,omitempty"`
	Last         string           `json:"last,omitempty"` // the span of the records' times, RFC 3339
	Chunks       int64            `json:"chunks"`         // batches of chunkLines lines
	ChunksBefore int64            `json:"chunks_before"`  // of them, stored by an import before
	Elapsed      string           `json:"elapsed"`

	first, last time.Time
}

// span widens the span of the records' times to t.
func (s *importSummary) span(t time.Time) {
	if s.first.IsZero() || t.Before(s.first) {
		s.first, s.First = t, t.Format(time.RFC3339)
	}
	if t.After(s.last) {
		s.last, s.Last = t, t.Format(time.RFC3339)
	}
}

// print writes the importSummary for people.
func (s importSummary) print(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "lines read\t%d\n", s.Lines)
	fmt.Fprintf(tw, "records imported\t%d\n", s.Imported)
	fmt.Fprintf(tw, "lines skipped\t%s\n", s.skipped())
	fmt.Fprintf(tw, "instance-days written\t%d\n", s.InstanceDays)
	fmt.Fprintf(tw, "distinct instances\t%d (%d new to the database)\n", s.Instances, s.NewInstances)
	if s.First != "" {
		fmt.Fprintf(tw, "time span\t%s to %s\n", s.First, s.Last)
	}
	fmt.Fprintf(tw, "batches\t%d (%d stored by an earlier import)\n", s.Chunks, s.ChunksBefore)
	fmt.Fprintf(tw, "elapsed\t%s\n", s.Elapsed)
	if s.Chunks > 0 && s.ChunksBefore == s.Chunks {
		fmt.Fprintln(tw, "nothing changed: every batch of these lines was imported before")
	}
	return tw.Flush()
}

// skipped lists the skipped lines by reason, in the order of logimport.Reasons.
func (s importSummary) skipped() string {
	var parts []string
	var total int64
	for _, r := range logimport.Reasons {
		if n := s.Skipped[r.String()]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", r, n))
			total += n
		}
	}
	if total == 0 {
		return "0"
	}
	return fmt.Sprintf("%d: %s", total, strings.Join(parts, ", "))
}
