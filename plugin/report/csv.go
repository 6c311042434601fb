package report

import (
	"bytes"
	"cmp"
	"encoding/csv"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// csvType is the media type of the CSV answers: RFC 4180, with a header row.
const csvType = "text/csv; charset=utf-8; header=present"

// table is an API answer that also reads as CSV: a file name and its rows, the header first.
type table interface {
	csvName() string
	csvRows() [][]string
}

// encodeCSV writes rows as CSV.
func encodeCSV(rows [][]string) []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.WriteAll(rows) // writes to memory: no error
	return b.Bytes()
}

// fileName is the name a CSV answer is saved under: what it holds and its window.
func fileName(what string, w Window) string {
	return "mailustats-" + what + "-" + w.From + "-to-" + w.To + ".csv"
}

// cell is a version name as a CSV cell. A spreadsheet would read a cell that starts with one of
// = + - @ as a formula; a leading quote makes it text, as OWASP advises for CSV files.
func cell(version string) string {
	if version != "" && strings.ContainsRune("=+-@\t\r", rune(version[0])) {
		return "'" + version
	}
	return version
}

func (s summaryBody) csvName() string { return fileName("summary", s.Window) }

// csvRows is a row per version, largest first.
func (s summaryBody) csvRows() [][]string {
	rows := [][]string{{"version", "instances"}}
	for _, v := range s.Versions {
		rows = append(rows, []string{cell(v.Version), strconv.FormatInt(v.Instances, 10)})
	}
	return rows
}

func (u upgradesBody) csvName() string { return fileName("upgrades", u.Window) }

// csvRows is a row per change of version.
func (u upgradesBody) csvRows() [][]string {
	rows := [][]string{{"from", "to", "instances"}}
	for _, c := range u.Upgrades {
		rows = append(rows, []string{cell(c.From), cell(c.To), strconv.FormatInt(c.Instances, 10)})
	}
	return rows
}

func (d daysBody) csvName() string { return fileName(d.what, d.Window) }

func (d daysBody) csvRows() [][]string { return dayRows(d.Days) }

func (t trendBody) csvName() string {
	return fileName("trend-"+strconv.Itoa(t.WindowDays)+"d", t.Window)
}

func (t trendBody) csvRows() [][]string { return dayRows(t.Points) }

// dayRows is a row per day: the day, its instances, then a column per version, the versions
// with the most instances over all the days first.
func dayRows(days []Day) [][]string {
	totals := map[string]int64{}
	for _, d := range days {
		for v, n := range d.Versions {
			totals[v] += n
		}
	}
	versions := slices.SortedFunc(maps.Keys(totals), func(a, b string) int {
		return cmp.Or(cmp.Compare(totals[b], totals[a]), cmp.Compare(a, b))
	})
	header := []string{"day", "instances"}
	for _, v := range versions {
		header = append(header, cell(v))
	}
	rows := [][]string{header}
	for _, d := range days {
		row := make([]string, 0, len(header))
		row = append(row, d.Day, strconv.FormatInt(d.Instances, 10))
		for _, v := range versions {
			row = append(row, strconv.FormatInt(d.Versions[v], 10))
		}
		rows = append(rows, row)
	}
	return rows
}
