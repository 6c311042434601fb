package report

// Queries returns the statements in dialect d's SQL by name, for the external tests, which
// check their query plans.
func Queries(d Dialect) map[string]string {
	q := dialects[d]
	return map[string]string{
		"first_day": q.firstDay, "last_day": q.lastDay,
		"summary": q.summary, "summary_sightings": q.summarySightings,
		"daily": q.daily, "new": q.adoption, "upgrades": q.upgrades, "upgrades_ever": q.upgradesEver,
		"trend": q.trend, "trend_sightings": q.trendSightings,
	}
}

// TakeRowReadsTurn takes the turn of reads of the base rows of s until the returned function
// is called, for the tests of the turns.
func TakeRowReadsTurn(s *Store) (done func()) {
	s.rowReads <- struct{}{}
	return func() { <-s.rowReads }
}
