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
