// Package sqlite is the embedded store.Store: one SQLite file in WAL mode,
// shared safely by the many short-lived ohfp processes HostFactory runs in
// parallel on one host.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/ohfp/ohfp/internal/fault"
	"github.com/ohfp/ohfp/internal/store"
)

// maxConns bounds the connections of one process: writers take turns on
// SQLite's single write lock anyway, and WAL lets a few readers run beside
// the writer.
const maxConns = 4

// busyTimeout is how long a statement waits for another process's lock
// before SQLITE_BUSY; ohfp's transactions are short, so reaching it means
// something is badly stuck.
const busyTimeout = 10 * time.Second

// Store is a store.Store kept in one SQLite file.
type Store struct {
	db   *sql.DB
	path string
}

var _ store.Store = (*Store)(nil)

// Open opens the store at path, creating the file (0600) and its directory
// (0700) when missing and migrating its schema when it is older than this
// binary. A file that is not an ohfp store, or whose schema is newer than
// this binary knows, gives a fault.Configuration error and is left as it is.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, fault.New(fault.Configuration, "state store path is empty")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fault.Wrap(fault.Configuration, err, "state store %s", path)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fault.Wrap(fault.Configuration, err, "state store %s: create its directory", path)
	}
	// SQLite would create the file with the umask's mode; state may hold
	// user data, so create it private first. The WAL and shared-memory files
	// inherit its mode.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fault.Wrap(fault.Configuration, err, "state store %s", path)
	}
	if err := f.Close(); err != nil {
		return nil, fault.Wrap(fault.Configuration, err, "state store %s", path)
	}

	// _txlock=immediate makes every write transaction take the write lock
	// when it begins, so a check and the write it guards are atomic across
	// processes and a transaction never fails upgrading a read lock.
	// synchronous=FULL makes a commit survive a power cut too: a request is
	// stored before the cloud call and must not be lost after it.
	dsn := url.URL{
		Scheme:   "file",
		Path:     abs,
		RawQuery: fmt.Sprintf("_busy_timeout=%d&_foreign_keys=1&_synchronous=FULL&_txlock=immediate", busyTimeout.Milliseconds()),
	}
	db, err := sql.Open("sqlite", dsn.String())
	if err != nil {
		return nil, fault.Wrap(fault.Configuration, err, "state store %s", path)
	}
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	s := &Store{db: db, path: path}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Path is the file the store lives in, as given to Open.
func (s *Store) Path() string { return s.path }

// Close releases the store.
func (s *Store) Close() error { return s.db.Close() }

// sqliteCode is the extended SQLite result code behind err, or 0; its low
// byte is the primary code.
func sqliteCode(err error) int {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}

// openError explains a failure to read a store file being opened.
func (s *Store) openError(err error) error {
	switch sqliteCode(err) & 0xff {
	case sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT:
		return fault.Wrap(fault.Configuration, err,
			"state store %s is not an SQLite database or is corrupt; move it away to start afresh", s.path)
	}
	return fault.Wrap(fault.Configuration, err, "state store %s", s.path)
}

// inTx runs f in a write transaction and commits it when f succeeds.
func (s *Store) inTx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// execCount runs a statement in tx and returns how many rows it changed.
func execCount(ctx context.Context, tx *sql.Tx, query string, args ...any) (int64, error) {
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// nanos stores a time as Unix nanoseconds; the zero time is 0.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromNanos is the inverse of nanos, in UTC.
func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// blob stores an empty byte slice as NULL, so empty and nil read back alike.
func blob(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}
