package postgres

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mailustats/mailustats/plugin/history"
)

// How long a chunk waits in the queue for the lock that keeps writers out before it tries
// again, after purgeLockRetry, and for how long in all it tries.
const (
	purgeLockTimeout = "500ms"
	purgeLockRetry   = 100 * time.Millisecond
	purgeLockWait    = time.Minute
)

// lockNotAvailable is the SQLSTATE of a lock not granted within lock_timeout.
const lockNotAvailable = "55P03"

// The statements of a purge. The instances with rows to remove are those with rows in the days
// $1 to $2, of the version named $4 unless it is empty, and whose rows are all of one day if
// $3. A chunk's transaction first locks the table instances against writers, as Rebuild does:
// a writer then waits at its first statement on instances, so none is ever between interning
// an instance and locking its row when the purge deletes it (it would find the row gone, fail
// and retry the batch). The lock waits at most purgeLockTimeout in the queue, where it would
// hold back every writer behind a long one, such as an import's; then the purge tries again.
// Then the chunk reads all its instances' rows and stores what the removals do, the
// aggregates in the writer's order.
const (
	purgeCandidates = `SELECT i.id, i.days FROM instances AS i
WHERE i.last_day >= $1 AND i.first_day <= $2 AND (NOT $3 OR i.days = 1)
AND EXISTS (SELECT FROM sightings AS s WHERE s.instance = i.id AND s.day BETWEEN $1 AND $2
	AND ($4 = '' OR s.version = (SELECT id FROM versions WHERE name = $4)))
ORDER BY i.id`
	purgeLock = noJIT + `;
SET LOCAL lock_timeout = '` + purgeLockTimeout + `';
LOCK TABLE instances IN SHARE ROW EXCLUSIVE MODE;
SET LOCAL lock_timeout = DEFAULT`
	// OFFSET 0 keeps each instance's rows a search of the primary key (loadSightings).
	readChunkRows = `SELECT c.id, s.day, s.version, v.name, s.hits, s.first_seen, s.last_seen
FROM unnest($1::bigint[]) AS c (id)
CROSS JOIN LATERAL (
	SELECT day, version, hits, first_seen, last_seen FROM sightings WHERE instance = c.id OFFSET 0
) AS s
JOIN versions AS v ON v.id = s.version`
	deleteSightings = `DELETE FROM sightings AS s
USING unnest($1::bigint[], $2::integer[], $3::bigint[]) AS d (instance, day, version)
WHERE s.instance = d.instance AND s.day = d.day AND s.version = d.version`
	deleteFirstDays = `DELETE FROM instance_versions AS iv
USING unnest($1::bigint[], $2::bigint[]) AS d (instance, version)
WHERE iv.instance = d.instance AND iv.version = d.version`
	deleteInstances = `DELETE FROM instances WHERE id = ANY($1::bigint[])`
	addEverMade     = `INSERT INTO change_instances (from_version, to_version, instances)
SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::integer[])
ON CONFLICT (from_version, to_version) DO UPDATE SET instances = change_instances.instances + EXCLUDED.instances`
)

// PurgeCandidates calls found, in id order, with the id and the days with rows of each
// instance that has rows in f's days, of its version if any, and if f.OnlyOnce on one day
// only: those that may have rows to remove.
func (s *pgSink) PurgeCandidates(ctx context.Context, f history.Filter, found func(id, days int64)) error {
	rows, err := s.pool.Query(ctx, purgeCandidates, f.From, f.To, f.OnlyOnce, f.Version)
	if err != nil {
		return err
	}
	var id, days int64
	_, err = pgx.ForEachRow(rows, []any{&id, &days}, func() error { found(id, days); return nil })
	return err
}

// PurgeChunk removes the rows f picks of the instances ids, in one transaction that keeps
// writers out, and keeps every aggregate as if those rows had never been written
// (history.Delta.Remove): an instance left with no rows goes. Then it calls removed with each
// instance that lost rows, those rows and whether it went, and returns how long the
// transaction kept writers out. With dry it only reads, in a read-only transaction, and
// returns 0.
func (s *pgSink) PurgeChunk(ctx context.Context, f history.Filter, ids []int64, dry bool,
	removed func(id int64, rows []history.Row, gone bool)) (time.Duration, error) {
	tx, err := s.beginChunk(ctx, dry)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(ctx)
	start := time.Now()
	rows, versionIDs, err := readChunk(ctx, tx, ids)
	if err != nil {
		return 0, err
	}
	losses := f.Losses(ids, rows)
	if !dry {
		delta, out := history.NewDelta(), newPurgeColumns()
		for _, l := range losses {
			out.add(l.ID, delta.Remove(l.Kept, l.Removed), l.Removed, versionIDs)
		}
		var b pgx.Batch
		out.queue(&b)
		queueDelta(&b, delta, versionIDs)
		if err := tx.SendBatch(ctx, &b).Close(); err != nil {
			return 0, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, err
	}
	held := time.Since(start)
	for _, l := range losses {
		removed(l.ID, l.Removed, l.Gone())
	}
	if dry {
		return 0, nil
	}
	return held, nil
}

// beginChunk begins the transaction of a chunk, without JIT as the writer's: a read-only one
// when dry, else one that keeps writers out, trying again for up to purgeLockWait while
// writers keep it waiting.
func (s *pgSink) beginChunk(ctx context.Context, dry bool) (pgx.Tx, error) {
	if dry {
		tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
		if err == nil {
			if _, err = tx.Exec(ctx, noJIT); err != nil {
				tx.Rollback(ctx)
			}
		}
		return tx, err
	}
	deadline := time.Now().Add(purgeLockWait)
	for {
		tx, err := s.pool.Begin(ctx)
		if err != nil {
			return nil, err
		}
		_, err = tx.Exec(ctx, purgeLock)
		if err == nil {
			return tx, nil
		}
		tx.Rollback(ctx)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != lockNotAvailable || time.Now().After(deadline) {
			return nil, err
		}
		time.Sleep(purgeLockRetry)
	}
}

// readChunk reads all the rows of the instances ids, by instance, and the ids of their
// versions by name.
func readChunk(ctx context.Context, tx pgx.Tx, ids []int64) (map[int64][]history.Row, map[string]int64, error) {
	rows, err := tx.Query(ctx, readChunkRows, ids)
	if err != nil {
		return nil, nil, err
	}
	out, versions := make(map[int64][]history.Row, len(ids)), map[string]int64{}
	var (
		id, version, hits   int64
		day                 int32
		name                string
		firstSeen, lastSeen int32
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &day, &version, &name, &hits, &firstSeen, &lastSeen}, func() error {
		out[id] = append(out[id], history.Row{Day: day, Version: name, Hits: hits, FirstSeen: unix(day, firstSeen), LastSeen: unix(day, lastSeen)})
		versions[name] = version
		return nil
	})
	return out, versions, err
}

// purgeColumns gathers what a chunk's removals store, as the arrays of the statements that
// store it.
type purgeColumns struct {
	sightings struct { // the rows removed
		instance, version []int64
		day               []int32
	}
	plans        planColumns // the states, changes and first days of versions of the instances left
	versionsGone struct{ instance, version []int64 }
	gone         []int64
	made         map[[2]int64]int32 // from, to: the instances that ever made the change
}

func newPurgeColumns() *purgeColumns { return &purgeColumns{made: map[[2]int64]int32{}} }

// add adds what removing the rows removed does to instance id, r; ids are the ids of its
// versions.
func (c *purgeColumns) add(id int64, r history.Removal, removed []history.Row, ids map[string]int64) {
	for _, row := range removed {
		c.sightings.instance = append(c.sightings.instance, id)
		c.sightings.day = append(c.sightings.day, row.Day)
		c.sightings.version = append(c.sightings.version, ids[row.Version])
	}
	// A plan of no rows; its state is stored unless the instance goes, as the zero state.
	c.plans.add(id, history.State{}, history.Plan{State: r.State, ChangesAfter: r.ChangesAfter,
		Changes: r.Changes, Replaces: r.Replaces, VersionFirst: r.VersionFirst}, ids)
	for _, v := range r.VersionsGone {
		c.versionsGone.instance = append(c.versionsGone.instance, id)
		c.versionsGone.version = append(c.versionsGone.version, ids[v])
	}
	for p, n := range r.Made {
		c.made[[2]int64{ids[p.From], ids[p.To]}] += int32(n)
	}
	if r.Gone {
		c.gone = append(c.gone, id)
	}
}

// queue queues the statements that store c on b: the rows of the instances, then
// change_instances in key order, as the writer does.
func (c *purgeColumns) queue(b *pgx.Batch) {
	if s := c.sightings; len(s.instance) > 0 {
		b.Queue(deleteSightings, s.instance, s.day, s.version)
	}
	c.plans.queue(b)
	if v := c.versionsGone; len(v.instance) > 0 {
		b.Queue(deleteFirstDays, v.instance, v.version)
	}
	if len(c.gone) > 0 {
		b.Queue(deleteInstances, c.gone)
	}
	var from, to []int64
	var n []int32
	for _, k := range slices.SortedFunc(maps.Keys(c.made), func(a, b [2]int64) int {
		return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1]))
	}) {
		if c.made[k] != 0 {
			from, to, n = append(from, k[0]), append(to, k[1]), append(n, c.made[k])
		}
	}
	if len(from) > 0 {
		b.Queue(addEverMade, from, to, n)
	}
}
