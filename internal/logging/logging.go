// Package logging opens ohfp's structured log: JSON lines in the provider
// instance's log folder, rotated by size, never on standard output.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/ohfp/ohfp/internal/config"
)

// Level parses a level name, IBM's (TRACE, WARN, ...) or slog's.
func Level(name string) slog.Level {
	switch strings.ToUpper(strings.TrimSpace(name)) {
	case "TRACE", "DEBUG":
		return slog.LevelDebug
	case "WARN", "WARNING":
		return slog.LevelWarn
	case "ERROR", "FATAL", "CRITICAL":
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

// FileMode is the mode of a log file ohfp creates: readable by the account
// that runs HostFactory alone. The lines hold no secret (a test checks
// that), but they do hold the grid's inventory: host names, addresses,
// instance, request and account ids, which are worth a reconnaissance. A
// group read bit would hand that to whoever shares the account's primary
// group; a site that ships logs elsewhere runs its shipper as that account.
// A folder ohfp creates for the log is 0700 for the same reason.
const FileMode = 0o600

// Open returns a logger writing to cfg.FilePath (rotated first if it is
// over cfg.MaxSize) and, when cfg.Console is set, to standard error. The
// closer closes the file.
func Open(cfg config.Logging) (*slog.Logger, io.Closer, error) {
	var w io.Writer = io.Discard
	closer := io.NopCloser(nil)
	if cfg.FilePath != "" {
		if err := os.MkdirAll(filepath.Dir(cfg.FilePath), 0o700); err != nil {
			return nil, nil, fmt.Errorf("creating log folder: %w", err)
		}
		if err := rotate(cfg.FilePath, cfg.MaxSize, cfg.BackupCount); err != nil {
			return nil, nil, err
		}
		f, err := os.OpenFile(cfg.FilePath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, FileMode)
		if err != nil {
			return nil, nil, fmt.Errorf("opening log file: %w", err)
		}
		w, closer = f, f
	}
	if cfg.Console {
		w = io.MultiWriter(w, os.Stderr)
	}
	return NewJSON(w, cfg.Level), closer, nil
}

// TimeKey is the key of each line's time, as the OHFP requirements guide's
// log format names it.
const TimeKey = "timestamp"

// timeLayout is RFC 3339 in UTC with milliseconds.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// NewJSON is ohfp's logger: JSON lines at level (a name Level reads), each
// with its "timestamp" in RFC 3339 (UTC), and durations written as people
// read them ("1m30s"), not in nanoseconds.
func NewJSON(w io.Writer, level string) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: Level(level),
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			switch {
			case len(groups) == 0 && a.Key == slog.TimeKey && a.Value.Kind() == slog.KindTime:
				return slog.String(TimeKey, a.Value.Time().UTC().Format(timeLayout))
			case a.Value.Kind() == slog.KindDuration:
				a.Value = slog.StringValue(a.Value.Duration().String())
			}
			return a
		}}))
}

// rotate shifts path to path.1, path.1 to path.2, ... keeping backups
// files, when path is larger than maxSize. Each ohfp process is short-lived,
// so checking once at start keeps files near their limit without a writer
// that counts bytes.
//
// HostFactory runs many processes at once, and two that both find the file
// full must not both rotate it: the second would rename a fresh file over
// the first one's backup. So the rotation is made under an exclusive lock
// on path.lock, and the size checked again once the lock is held. A process
// still writing to a file rotated away writes into the backup, where its
// lines stay.
func rotate(path string, maxSize int64, backups int) error {
	if maxSize <= 0 || !full(path, maxSize) {
		return nil
	}
	unlock, err := lock(path + ".lock")
	if err != nil {
		return fmt.Errorf("rotating log file: %w", err)
	}
	defer unlock()
	if !full(path, maxSize) {
		return nil // another process rotated it meanwhile
	}
	if backups <= 0 {
		return os.Truncate(path, 0)
	}
	// Shift the backups there are, the oldest over the last one kept.
	n := 1
	for n < backups && exists(fmt.Sprintf("%s.%d", path, n)) {
		n++
	}
	for i := n - 1; i >= 1; i-- {
		_ = os.Rename(fmt.Sprintf("%s.%d", path, i), fmt.Sprintf("%s.%d", path, i+1))
	}
	if err := os.Rename(path, path+".1"); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("rotating log file: %w", err)
	}
	return nil
}

func full(path string, maxSize int64) bool {
	st, err := os.Stat(path)
	return err == nil && st.Size() >= maxSize
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// lock takes an exclusive advisory lock on the file at path, waiting for
// it, and returns its release. The kernel drops it if the process dies.
func lock(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
