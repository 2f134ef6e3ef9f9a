package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
)

// tail follows a log file by offset: every poll hands the complete lines
// written since the last one to handle. The ohfp processes rotate the file
// by renaming it (ohfp.log -> ohfp.log.1), so the open file is kept between
// polls: after a rename it still reads what was written before, and then
// the new file is followed from its start.
type tail struct {
	path   string
	handle func(line []byte)

	mu      sync.Mutex
	f       *os.File
	info    fs.FileInfo // of f, to tell a renamed file from the current one
	off     int64
	partial []byte // an unfinished last line, completed by the next read
	buf     []byte
}

func newTail(path string, handle func(line []byte)) *tail {
	return &tail{path: path, handle: handle, buf: make([]byte, 64<<10)}
}

// poll reads what was appended since the last poll. A missing file is not
// an error: no ohfp process has logged yet.
func (t *tail) poll() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	cur, statErr := os.Stat(t.path)
	if t.f != nil {
		if err := t.drain(); err != nil {
			return err
		}
		switch {
		case statErr != nil || !os.SameFile(t.info, cur):
			t.close() // rotated away; its last lines are read
		case cur.Size() < t.off:
			t.off, t.partial = 0, nil // truncated in place
		}
	}
	if t.f == nil {
		if errors.Is(statErr, fs.ErrNotExist) {
			return nil
		}
		f, err := os.Open(t.path)
		if err != nil {
			return fmt.Errorf("opening the log %s: %w", t.path, err)
		}
		info, err := f.Stat()
		if err != nil {
			f.Close()
			return fmt.Errorf("opening the log %s: %w", t.path, err)
		}
		t.f, t.info, t.off = f, info, 0
	}
	return t.drain()
}

// drain reads the open file from the offset to its end.
func (t *tail) drain() error {
	for {
		n, err := t.f.ReadAt(t.buf, t.off)
		t.off += int64(n)
		t.lines(t.buf[:n])
		if errors.Is(err, io.EOF) || n == 0 {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the log %s: %w", t.path, err)
		}
	}
}

// lines hands every complete line of chunk (after the partial one kept
// from before) to handle and keeps the unfinished rest.
func (t *tail) lines(chunk []byte) {
	for len(chunk) > 0 {
		i := bytes.IndexByte(chunk, '\n')
		if i < 0 {
			t.partial = append(t.partial, chunk...)
			return
		}
		line := chunk[:i]
		if len(t.partial) > 0 {
			line = append(t.partial, line...)
			t.partial = t.partial[:0]
		}
		t.handle(line)
		chunk = chunk[i+1:]
	}
}

func (t *tail) close() {
	t.f.Close()
	t.f, t.info, t.off, t.partial = nil, nil, 0, nil
}

// Close releases the file.
func (t *tail) Close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.f != nil {
		t.close()
	}
}
