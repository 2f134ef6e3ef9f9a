package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/ohfp/ohfp/internal/store"
)

// upsertRequest writes every column of a request, replacing one with the
// same id: an import keeps CreatedAt, UpdatedAt and Version as given.
var upsertRequest = insertRequest + " ON CONFLICT (id) DO UPDATE SET " +
	assignments(requestColumns[1:], "excluded.")

// Import writes requests and machines exactly as given (CreatedAt,
// UpdatedAt and Version included) in one transaction, replacing what has
// the same ids, with no capacity or version check: it is for copying a
// store (internal/store/transfer), never for HostFactory's traffic. A
// machine whose request or return request is neither stored nor among
// requests gives store.ErrNotFound and nothing is written.
func (s *Store) Import(ctx context.Context, requests []store.Request, machines []store.Machine) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, upsertRequest)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, r := range requests {
			args, err := requestArgs(&r)
			if err != nil {
				return err
			}
			if _, err := stmt.ExecContext(ctx, args...); err != nil {
				return fmt.Errorf("request %s: %w", r.ID, err)
			}
		}
		return saveMachines(ctx, tx, machines)
	})
	if err != nil {
		return fmt.Errorf("import %d requests and %d machines: %w", len(requests), len(machines), err)
	}
	return nil
}
