package report

import "strings"

// The statements, written once for both databases, on the store's schema version 3: days are
// integers (days since 1970-01-01), versions and instances interned as integer ids. In them,
// {from} and {to} are the window's ends, {min_days} the fewest days of an instance, {window}
// the days of a trend's window and {lo} the first day a trend reads, each a numbered
// parameter; {bytes} makes an ORDER BY on a version name compare bytes, as SQLite does,
// whatever the collation of the PostgreSQL database. Aggregate rows whose count fell to 0 are
// left out.
const (
	// firstDaySQL and lastDaySQL are the first and last days with rows, from the ends of the
	// primary key of day_counts.
	firstDaySQL = `SELECT day FROM day_counts WHERE instances > 0 ORDER BY day LIMIT 1`
	lastDaySQL  = `SELECT day FROM day_counts WHERE instances > 0 ORDER BY day DESC LIMIT 1`

	// summarySQL is the summary of a window that reaches the last day with rows: the
	// instances whose last day is in the window, under their last version, from the index on
	// (last_day, last_version, days) alone.
	summarySQL = `SELECT v.name, c.instances
FROM (
	SELECT last_version, count(*) AS instances
	FROM instances
	WHERE last_day BETWEEN {from} AND {to} AND days >= {min_days}
	GROUP BY last_version
) AS c
JOIN versions AS v ON v.id = c.last_version`

	// summarySightingsSQL is the summary of any window, from the base rows: for each instance
	// whose last day is not before the window (from the index on last_day), its last day in
	// the window, then the version of that day's final row, the one seen last, then the
	// greatest version; each a seek in the primary key of sightings, made once per instance
	// (MATERIALIZED keeps SQLite from copying the lookup into each use of its result). The
	// version's name is looked up by key for the few rows of that day alone: a join would
	// have PostgreSQL hash every version for each instance.
	summarySightingsSQL = `WITH latest AS MATERIALIZED (
	SELECT (
		SELECT s.version
		FROM sightings AS s
		WHERE s.instance = i.id AND s.day = (
			SELECT max(day) FROM sightings AS m
			WHERE m.instance = i.id AND m.day BETWEEN {from} AND {to}
		)
		ORDER BY s.last_seen DESC, (SELECT v.name{bytes} FROM versions AS v WHERE v.id = s.version) DESC
		LIMIT 1
	) AS version
	FROM instances AS i
	WHERE i.last_day >= {from} AND i.days >= {min_days}
)
SELECT v.name, c.instances
FROM (
	SELECT version, count(*) AS instances
	FROM latest
	WHERE version IS NOT NULL
	GROUP BY version
) AS c
JOIN versions AS v ON v.id = c.version`

	// dailySQL is the instances per day and version id, then, with a NULL version, per day.
	dailySQL = `SELECT day, version, instances
FROM day_versions
WHERE day BETWEEN {from} AND {to} AND instances > 0
UNION ALL
SELECT day, NULL, instances
FROM day_counts
WHERE day BETWEEN {from} AND {to} AND instances > 0`

	// adoptionSQL is the instances that reported a version for the first time, per day and
	// version id, then, with a NULL version, the instances first seen, per day.
	adoptionSQL = `SELECT day, version, instances
FROM day_adoption
WHERE day BETWEEN {from} AND {to} AND instances > 0
UNION ALL
SELECT day, NULL, new_instances
FROM day_counts
WHERE day BETWEEN {from} AND {to} AND new_instances > 0`

	// upgradesSQL counts the instances per change of version dated in the window: the
	// instances that made it each day of the window, from day_changes, less those that had
	// made it already since the window's start, the changes whose previous_day is in the
	// window too, read from their partial index changes_repeats.
	upgradesSQL = `SELECT f.name, t.name, c.instances
FROM (
	SELECT from_version, to_version, sum(n) AS instances
	FROM (
		SELECT from_version, to_version, instances AS n
		FROM day_changes
		WHERE day BETWEEN {from} AND {to}
		UNION ALL
		SELECT from_version, to_version, -count(*)
		FROM changes
		WHERE previous_day IS NOT NULL AND day BETWEEN {from} AND {to} AND previous_day >= {from}
		GROUP BY from_version, to_version
	) AS counts
	GROUP BY from_version, to_version
	HAVING sum(n) > 0
) AS c
JOIN versions AS f ON f.id = c.from_version
JOIN versions AS t ON t.id = c.to_version`

	// upgradesEverSQL counts the instances that ever made each change of version, for a
	// window that holds the whole history.
	upgradesEverSQL = `SELECT f.name, t.name, c.instances
FROM change_instances AS c
JOIN versions AS f ON f.id = c.from_version
JOIN versions AS t ON t.id = c.to_version
WHERE c.instances > 0`

	// trendSQL is what the trend of a window of TrendWindows gains or loses per day and
	// version id, up to {to}, in no set order: PostgreSQL would sort them on disk.
	trendSQL = `SELECT day, version, delta
FROM trend_deltas
WHERE window_days = {window} AND day <= {to} AND delta <> 0`

	// versionsSQL names the versions.
	versionsSQL = `SELECT id, name FROM versions`

	// trendSightingsSQL is the sightings of the days {lo} to {to} of the instances seen since
	// {lo} and on {min_days} days or more, in the order of the primary key: instances in id order (the unary + keeps SQLite
	// from the index on last_day, which would need a sort) and each one's rows in day order.
	trendSightingsSQL = `SELECT s.instance, s.day, s.version, s.last_seen
FROM instances AS i
JOIN sightings AS s ON s.instance = i.id AND s.day BETWEEN {lo} AND {to}
WHERE +i.last_day >= {lo} AND i.days >= {min_days}
ORDER BY i.id, s.day`
)

// queries are the statements in one database's SQL.
type queries struct {
	firstDay, lastDay, summary, summarySightings, daily, adoption, upgrades, upgradesEver, trend, versions, trendSightings string
}

// dialects spell the placeholders of the statements for each database. A statement takes the
// parameters it names, in the order {from}, {window} or {lo}, then {to}, then {min_days}: each
// one it is given must appear in it, or PostgreSQL cannot tell its type.
var dialects = map[Dialect]*queries{
	SQLite: spell(strings.NewReplacer(
		"{from}", "$1", "{window}", "$1", "{lo}", "$1", "{to}", "$2", "{min_days}", "$3",
		"{bytes}", "",
	)),
	Postgres: spell(strings.NewReplacer(
		"{from}", "$1::integer", "{window}", "$1::integer", "{lo}", "$1::integer",
		"{to}", "$2::integer", "{min_days}", "$3::integer",
		"{bytes}", ` COLLATE "C"`,
	)),
}

func spell(r *strings.Replacer) *queries {
	return &queries{
		firstDay:         r.Replace(firstDaySQL),
		lastDay:          r.Replace(lastDaySQL),
		summary:          r.Replace(summarySQL),
		summarySightings: r.Replace(summarySightingsSQL),
		daily:            r.Replace(dailySQL),
		adoption:         r.Replace(adoptionSQL),
		upgrades:         r.Replace(upgradesSQL),
		upgradesEver:     r.Replace(upgradesEverSQL),
		trend:            r.Replace(trendSQL),
		versions:         r.Replace(versionsSQL),
		trendSightings:   r.Replace(trendSightingsSQL),
	}
}
