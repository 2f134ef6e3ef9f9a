package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// keptMachine is true of a machine that keeps its requests: it is alive, or
// one of its requests is not to be purged.
const keptMachine = `alive OR request_id NOT IN (SELECT id FROM temp.purge)
	OR (return_id IS NOT NULL AND return_id NOT IN (SELECT id FROM temp.purge))`

// Purge deletes the finished requests last updated before olderThan, with
// their machines, keeping every request tied through a machine to an alive
// machine or to a request that stays; it deletes the events before
// olderThan too. See store.Store.
func (s *Store) Purge(ctx context.Context, olderThan time.Time) (int, error) {
	var purged int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "CREATE TEMP TABLE purge (id TEXT PRIMARY KEY)"); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO temp.purge SELECT id FROM requests WHERE finished AND updated_at < ?", nanos(olderThan))
		if err != nil {
			return err
		}
		// A kept machine keeps both its requests, which may keep more
		// machines: shrink the candidates until nothing changes.
		for {
			n, err := execCount(ctx, tx, `DELETE FROM temp.purge WHERE id IN (
				SELECT request_id FROM machines WHERE `+keptMachine+`
				UNION SELECT return_id FROM machines WHERE `+keptMachine+`)`)
			if err != nil {
				return err
			}
			if n == 0 {
				break
			}
		}
		// Every machine tied to a candidate now has all its requests among
		// the candidates, so deleting by request_id takes them all.
		if _, err := tx.ExecContext(ctx, "DELETE FROM machines WHERE request_id IN (SELECT id FROM temp.purge)"); err != nil {
			return err
		}
		if purged, err = execCount(ctx, tx, "DELETE FROM requests WHERE id IN (SELECT id FROM temp.purge)"); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM events WHERE time < ?", nanos(olderThan)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM windows WHERE until < ?", nanos(olderThan)); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, "DROP TABLE temp.purge")
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("purge: %w", err)
	}
	return int(purged), nil
}
