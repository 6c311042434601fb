package oldlogs

import (
	"bufio"
	"bytes"
	"testing"
	"time"

	"github.com/mailustats/mailustats/internal/logimport"
	"github.com/mailustats/mailustats/internal/testutil/population"
)

// The log's lines are the announcements of the population and the noise, as the importer
// reads them: as many valid records as Write counts, each of an instance of the population,
// and lines of every reason of the noise written.
func TestWrite(t *testing.T) {
	c := population.Small(1)
	var buf bytes.Buffer
	counts, err := Write(&buf, c, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	instances := map[string]bool{}
	for r := range c.Records() {
		instances[r.Instance] = true
	}
	var lines, valid int64
	reasons := map[logimport.Reason]int{}
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		lines++
		rec, reason := logimport.Parse(sc.Bytes(), time.Now())
		reasons[reason]++
		if reason != logimport.None {
			continue
		}
		valid++
		if !instances[rec.Instance.String()] {
			t.Fatalf("line %d: instance %s is not of the population", lines, rec.Instance)
		}
	}
	if lines != counts.Lines || valid != counts.Valid {
		t.Errorf("expected %d lines, %d valid, got %d and %d", counts.Lines, counts.Valid, lines, valid)
	}
	for _, r := range []logimport.Reason{logimport.OneLabel, logimport.Apex, logimport.BadVersion, logimport.BadUUID, logimport.BadTime} {
		if reasons[r] == 0 {
			t.Errorf("expected lines skipped as %s, got none", r)
		}
	}

	short, err := Write(&bytes.Buffer{}, c, 100)
	if err != nil || short.Lines != 100 {
		t.Errorf("expected 100 lines at most, got %d, %v", short.Lines, err)
	}
}
