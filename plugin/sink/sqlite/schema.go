package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/mailustats/mailustats/plugin/sink/table"
)

// settingIDs names the setting that holds the kind of instance IDs stored: table.KindUUID or
// table.KindHash.
const settingIDs = "ids"

// daySeconds is the length of a UTC day, in SQL: days are stored as days since 1970-01-01 and
// times as seconds after the day's midnight.
const daySeconds = "86400"

// version2SQL creates the tables of store version 2. Days are days since 1970-01-01; instances
// and versions are interned; sightings are the base rows, and every other table but settings
// is computed from them (Rebuild).
const version2SQL = `CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
	CREATE TABLE versions (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
	CREATE TABLE instances ( -- each instance's state, history.State
		id           INTEGER PRIMARY KEY,
		key          BLOB    NOT NULL UNIQUE, -- the 16 bytes of the UUID or digest
		first_day    INTEGER NOT NULL,
		last_day     INTEGER NOT NULL,
		days         INTEGER NOT NULL,        -- days with sightings
		last_version INTEGER NOT NULL         -- the version of the last day's final sighting
	);
	CREATE INDEX instances_last_day ON instances (last_day, last_version, days);
	CREATE TABLE sightings ( -- an instance seen on a day with a version
		instance   INTEGER NOT NULL,
		day        INTEGER NOT NULL,
		version    INTEGER NOT NULL,
		hits       INTEGER NOT NULL,
		first_seen INTEGER NOT NULL, -- seconds after the day's midnight
		last_seen  INTEGER NOT NULL,
		PRIMARY KEY (instance, day, version)
	) WITHOUT ROWID;
	CREATE TABLE instance_versions ( -- the first day each instance reported each version
		instance INTEGER NOT NULL, version INTEGER NOT NULL, first_day INTEGER NOT NULL,
		PRIMARY KEY (instance, version)
	) WITHOUT ROWID;
	CREATE TABLE changes ( -- each instance's changes of version, history.Change
		instance INTEGER NOT NULL, day INTEGER NOT NULL,
		from_version INTEGER NOT NULL, to_version INTEGER NOT NULL,
		PRIMARY KEY (instance, day, from_version, to_version)
	) WITHOUT ROWID;
	CREATE INDEX changes_day ON changes (day);
	CREATE TABLE day_versions (day INTEGER NOT NULL, version INTEGER NOT NULL, instances INTEGER NOT NULL,
		PRIMARY KEY (day, version)) WITHOUT ROWID;
	CREATE TABLE day_counts (day INTEGER PRIMARY KEY, instances INTEGER NOT NULL,
		new_instances INTEGER NOT NULL);
	CREATE TABLE day_adoption (day INTEGER NOT NULL, version INTEGER NOT NULL, instances INTEGER NOT NULL,
		PRIMARY KEY (day, version)) WITHOUT ROWID;
	CREATE TABLE trend_deltas (window_days INTEGER NOT NULL, day INTEGER NOT NULL, version INTEGER NOT NULL,
		delta INTEGER NOT NULL, PRIMARY KEY (window_days, day, version)) WITHOUT ROWID;`

// dailyViewSQL replaces the daily table of version 1 with a view of the same columns, for
// analysts: day as YYYY-MM-DD, the version's name, the instance as text of the kind stored,
// and unix seconds.
const dailyViewSQL = `DROP TABLE daily;
	CREATE VIEW daily AS SELECT
		date(s.day * ` + daySeconds + `, 'unixepoch') AS day,
		v.name AS version,
		CASE (SELECT value FROM settings WHERE name = '` + settingIDs + `')
		WHEN '` + table.KindUUID + `' THEN lower(substr(hex(i.key), 1, 8) || '-' || substr(hex(i.key), 9, 4) || '-' ||
			substr(hex(i.key), 13, 4) || '-' || substr(hex(i.key), 17, 4) || '-' || substr(hex(i.key), 21))
		ELSE lower(hex(i.key)) END AS instance,
		s.hits,
		s.day * ` + daySeconds + ` + s.first_seen AS first_seen,
		s.day * ` + daySeconds + ` + s.last_seen AS last_seen
	FROM sightings AS s JOIN instances AS i ON i.id = s.instance JOIN versions AS v ON v.id = s.version;`

// Converting the rows of version 1: versions and instances interned (an instance's key from
// its text, whichever case its hex digits are in; instances numbered in the order they were
// first seen), then the rows, merged where two texts are one key.
const (
	version1Instances = `SELECT instance FROM daily GROUP BY lower(instance)`
	internVersions    = `INSERT INTO versions (name) SELECT DISTINCT version FROM daily ORDER BY version`
	internInstances   = `INSERT INTO instances (key, first_day, last_day, days, last_version)
		SELECT unhex(replace(instance, '-', '')), 0, 0, 0, 0 FROM daily
		GROUP BY lower(instance) ORDER BY min(day), lower(instance)`
	copySightings = `INSERT INTO sightings (instance, day, version, hits, first_seen, last_seen)
		SELECT i.id, d.day, v.id, d.hits, d.first_seen - d.day * ` + daySeconds + `, d.last_seen - d.day * ` + daySeconds + `
		FROM (SELECT unixepoch(day) / ` + daySeconds + ` AS day, version, instance, hits, first_seen, last_seen FROM daily) AS d
		JOIN instances AS i ON i.key = unhex(replace(d.instance, '-', ''))
		JOIN versions AS v ON v.name = d.version
		WHERE true
		ON CONFLICT (instance, day, version) DO UPDATE SET hits = hits + excluded.hits,
			first_seen = min(first_seen, excluded.first_seen), last_seen = max(last_seen, excluded.last_seen)`
)

// toVersion2 moves the rows of the daily table of version 1 into the tables of version 2 and
// leaves a view in the table's place; the migration's Rebuild computes the aggregates.
func toVersion2(ctx context.Context, tx *sql.Tx) error {
	kind, err := version1Kind(ctx, tx)
	if err != nil {
		return err
	}
	if kind != "" {
		if _, err := tx.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES (?, ?)`, settingIDs, kind); err != nil {
			return err
		}
	}
	for _, q := range []string{internVersions, internInstances, copySightings, dailyViewSQL} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// version1Kind returns the kind of the instance IDs in the daily table of version 1, or "" if
// it has none, and fails if it holds both kinds or text of neither.
func version1Kind(ctx context.Context, tx *sql.Tx) (string, error) {
	rows, err := tx.QueryContext(ctx, version1Instances)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	kinds := map[string]int{}
	for rows.Next() {
		var instance string
		if err := rows.Scan(&instance); err != nil {
			return "", err
		}
		_, kind, err := table.ParseKey(instance)
		if err != nil {
			return "", err
		}
		kinds[kind]++
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	if len(kinds) > 1 {
		return "", fmt.Errorf("the daily table holds both raw instance IDs (%d UUIDs) and hash_ids digests (%d); "+
			"a database holds one kind: delete the rows of the kind not wanted and start again",
			kinds[table.KindUUID], kinds[table.KindHash])
	}
	for kind := range kinds {
		return kind, nil
	}
	return "", nil
}
