package report

// Queries returns the statements in dialect d's SQL by name, for the external tests, which
// check their query plans.
func Queries(d Dialect) map[string]string {
	q := dialects[d]
	return map[string]string{
		"summary": q.summary, "summary_min_days": q.summaryMinDays,
		"daily": q.daily, "new": q.adoption, "upgrades": q.upgrades,
	}
}
