package report

import "strings"

// The statements, written once for both databases. In them, {from} and {to} are the window's
// ends as day parameters, {min_days} the third parameter as an integer, {day} and {first_day}
// those columns as YYYY-MM-DD text, and {bytes} makes an ORDER BY on version compare bytes, as
// SQLite does, whatever the collation of the PostgreSQL database. Every statement on the
// window filters on day, the leading column of the primary key, so it reads only the window's
// part of the table.
const (
	// summarySQL counts each instance of the window once, under the version of its row with
	// the latest last_seen; of two rows seen last at the same second, the greater version.
	summarySQL = `SELECT version, count(*)
FROM (
	SELECT version, row_number() OVER (
		PARTITION BY instance ORDER BY last_seen DESC, version{bytes} DESC
	) AS recency
	FROM daily
	WHERE day BETWEEN {from} AND {to}
) AS ranked
WHERE recency = 1
GROUP BY version`

	// summaryMinDaysSQL is summarySQL for the instances with rows on at least {min_days}
	// distinct days over their whole history. It looks up the days of each instance of the
	// window in the index on (instance, day), and stops at {min_days} of them. (Carrying
	// instance through the ranking costs summarySQL a tenth more, so it has its own.)
	summaryMinDaysSQL = `SELECT version, count(*)
FROM (
	SELECT instance, version, row_number() OVER (
		PARTITION BY instance ORDER BY last_seen DESC, version{bytes} DESC
	) AS recency
	FROM daily
	WHERE day BETWEEN {from} AND {to}
) AS ranked
WHERE recency = 1 AND (
	SELECT count(*) FROM (
		SELECT DISTINCT day FROM daily AS history
		WHERE history.instance = ranked.instance
		LIMIT {min_days}
	) AS days
) >= {min_days}
GROUP BY version`

	// dailySQL counts the instances per day and version, then, with a NULL version, the
	// distinct instances per day. The key makes count(*) a count of distinct instances.
	dailySQL = `SELECT {day}, version, count(*)
FROM daily
WHERE day BETWEEN {from} AND {to}
GROUP BY day, version
UNION ALL
SELECT {day}, NULL, count(DISTINCT instance)
FROM daily
WHERE day BETWEEN {from} AND {to}
GROUP BY day`

	// adoptionSQL counts, per day of the window, the (instance, version) pairs first seen
	// that day, per version, then, with a NULL version, the instances first seen that day.
	// It reads the history before the window too, since "first" is over all of it.
	adoptionSQL = `SELECT {first_day}, version, count(*)
FROM (
	SELECT version, min(day) AS first_day
	FROM daily
	WHERE day <= {to}
	GROUP BY instance, version
) AS pairs
WHERE first_day >= {from}
GROUP BY first_day, version
UNION ALL
SELECT {first_day}, NULL, count(*)
FROM (
	SELECT min(day) AS first_day
	FROM daily
	WHERE day <= {to}
	GROUP BY instance
) AS installs
WHERE first_day >= {from}
GROUP BY first_day`

	// upgradesSQL orders each instance's rows of the window by day and first sighting (then
	// version, for rows first seen at the same second) and counts the instances per change
	// of version between consecutive rows.
	upgradesSQL = `SELECT previous, version, count(DISTINCT instance)
FROM (
	SELECT instance, version, lag(version) OVER (
		PARTITION BY instance ORDER BY day, first_seen, version{bytes}
	) AS previous
	FROM daily
	WHERE day BETWEEN {from} AND {to}
) AS steps
WHERE previous <> version
GROUP BY previous, version`
)

// queries are the statements in one database's SQL.
type queries struct {
	summary, summaryMinDays, daily, adoption, upgrades string
}

// dialects spell the placeholders of the statements for each database: in PostgreSQL a day
// parameter needs a cast to compare with a date, a parameter used twice one type for both
// uses, and a date becomes text through to_char, which, unlike a cast, ignores the DateStyle
// setting.
var dialects = map[Dialect]*queries{
	SQLite: spell(strings.NewReplacer(
		"{from}", "$1", "{to}", "$2", "{min_days}", "$3",
		"{day}", "day", "{first_day}", "first_day",
		"{bytes}", "",
	)),
	Postgres: spell(strings.NewReplacer(
		"{from}", "$1::date", "{to}", "$2::date", "{min_days}", "$3::integer",
		"{day}", "to_char(day, 'YYYY-MM-DD')", "{first_day}", "to_char(first_day, 'YYYY-MM-DD')",
		"{bytes}", ` COLLATE "C"`,
	)),
}

func spell(r *strings.Replacer) *queries {
	return &queries{
		summary:        r.Replace(summarySQL),
		summaryMinDays: r.Replace(summaryMinDaysSQL),
		daily:          r.Replace(dailySQL),
		adoption:       r.Replace(adoptionSQL),
		upgrades:       r.Replace(upgradesSQL),
	}
}
