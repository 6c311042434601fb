package report

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"
)

// dayList is days as the API writes them. It encodes to the JSON that encoding/json would
// write for []Day, versions in order of name, but sorts the names of all the days once rather
// than each day's: years of a trend have thousands of days of dozens of versions each.
type dayList []Day

// MarshalJSON implements json.Marshaler.
func (l dayList) MarshalJSON() ([]byte, error) { return l.appendJSON(nil) }

// appendJSON appends the JSON of l to b.
func (l dayList) appendJSON(b []byte) ([]byte, error) {
	quoted := map[string][]byte{} // each version's name as a JSON string
	for _, d := range l {
		for v := range d.Versions {
			if _, ok := quoted[v]; !ok {
				q, err := json.Marshal(v)
				if err != nil {
					return nil, err
				}
				quoted[v] = q
			}
		}
	}
	names := slices.Sorted(maps.Keys(quoted))
	b = slices.Grow(b, 64*len(l)+16*len(names)*len(l))
	b = append(b, '[')
	for i, d := range l {
		if i > 0 {
			b = append(b, ',')
		}
		day, err := json.Marshal(d.Day)
		if err != nil {
			return nil, err
		}
		b = append(b, `{"day":`...)
		b = append(b, day...)
		b = append(b, `,"instances":`...)
		b = strconv.AppendInt(b, d.Instances, 10)
		b = append(b, `,"versions":{`...)
		first := true
		for _, v := range names {
			n, ok := d.Versions[v]
			if !ok {
				continue
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = append(b, quoted[v]...)
			b = append(b, ':')
			b = strconv.AppendInt(b, n, 10)
		}
		b = append(b, "}}"...)
	}
	return append(b, ']'), nil
}

// withDays is the JSON of head, which encodes as an object, with one more field, name, that
// holds days.
func withDays(head any, name string, days dayList) ([]byte, error) {
	b, err := json.Marshal(head)
	if err != nil {
		return nil, err
	}
	b = append(b[:len(b)-1], `,"`+name+`":`...) // in place of the closing brace
	if b, err = days.appendJSON(b); err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}
