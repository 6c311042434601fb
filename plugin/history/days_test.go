package history

import (
	"testing"
	"time"
)

func TestDayNumber(t *testing.T) {
	for _, tc := range []struct {
		at          time.Time
		day, second int32
		text        string
	}{
		{time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), 0, 0, "1970-01-01"},
		{time.Date(2026, 11, 30, 23, 59, 59, 999, time.UTC), 20787, 86399, "2026-11-30"},
		{time.Date(2026, 12, 1, 1, 0, 0, 0, time.FixedZone("CET", 3600)), 20788, 0, "2026-12-01"},
		{time.Date(1969, 12, 31, 23, 0, 0, 0, time.UTC), -1, 82800, "1969-12-31"},
	} {
		day, second := DayNumber(tc.at)
		if day != tc.day || second != tc.second || DayString(day) != tc.text || !DayTime(day, second).Equal(tc.at.Truncate(time.Second)) {
			t.Errorf("%v: expected day %d second %d (%s), got %d %d (%s)", tc.at, tc.day, tc.second, tc.text, day, second, DayString(day))
		}
		if parsed, err := ParseDay(tc.text); err != nil || parsed != tc.day {
			t.Errorf("ParseDay(%s): expected %d, got %d %v", tc.text, tc.day, parsed, err)
		}
	}
}
