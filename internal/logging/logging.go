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

// Open returns a logger writing to cfg.FilePath (rotated first if it is
// over cfg.MaxSize) and, when cfg.Console is set, to standard error. The
// closer closes the file.
func Open(cfg config.Logging) (*slog.Logger, io.Closer, error) {
	opts := &slog.HandlerOptions{Level: Level(cfg.Level)}
	var w io.Writer = io.Discard
	closer := io.NopCloser(nil)
	if cfg.FilePath != "" {
		if err := os.MkdirAll(filepath.Dir(cfg.FilePath), 0o750); err != nil {
			return nil, nil, fmt.Errorf("creating log folder: %w", err)
		}
		if err := rotate(cfg.FilePath, cfg.MaxSize, cfg.BackupCount); err != nil {
			return nil, nil, err
		}
		f, err := os.OpenFile(cfg.FilePath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
		if err != nil {
			return nil, nil, fmt.Errorf("opening log file: %w", err)
		}
		w, closer = f, f
	}
	if cfg.Console {
		w = io.MultiWriter(w, os.Stderr)
	}
	return slog.New(slog.NewJSONHandler(w, opts)), closer, nil
}

// rotate shifts path to path.1, path.1 to path.2, ... keeping backups
// files, when path is larger than maxSize. Each ohfp process is short-lived,
// so checking once at start keeps files near their limit without a writer
// that counts bytes.
func rotate(path string, maxSize int64, backups int) error {
	if maxSize <= 0 {
		return nil
	}
	st, err := os.Stat(path)
	if err != nil || st.Size() < maxSize {
		return nil
	}
	if backups <= 0 {
		return os.Truncate(path, 0)
	}
	for i := backups - 1; i >= 1; i-- {
		_ = os.Rename(fmt.Sprintf("%s.%d", path, i), fmt.Sprintf("%s.%d", path, i+1))
	}
	if err := os.Rename(path, path+".1"); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("rotating log file: %w", err)
	}
	return nil
}
