// Package sqlite is the embedded store.Store: one SQLite file in WAL mode,
// shared safely by the many short-lived ohfp processes HostFactory runs in
// parallel on one host.
package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
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
	// unwritable is why the store was opened read-only (a full disk, a
	// file system remounted read-only); nil when it can be written.
	unwritable error
}

var _ store.Store = (*Store)(nil)

// Open opens the store at path and migrates its schema when it is older
// than this binary. It makes the store (0600, in a 0700 folder) only where
// none is expected: no file, no write-ahead log and no identity file
// (MarkerSuffix) beside it. A store file that is empty, missing while its
// write-ahead log or identity file remains, not an ohfp store, or whose
// schema is newer than this binary knows, gives a fault.Configuration error
// and is left as it is; the damaged kinds wrap ErrDamaged, for Init.
//
// A store that can be read but not written (a full disk: SQLite cannot
// even size its shared-memory file; a file system remounted read-only) is
// opened read-only: reads answer, every write fails, and Unwritable says
// why. Nothing is launched or terminated that cannot be recorded first, so
// the broker then changes nothing.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, fault.New(fault.Configuration, "state store path is empty")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fault.Wrap(fault.Configuration, err, "state store %s", path)
	}
	missing, err := expected(abs, path)
	if err != nil {
		return nil, err
	}
	if missing {
		if err := create(ctx, abs, path); err != nil {
			return nil, err
		}
	}
	s, err := open(ctx, abs, path, false)
	if unwritable(err) {
		ro, roErr := open(ctx, abs, path, true)
		if roErr != nil {
			return nil, err
		}
		var cause *sqlite.Error
		errors.As(err, &cause)
		ro.unwritable = fmt.Errorf("is its disk full, or its file system read-only? %w", cause)
		return ro, nil
	}
	if err != nil {
		return nil, err
	}
	// Best effort: a store that can be read answers even when its disk is
	// full; the next open writes the identity file.
	_ = s.mark(ctx)
	return s, nil
}

// unwritable reports whether err is SQLite failing to write a store it
// could otherwise read: the disk is full, the file system read-only, or
// an I/O error on the way.
func unwritable(err error) bool {
	switch sqliteCode(err) & 0xff {
	case sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_READONLY:
		return true
	}
	return false
}

// Unwritable is why the store was opened read-only, or nil when it can be
// written.
func (s *Store) Unwritable() error { return s.unwritable }

// ErrDamaged is wrapped by the errors of Open for a store file that is
// damaged or lost: empty, missing while its write-ahead log or identity file
// remains, or corrupt. Init may set it aside and start a new store.
var ErrDamaged = errors.New("the state store is damaged or lost")

// MarkerSuffix names the identity file beside a store file: the store's
// store.Identity, written when the store is first opened. While it exists,
// a store is expected at that path, and only Init makes a new one there.
const MarkerSuffix = ".identity"

// damaged is the refusal of a damaged or lost store file.
func damaged(path, format string, args ...any) error {
	return fault.Wrap(fault.Configuration, ErrDamaged, "state store %s %s; it is left as it is. Restore it from a backup, or run `ohfp store init` to set it aside and start a new store (reconcile then adopts the instances it knew)",
		path, fmt.Sprintf(format, args...))
}

// expected checks what is at the store's path: missing is true when there
// is no store and none is expected, so one may be made.
func expected(abs, path string) (missing bool, err error) {
	fi, err := os.Stat(abs)
	switch {
	case err == nil && fi.Size() == 0:
		// Stores are made whole and then linked into place (create), so an
		// empty file was truncated: a fresh store there would forget a grid.
		return false, damaged(path, "is empty (0 bytes)")
	case err == nil:
		return false, nil
	case !errors.Is(err, fs.ErrNotExist):
		return false, fault.Wrap(fault.Configuration, err, "state store %s", path)
	}
	_, walErr := os.Stat(abs + "-wal")
	raw, markErr := os.ReadFile(abs + MarkerSuffix)
	if walErr != nil && markErr != nil {
		return true, nil
	}
	// Another process may have made the store since the first look: it
	// links the store into place before its log or identity file appear.
	if _, err := os.Stat(abs); err == nil {
		return false, nil
	}
	if walErr == nil {
		return false, damaged(path, "is missing while its write-ahead log %s-wal exists", path)
	}
	return false, damaged(path, "is missing, but %s%s says this store was here: %s", path, MarkerSuffix, bytes.TrimSpace(raw))
}

// create makes a new store at abs: it is built whole in a temporary file
// and linked into place, so no process ever sees a half-made store, and
// when several processes make it at once one wins and the others use it.
func create(ctx context.Context, abs, path string) error {
	dir := filepath.Dir(abs)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fault.Wrap(fault.Configuration, err, "state store %s: create its directory", path)
	}
	// State may hold user data: the file is private from the start, and
	// the write-ahead log and shared-memory files inherit its mode.
	f, err := os.CreateTemp(dir, "."+filepath.Base(abs)+".new-*")
	if err != nil {
		return fault.Wrap(fault.Configuration, err, "state store %s", path)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Close(); err != nil {
		return fault.Wrap(fault.Configuration, err, "state store %s", path)
	}
	s, err := open(ctx, tmp, path, false)
	if err != nil {
		return err
	}
	if err := s.Close(); err != nil {
		return fault.Wrap(fault.Configuration, err, "state store %s", path)
	}
	if err := os.Link(tmp, abs); err != nil && !errors.Is(err, fs.ErrExist) {
		return fault.Wrap(fault.Configuration, err, "state store %s", path)
	}
	return nil
}

// open opens the store file abs, named path in messages, and migrates it;
// readOnly opens it without writing anything, not even SQLite's
// shared-memory file (readonly_shm: the WAL index is then read into the
// process's memory), and only when its schema is current.
func open(ctx context.Context, abs, path string, readOnly bool) (*Store, error) {
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
	if readOnly {
		dsn.RawQuery += "&mode=ro&readonly_shm=1"
	}
	db, err := sql.Open("sqlite", dsn.String())
	if err != nil {
		return nil, fault.Wrap(fault.Configuration, err, "state store %s", path)
	}
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	s := &Store{db: db, path: path}
	if readOnly {
		if err := s.current(ctx); err != nil {
			db.Close()
			return nil, err
		}
		return s, nil
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// mark writes the identity file beside the store when it is missing (a
// store made before identity files existed gets one on its first open).
func (s *Store) mark(ctx context.Context) error {
	abs, err := filepath.Abs(s.path)
	if err != nil {
		return fault.Wrap(fault.Configuration, err, "state store %s", s.path)
	}
	marker := abs + MarkerSuffix
	if _, err := os.Stat(marker); err == nil {
		return nil
	}
	raw, ok, err := s.Fact(ctx, store.IdentityFact)
	if err != nil || !ok {
		return fault.Wrap(fault.Configuration, errors.Join(err, errors.New("no identity")), "state store %s: identity", s.path)
	}
	f, err := os.CreateTemp(filepath.Dir(abs), "."+filepath.Base(marker)+".*")
	if err != nil {
		return fault.Wrap(fault.Configuration, err, "state store %s: writing %s", s.path, marker)
	}
	defer os.Remove(f.Name())
	_, werr := f.Write(append(raw, '\n'))
	if err := errors.Join(werr, f.Close(), os.Rename(f.Name(), marker)); err != nil {
		return fault.Wrap(fault.Configuration, err, "state store %s: writing %s", s.path, marker)
	}
	return nil
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
		return fault.Wrap(fault.Configuration, fmt.Errorf("%w: %w", ErrDamaged, err),
			"state store %s is not an SQLite database or is corrupt; it is left as it is. Restore it from a backup, or run `ohfp store init` to set it aside and start a new store (reconcile then adopts the instances it knew)", s.path)
	}
	return fault.Wrap(fault.Configuration, err, "state store %s", s.path)
}

// inTx runs f in a write transaction and commits it when f succeeds.
func (s *Store) inTx(ctx context.Context, f func(*sql.Tx) error) error {
	if s.unwritable != nil {
		return fmt.Errorf("state store %s cannot be written (%w)", s.path, s.unwritable)
	}
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

// Init opens the store at path as Open does, except that a damaged or lost
// store (ErrDamaged) is set aside and a new store made in its place: what
// only an explicit `ohfp store init` may do. The files set aside (the store,
// its write-ahead log and identity file, whichever exist) keep their bytes,
// renamed with the suffix .damaged-<UTC time>; aside lists them.
func Init(ctx context.Context, path string, now time.Time) (s *Store, aside []string, err error) {
	s, err = Open(ctx, path)
	if err == nil && s.unwritable != nil {
		s.Close()
		return nil, nil, fault.Wrap(fault.Configuration, s.unwritable, "state store %s cannot be written", path)
	}
	if !errors.Is(err, ErrDamaged) {
		return s, nil, err
	}
	abs, aerr := filepath.Abs(path)
	if aerr != nil {
		return nil, nil, fault.Wrap(fault.Configuration, aerr, "state store %s", path)
	}
	suffix := ".damaged-" + now.UTC().Format("20060102T150405Z")
	for _, f := range []string{abs, abs + "-wal", abs + "-shm", abs + MarkerSuffix} {
		if _, err := os.Lstat(f); err != nil {
			continue
		}
		if err := os.Rename(f, f+suffix); err != nil {
			return nil, aside, fault.Wrap(fault.Configuration, err, "state store %s: setting %s aside", path, f)
		}
		aside = append(aside, f+suffix)
	}
	s, err = Open(ctx, path)
	return s, aside, err
}
