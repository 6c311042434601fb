package history

import "time"

// The days of Row are counted so: DayNumber turns a time into its UTC day and the second of that
// day, and the others turn days back into times and text.

// secondsPerDay is the length of a UTC day.
const secondsPerDay = 24 * 60 * 60

// DayNumber is t's UTC day as days since 1970-01-01, and the seconds of t after that day's
// midnight.
func DayNumber(t time.Time) (day int32, second int32) {
	unix := t.Unix()
	d := unix / secondsPerDay
	if unix < 0 && unix%secondsPerDay != 0 {
		d-- // round towards the earlier day before 1970
	}
	return int32(d), int32(unix - d*secondsPerDay)
}

// DayTime is the time of second on day, as DayNumber gives them.
func DayTime(day, second int32) time.Time {
	return time.Unix(int64(day)*secondsPerDay+int64(second), 0).UTC()
}

// DayString writes day as YYYY-MM-DD.
func DayString(day int32) string { return DayTime(day, 0).Format(time.DateOnly) }

// ParseDay reads a day written YYYY-MM-DD as days since 1970-01-01.
func ParseDay(s string) (int32, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, err
	}
	day, _ := DayNumber(t)
	return day, nil
}
