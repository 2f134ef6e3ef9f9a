package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/ohfp/ohfp/internal/store"
)

const insertEvent = `INSERT INTO events (time, request_id, instance_id, action, actor, detail)
VALUES (?, ?, ?, ?, ?, ?)`

// AppendEvents adds events to the audit trail in one transaction.
func (s *Store) AppendEvents(ctx context.Context, events []store.Event) error {
	if len(events) == 0 {
		return nil
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, insertEvent)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, e := range events {
			if _, err := stmt.ExecContext(ctx, nanos(e.Time), e.RequestID, e.InstanceID, e.Action, e.Actor, e.Detail); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("append %d events: %w", len(events), err)
	}
	return nil
}

// Events lists the audit trail, newest first; the row id orders events of
// the same time by when they were appended.
func (s *Store) Events(ctx context.Context, q store.EventQuery) ([]store.Event, error) {
	query := "SELECT time, request_id, instance_id, action, actor, detail FROM events WHERE time >= ?"
	args := []any{nanos(q.Since)}
	if q.RequestID != "" {
		query += " AND request_id = ?"
		args = append(args, q.RequestID)
	}
	query += " ORDER BY time DESC, id DESC"
	if q.Limit > 0 {
		query += " LIMIT ?"
		args = append(args, q.Limit)
	}
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	defer rows.Close()
	var out []store.Event
	for rows.Next() {
		var (
			e store.Event
			t int64
		)
		if err := rows.Scan(&t, &e.RequestID, &e.InstanceID, &e.Action, &e.Actor, &e.Detail); err != nil {
			return nil, fmt.Errorf("list events: %w", err)
		}
		e.Time = fromNanos(t)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return out, nil
}
