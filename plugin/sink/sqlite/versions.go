package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// versionNames interns versions: it caches the rows of the versions table that a writer has
// met, and adds the names it lacks. A transaction that fails may leave ids it added in the
// cache, so its writer then starts a new cache.
type versionNames struct {
	ids   map[string]int64
	names map[int64]string
}

func (v *versionNames) remember(id int64, name string) {
	if v.ids == nil {
		v.ids, v.names = map[string]int64{}, map[int64]string{}
	}
	v.ids[name], v.names[id] = id, name
}

// id returns the id of the version name, adding it to the table if missing.
func (v *versionNames) id(ctx context.Context, tx *sql.Tx, name string) (int64, error) {
	if id, ok := v.ids[name]; ok {
		return id, nil
	}
	var id int64
	err := tx.QueryRowContext(ctx, `SELECT id FROM versions WHERE name = ?`, name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		err = tx.QueryRowContext(ctx, `INSERT INTO versions (name) VALUES (?) RETURNING id`, name).Scan(&id)
	}
	if err != nil {
		return 0, fmt.Errorf("version %q: %w", name, err)
	}
	v.remember(id, name)
	return id, nil
}

// name returns the name of the version id.
func (v *versionNames) name(ctx context.Context, tx *sql.Tx, id int64) (string, error) {
	if name, ok := v.names[id]; ok {
		return name, nil
	}
	var name string
	if err := tx.QueryRowContext(ctx, `SELECT name FROM versions WHERE id = ?`, id).Scan(&name); err != nil {
		return "", fmt.Errorf("version %d: %w", id, err)
	}
	v.remember(id, name)
	return name, nil
}

// known returns the id of a version the cache holds: one the transaction has met.
func (v *versionNames) known(name string) (int64, error) {
	id, ok := v.ids[name]
	if !ok {
		return 0, fmt.Errorf("version %q has no id", name)
	}
	return id, nil
}
