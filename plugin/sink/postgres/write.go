package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mailustats/mailustats/plugin/history"
	"github.com/mailustats/mailustats/plugin/sink"
	"github.com/mailustats/mailustats/plugin/sink/table"
)

// The statements of a write, sent in two round trips. The first begins the transaction,
// claims the batch ID and the kind of instance ID, interns the batch's versions and instances,
// locks the batch's instance rows in id order, so that writers of the same instance take turns
// and never deadlock, and then loads what history.Before needs of them; the second stores the
// plans and commits.
const (
	// noJIT turns off JIT compilation in the transaction: its statements probe indexes once
	// for each element of the batch's arrays, at costs the planner overestimates, the more so
	// before the tables have statistics, and compiling them took longer than running them.
	noJIT      = `SET LOCAL jit = off`
	claimBatch = `INSERT INTO batches (id, at) VALUES ($1, $2) ON CONFLICT DO NOTHING`
	claimKind  = `INSERT INTO settings (name, value) VALUES ('ids', $1) ON CONFLICT DO NOTHING`
	readKind   = `SELECT value FROM settings WHERE name = 'ids'`
	// Only the names and keys missing are inserted, so that an identity is not drawn for each
	// one the database has; ON CONFLICT settles a race with another writer.
	internVersions = `INSERT INTO versions (name)
SELECT name FROM unnest($1::text[]) AS b (name)
WHERE NOT EXISTS (SELECT FROM versions WHERE versions.name = b.name)
ORDER BY name
ON CONFLICT DO NOTHING`
	readVersions = `SELECT id, name FROM versions WHERE name = ANY($1::text[])`
	// A new instance is inserted with the state it has after the batch, so that it need not be
	// updated; the keys returned are those of the instances new to the database. A writer that
	// inserts the same key at the same moment waits here for the other to commit, and then
	// finds it known.
	internInstances = `INSERT INTO instances (key, first_day, last_day, days, last_version)
SELECT b.key, b.first_day, b.last_day, b.days, v.id
FROM unnest($1::bytea[], $2::integer[], $3::integer[], $4::integer[], $5::text[]) AS b (key, first_day, last_day, days, version)
JOIN versions AS v ON v.name = b.version
WHERE NOT EXISTS (SELECT FROM instances WHERE instances.key = b.key)
ORDER BY b.key
ON CONFLICT DO NOTHING
RETURNING key`
	lockInstances = `SELECT i.id, i.key, i.first_day, i.last_day, i.days, coalesce(v.name, '')
FROM instances AS i
LEFT JOIN versions AS v ON v.id = i.last_version
WHERE i.key = ANY($1::bytea[])
ORDER BY i.id
FOR UPDATE OF i`
	insertEvents = `INSERT INTO events (time, version, instance)
SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[])`

	// For each instance of key $1 with batch first day $2: Since, the last day before it with
	// rows (else $2), and the rows from Since on. The instances are found through the index on
	// their keys (= ANY), and the lateral subqueries probe the primary keys once an instance,
	// whatever the size of the tables: OFFSET 0 keeps the planner from turning them into
	// joins, which it may make hash joins reading whole tables.
	loadSightings = `SELECT i.id, p.since, s.day, s.version, v.name, s.hits, s.first_seen, s.last_seen
FROM instances AS i
JOIN unnest($1::bytea[], $2::integer[]) AS b (key, m) ON b.key = i.key
CROSS JOIN LATERAL (
	SELECT coalesce(max(day), b.m) AS since FROM sightings WHERE instance = i.id AND day < b.m
) AS p
CROSS JOIN LATERAL (
	SELECT day, version, hits, first_seen, last_seen FROM sightings
	WHERE instance = i.id AND day >= p.since OFFSET 0
) AS s
JOIN versions AS v ON v.id = s.version
WHERE i.key = ANY($1::bytea[]) AND i.days > 0`
	// The first day on which each instance of key $1 reported version $2 before.
	loadVersionFirst = `SELECT i.id, b.version, iv.first_day
FROM instances AS i
JOIN unnest($1::bytea[], $2::text[]) AS b (key, version) ON b.key = i.key
JOIN versions AS v ON v.name = b.version
CROSS JOIN LATERAL (
	SELECT first_day FROM instance_versions WHERE instance = i.id AND version = v.id OFFSET 0
) AS iv
WHERE i.key = ANY($1::bytea[]) AND i.days > 0`
)

// errStored ends the transaction of a batch whose ID shows it stored already.
var errStored = errors.New("batch stored already")

// OnNewInstances makes every write that stores a batch then call f with the number of its
// distinct instances that the database did not know, if there are any; a retried batch that
// is skipped calls nothing. Call it once, after Open and before the first Write; concurrent
// writes call f concurrently. Writers of the same instance take turns, so each new instance is
// counted once, whichever replica stores it.
func (s *pgSink) OnNewInstances(f func(n int)) { s.onNew = f }

// write stores batch in one transaction, recording it as written at now, and returns how many
// of its instances were new; a batch whose ID is stored already is skipped. The transaction
// begins and commits within the batches of statements, saving two round trips; a connection
// released in a transaction, when even the rollback failed, is closed by the pool.
func (s *pgSink) write(ctx context.Context, batch sink.Batch, now time.Time) (newInstances int, err error) {
	var agg table.Aggregator // one a write: writes may run concurrently
	instances, kind, err := group(agg.Aggregate(batch.Records))
	if err != nil {
		return 0, err
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Release()
	w := &batchWriter{conn: conn.Conn(), instances: instances, ids: map[string]int64{}}
	err = w.begin(ctx, batch, now, kind, s.opts.Events)
	if err == nil {
		newInstances, err = w.commit(ctx)
	}
	if err != nil {
		if conn.Conn().PgConn().TxStatus() != 'I' {
			conn.Exec(ctx, "ROLLBACK") // if this fails too, Release closes the connection
		}
		if errors.Is(err, errStored) {
			return 0, nil
		}
		return 0, err
	}
	return newInstances, nil
}

// instanceBatch is what a batch brings of one instance: its rows, with distinct days and
// versions.
type instanceBatch struct {
	key   table.Key
	text  string // the ID as the batch has it first
	mixed bool   // the batch has the ID written otherwise too, as in upper case
	rows  []history.Row
}

// group turns the batch's daily rows into rows per instance, sorted by key, and says which kind
// of instance ID they have: one kind, or an error.
func group(daily []table.Daily) ([]instanceBatch, string, error) {
	var (
		out   []instanceBatch
		kind  string
		index = map[table.Key]int{}
	)
	for _, d := range daily {
		key, k, err := table.ParseKey(d.Instance)
		if err != nil {
			return nil, "", err
		}
		if kind == "" {
			kind = k
		} else if k != kind {
			return nil, "", fmt.Errorf("the batch holds both raw instance IDs and hash_ids digests (%q)", d.Instance)
		}
		day, first := history.DayNumber(d.FirstSeen)
		_, last := history.DayNumber(d.LastSeen)
		row := history.Row{Day: day, Version: d.Version, Hits: d.Hits, FirstSeen: unix(day, first), LastSeen: unix(day, last)}
		i, ok := index[key]
		if !ok {
			i = len(out)
			index[key] = i
			out = append(out, instanceBatch{key: key, text: d.Instance})
		}
		out[i].add(d.Instance, row)
	}
	slices.SortFunc(out, func(a, b instanceBatch) int { return slices.Compare(a.key[:], b.key[:]) })
	return out, kind, nil
}

// add adds row, of the ID written text, to b. The rows of one text have distinct days and
// versions; those of an ID written otherwise are merged into them.
func (b *instanceBatch) add(text string, row history.Row) {
	b.mixed = b.mixed || text != b.text
	if b.mixed {
		for i := range b.rows {
			if r := &b.rows[i]; r.Day == row.Day && r.Version == row.Version {
				r.Merge(row)
				return
			}
		}
	}
	b.rows = append(b.rows, row)
}

// unix is the Unix time of second on day.
func unix(day, second int32) int64 { return history.DayTime(day, second).Unix() }

// secondOf is the seconds of a Unix time after its day's midnight.
func secondOf(unix int64) int32 {
	_, s := history.DayNumber(time.Unix(unix, 0))
	return s
}

// batchWriter writes one batch on its connection.
type batchWriter struct {
	conn      *pgx.Conn
	instances []instanceBatch  // sorted by key
	ids       map[string]int64 // version ids, of the batch's versions and of the rows loaded
	inserted  map[table.Key]bool
	locked    []lockedInstance // the batch's instances, in id order
}

// lockedInstance is an instance of the batch whose row the transaction locked.
type lockedInstance struct {
	id     int64
	batch  *instanceBatch
	stored history.State // the state in the instance's row
	before history.Before
}

// begin begins the transaction and claims the batch ID, or returns errStored; then checks the
// kind of instance ID, stores the events, interns the versions and instances, locks the
// instances and loads what the database holds of them.
func (w *batchWriter) begin(ctx context.Context, batch sink.Batch, now time.Time, kind string, events bool) error {
	var b pgx.Batch
	b.Queue("BEGIN")
	b.Queue(noJIT)
	b.Queue(claimBatch, batch.ID, now)
	if events {
		b.Queue(insertEvents, eventColumns(batch.Records)...)
	}
	if len(w.instances) > 0 {
		keys, versions, pairKeys, pairVersions, firstDays := w.arrays()
		b.Queue(claimKind, kind)
		b.Queue(readKind)
		b.Queue(internVersions, versions)
		b.Queue(readVersions, versions)
		b.Queue(internInstances, append([]any{keys}, w.newStates()...)...)
		b.Queue(lockInstances, keys)
		b.Queue(loadSightings, keys, firstDays)
		b.Queue(loadVersionFirst, pairKeys, pairVersions)
	}
	br := w.conn.SendBatch(ctx, &b)
	defer br.Close()
	for range 2 { // BEGIN, noJIT
		if _, err := br.Exec(); err != nil {
			return err
		}
	}
	tag, err := br.Exec()
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return errStored
	}
	if events {
		if _, err := br.Exec(); err != nil {
			return err
		}
	}
	if len(w.instances) == 0 {
		return br.Close()
	}
	if _, err := br.Exec(); err != nil {
		return err
	}
	var stored string
	if err := br.QueryRow().Scan(&stored); err != nil {
		return err
	}
	if stored != kind {
		return kindError(stored)
	}
	if _, err := br.Exec(); err != nil {
		return err
	}
	if err := w.readVersionIDs(br); err != nil {
		return err
	}
	if err := w.readInserted(br); err != nil {
		return err
	}
	if err := w.readLocked(br); err != nil {
		return err
	}
	if err := w.readBefore(br); err != nil {
		return err
	}
	return br.Close()
}

// arrays returns the parameters of the statements of begin: the batch's keys and versions, in
// order; the pairs of each key with each of its versions; and the first day of each key's
// rows.
func (w *batchWriter) arrays() (keys [][]byte, versions []string, pairKeys [][]byte, pairVersions []string, firstDays []int32) {
	keys = make([][]byte, len(w.instances))
	firstDays = make([]int32, len(w.instances))
	for i := range w.instances {
		b := &w.instances[i]
		keys[i], firstDays[i] = b.key[:], history.FirstDay(b.rows)
		first := len(pairVersions)
		for _, r := range b.rows {
			if !slices.Contains(pairVersions[first:], r.Version) {
				pairKeys, pairVersions = append(pairKeys, keys[i]), append(pairVersions, r.Version)
			}
		}
	}
	versions = slices.Clone(pairVersions)
	slices.Sort(versions)
	return keys, slices.Compact(versions), pairKeys, pairVersions, firstDays
}

// newStates returns the columns of each instance's state after the batch if it is new, in
// the order of w.instances: first and last day, days and last version.
func (w *batchWriter) newStates() []any {
	n := len(w.instances)
	first, last, days, versions := make([]int32, n), make([]int32, n), make([]int32, n), make([]string, n)
	d := history.NewDelta() // thrown away: commit plans again, knowing which are new
	for i := range w.instances {
		rows := w.instances[i].rows
		s := d.Plan(history.Before{Since: history.FirstDay(rows)}, rows).State
		first[i], last[i], days[i], versions[i] = s.FirstDay, s.LastDay, int32(s.Days), s.LastVersion
	}
	return []any{first, last, days, versions}
}

// readInserted reads the keys of the instances new to the database.
func (w *batchWriter) readInserted(br pgx.BatchResults) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	w.inserted = map[table.Key]bool{}
	var key []byte
	_, err = pgx.ForEachRow(rows, []any{&key}, func() error {
		w.inserted[table.Key(key)] = true
		return nil
	})
	return err
}

// readVersionIDs reads the ids of the batch's versions.
func (w *batchWriter) readVersionIDs(br pgx.BatchResults) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	var (
		id   int64
		name string
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &name}, func() error { w.ids[name] = id; return nil })
	return err
}

// readLocked reads the locked instance rows, in id order, and the instances' states.
func (w *batchWriter) readLocked(br pgx.BatchResults) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	w.locked = make([]lockedInstance, 0, len(w.instances))
	var (
		id    int64
		key   []byte
		state history.State
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &key, &state.FirstDay, &state.LastDay, &state.Days, &state.LastVersion}, func() error {
		i, ok := slices.BinarySearchFunc(w.instances, key, func(b instanceBatch, key []byte) int { return slices.Compare(b.key[:], key) })
		if !ok {
			return fmt.Errorf("instance %x locked but not in the batch", key)
		}
		b := &w.instances[i]
		l := lockedInstance{id: id, batch: b, stored: state, before: history.Before{Since: history.FirstDay(b.rows), VersionFirst: map[string]int32{}}}
		if !w.inserted[b.key] {
			l.before.Known, l.before.State = true, state
		}
		w.locked = append(w.locked, l)
		return nil
	})
	if err != nil {
		return err
	}
	if len(w.locked) != len(w.instances) {
		return fmt.Errorf("locked %d instances of the batch's %d", len(w.locked), len(w.instances))
	}
	return nil
}

// readBefore reads what the database held of the batch's instances: Since, the rows from then
// on, and the first day of each of the batch's versions they reported before.
func (w *batchWriter) readBefore(br pgx.BatchResults) error {
	index := make(map[int64]*history.Before, len(w.locked))
	for i := range w.locked {
		index[w.locked[i].id] = &w.locked[i].before
	}
	rows, err := br.Query()
	if err != nil {
		return err
	}
	var (
		id, version, hits   int64
		since, day          int32
		name                string
		firstSeen, lastSeen int32
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &since, &day, &version, &name, &hits, &firstSeen, &lastSeen}, func() error {
		b := index[id]
		b.Since = since
		b.Rows = append(b.Rows, history.Row{Day: day, Version: name, Hits: hits, FirstSeen: unix(day, firstSeen), LastSeen: unix(day, lastSeen)})
		w.ids[name] = version
		return nil
	})
	if err != nil {
		return err
	}
	if rows, err = br.Query(); err != nil {
		return err
	}
	_, err = pgx.ForEachRow(rows, []any{&id, &name, &day}, func() error {
		index[id].VersionFirst[name] = day
		return nil
	})
	return err
}

// kindError is the refusal of a batch whose kind of instance ID is not the stored one.
func kindError(stored string) error {
	if stored == table.KindHash {
		return errors.New("the database holds hash_ids digests; this server stores raw instance IDs")
	}
	return errors.New("the database holds raw instance IDs; this server stores hash_ids digests")
}

// commit plans every instance of the batch, stores the plans and the aggregates' changes, and
// commits. It returns how many instances were new.
func (w *batchWriter) commit(ctx context.Context) (newInstances int, err error) {
	d := history.NewDelta()
	var c planColumns
	var made struct { // what the plans' Made say: instance, ChangesAfter, change and count
		instance, from, to []int64
		after, n           []int32
	}
	for _, l := range w.locked {
		if !l.before.Known {
			newInstances++
		}
		plan := d.Plan(l.before, l.batch.rows)
		c.add(l.id, l.stored, plan, w.ids)
		for p, n := range plan.Made {
			made.instance, made.after = append(made.instance, l.id), append(made.after, plan.ChangesAfter)
			made.from, made.to = append(made.from, w.ids[p.From]), append(made.to, w.ids[p.To])
			made.n = append(made.n, int32(n))
		}
	}
	var b pgx.Batch
	c.queue(&b)
	if len(made.instance) > 0 {
		b.Queue(addChangeInstances, made.instance, made.after, made.from, made.to, made.n)
	}
	queueDelta(&b, d, w.ids)
	b.Queue("COMMIT")
	return newInstances, w.conn.SendBatch(ctx, &b).Close()
}
