package sqlite

// Store version 3 keeps what Upgrades reads over long windows without reading every change:
// per day and change of version, the instances that made it (day_changes, the
// history.Delta.Changes aggregate), and on each change the day its instance last made the
// same change before (previous_day), so that an instance making a change twice in a window is
// counted once: a window's count of a change is the sum of its day_changes less its changes
// whose previous_day is in the window too, which the partial index changes_repeats holds. For
// the whole history, change_instances holds per change the instances that ever made it: the
// changes without a previous_day. Nothing else read the changes by day, so their index on day
// goes.
const version3SQL = `ALTER TABLE changes ADD COLUMN previous_day INTEGER;
	DROP INDEX changes_day;
	CREATE INDEX changes_repeats ON changes (day, previous_day, from_version, to_version)
		WHERE previous_day IS NOT NULL;
	CREATE TABLE day_changes (day INTEGER NOT NULL, from_version INTEGER NOT NULL, to_version INTEGER NOT NULL,
		instances INTEGER NOT NULL, PRIMARY KEY (day, from_version, to_version)) WITHOUT ROWID;
	CREATE TABLE change_instances (from_version INTEGER NOT NULL, to_version INTEGER NOT NULL,
		instances INTEGER NOT NULL, PRIMARY KEY (from_version, to_version)) WITHOUT ROWID;
	` + markAllRepeats + `;
	INSERT INTO day_changes (day, from_version, to_version, instances)
		SELECT day, from_version, to_version, count(*) FROM changes GROUP BY day, from_version, to_version;
	` + fillChangeInstances + `;`

const (
	// markAllRepeats sets previous_day on every change that repeats an earlier one of its
	// instance, as Rebuild and the migration need after inserting the changes.
	markAllRepeats = `UPDATE changes SET previous_day = r.previous_day
	FROM (SELECT instance, day, from_version, to_version,
		lag(day) OVER (PARTITION BY instance, from_version, to_version ORDER BY day) AS previous_day
		FROM changes) AS r
	WHERE r.previous_day IS NOT NULL AND changes.instance = r.instance AND changes.day = r.day
		AND changes.from_version = r.from_version AND changes.to_version = r.to_version`

	// fillChangeInstances counts the first changes, those without previous_day, into an
	// empty change_instances, as Rebuild and the migration need.
	fillChangeInstances = `INSERT INTO change_instances (from_version, to_version, instances)
	SELECT from_version, to_version, count(*) FROM changes WHERE previous_day IS NULL
	GROUP BY from_version, to_version`

	// addChangeInstances adds to change_instances what history.Plan.Made says of instances:
	// a change an instance makes after a day now and not before, or no longer, counts unless
	// the instance made it by that day, which the batch leaves as it was.
	addChangeInstancesHead = `WITH made (instance, after, from_version, to_version, n) AS (VALUES `
	addChangeInstancesTail = `) INSERT INTO change_instances (from_version, to_version, instances)
	SELECT from_version, to_version, sum(n) FROM made
	WHERE NOT EXISTS (SELECT 1 FROM changes AS c WHERE c.instance = made.instance AND c.day <= made.after
		AND c.from_version = made.from_version AND c.to_version = made.to_version)
	GROUP BY from_version, to_version HAVING sum(n) <> 0
	ON CONFLICT (from_version, to_version) DO UPDATE SET instances = instances + excluded.instances`

	// markRepeats sets previous_day on the changes of instances dated after a day, those a
	// batch inserted, that repeat an earlier one: each a search of the instance's changes.
	// Only those rows are written.
	markRepeatsHead = `WITH batch (instance, after) AS (VALUES `
	markRepeatsTail = `) UPDATE changes SET previous_day = r.previous_day
	FROM (SELECT n.instance, n.day, n.from_version, n.to_version, (
			SELECT max(p.day) FROM changes AS p WHERE p.instance = n.instance AND p.day < n.day
				AND p.from_version = n.from_version AND p.to_version = n.to_version) AS previous_day
		FROM batch JOIN changes AS n ON n.instance = batch.instance AND n.day > batch.after) AS r
	WHERE r.previous_day IS NOT NULL AND changes.instance = r.instance AND changes.day = r.day
		AND changes.from_version = r.from_version AND changes.to_version = r.to_version`
)
