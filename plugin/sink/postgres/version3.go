package postgres

// version3 is store version 3, which keeps what Upgrades reads over long windows without
// reading every change: per day and change of version, the instances that made it
// (day_changes, the history.Delta.Changes aggregate), and on each change the day its instance
// last made the same change before (previous_day), so that an instance making a change twice
// in a window is counted once: a window's count of a change is the sum of its day_changes less
// its changes whose previous_day is in the window too, which the partial index changes_repeats
// holds. For the whole history, change_instances holds per change the instances that ever
// made it: the changes without a previous_day. Nothing else read the changes by day, so their
// index on day goes.
const version3 = `ALTER TABLE changes ADD COLUMN previous_day integer;
DROP INDEX changes_day;
CREATE INDEX changes_repeats ON changes (day, previous_day, from_version, to_version)
	WHERE previous_day IS NOT NULL;
CREATE TABLE day_changes (
	day integer NOT NULL,
	from_version bigint NOT NULL,
	to_version bigint NOT NULL,
	instances integer NOT NULL,
	PRIMARY KEY (day, from_version, to_version)
);
CREATE TABLE change_instances (
	from_version bigint NOT NULL,
	to_version bigint NOT NULL,
	instances integer NOT NULL,
	PRIMARY KEY (from_version, to_version)
);
` + markAllRepeats + `;
INSERT INTO day_changes (day, from_version, to_version, instances)
SELECT day, from_version, to_version, count(*) FROM changes GROUP BY day, from_version, to_version;
` + fillChangeInstances

const (
	// markAllRepeats sets previous_day on every change that repeats an earlier one of its
	// instance, as Rebuild and the migration need after inserting the changes.
	markAllRepeats = `UPDATE changes AS c SET previous_day = r.previous_day
FROM (SELECT instance, day, from_version, to_version,
	lag(day) OVER (PARTITION BY instance, from_version, to_version ORDER BY day) AS previous_day
	FROM changes) AS r
WHERE r.previous_day IS NOT NULL AND c.instance = r.instance AND c.day = r.day
	AND c.from_version = r.from_version AND c.to_version = r.to_version`

	// fillChangeInstances counts the first changes, those without previous_day, into an
	// empty change_instances, as Rebuild and the migration need.
	fillChangeInstances = `INSERT INTO change_instances (from_version, to_version, instances)
SELECT from_version, to_version, count(*) FROM changes WHERE previous_day IS NULL
GROUP BY from_version, to_version`

	// addChangeInstances adds to change_instances what history.Plan.Made says of the
	// instances $1, with ChangesAfter $2: a change $3 to $4 an instance makes after that day
	// now and not before ($5 = 1), or no longer ($5 = -1), counts unless the instance made it
	// by that day, which the batch leaves as it was: a search of the primary key of changes
	// for each, which OFFSET 0 keeps from becoming a join that sorts or hashes the whole
	// table. Rows come in key order, so concurrent writers lock them in one order.
	addChangeInstances = `INSERT INTO change_instances (from_version, to_version, instances)
SELECT m.from_version, m.to_version, sum(m.n)
FROM unnest($1::bigint[], $2::integer[], $3::bigint[], $4::bigint[], $5::integer[]) AS m (instance, after, from_version, to_version, n)
WHERE NOT EXISTS (SELECT FROM changes AS c WHERE c.instance = m.instance AND c.day <= m.after
	AND c.from_version = m.from_version AND c.to_version = m.to_version OFFSET 0)
GROUP BY m.from_version, m.to_version
HAVING sum(m.n) <> 0
ORDER BY m.from_version, m.to_version
ON CONFLICT (from_version, to_version) DO UPDATE SET instances = change_instances.instances + EXCLUDED.instances`
)
