package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Fact returns a cached cloud fact; an empty value reads back as nil.
func (s *Store) Fact(ctx context.Context, key string) ([]byte, bool, error) {
	var value []byte
	err := s.db.QueryRowContext(ctx, "SELECT value FROM facts WHERE key = ?", key).Scan(&value)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("fact %s: %w", key, err)
	}
	return value, true, nil
}

// PutFact caches a fact.
func (s *Store) PutFact(ctx context.Context, key string, value []byte) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO facts (key, value, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
		key, blob(value), time.Now().UnixNano())
	if err != nil {
		return fmt.Errorf("put fact %s: %w", key, err)
	}
	return nil
}

// AllFacts returns every cached fact, for copying a store.
func (s *Store) AllFacts(ctx context.Context) (map[string][]byte, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT key, value FROM facts")
	if err != nil {
		return nil, fmt.Errorf("all facts: %w", err)
	}
	defer rows.Close()
	out := map[string][]byte{}
	for rows.Next() {
		var key string
		var value []byte
		if err := rows.Scan(&key, &value); err != nil {
			return nil, fmt.Errorf("all facts: %w", err)
		}
		out[key] = value
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("all facts: %w", err)
	}
	return out, nil
}
