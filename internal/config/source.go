package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/ohfp/ohfp/internal/fault"
)

// envSource names the environment in messages, where a file name would be.
const envSource = "environment"

// source is one file being read: where its messages point, whether it has the
// OHFP integration guide's layout, and where the names ohfp does not use are
// recorded.
type source struct {
	path    string
	seeds   bool // snake_case names, launch fields inside attributes
	lsf     bool // templates read as IBM's LSF plugin reads them
	ignored *[]string
}

// errorf makes the CONFIGURATION_ERROR for a field ("" for the whole file).
func (s source) errorf(name, format string, args ...any) *fault.Error {
	msg := filepath.Base(s.path) + ": "
	if name != "" {
		msg += name + ": "
	}
	e := fault.New(fault.Configuration, "%s%s", msg, fmt.Sprintf(format, args...)).With("file", s.path)
	if name != "" {
		e.With("field", name)
	}
	return e
}

// invalid rejects a field's value, quoting it.
func (s source) invalid(f field, why error) *fault.Error {
	return s.errorf(f.name(), "%v, got %s", why, f.shown())
}

func (s source) ignore(name string) {
	*s.ignored = append(*s.ignored, filepath.Base(s.path)+": "+name)
}

// parseJSON checks a whole file as JSON once and splits its top object.
func (s source) parseJSON(data []byte) ([]field, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if ok, bad := validJSON(data); !ok {
		// encoding/json words syntax errors as people know them.
		var v any
		var syn *json.SyntaxError
		if errors.As(json.Unmarshal(data, &v), &syn) {
			line, col := position(data, syn.Offset)
			return nil, s.errorf("", "invalid JSON at line %d, column %d: %v", line, col, syn)
		}
		line, col := position(data, int64(bad)+1)
		return nil, s.errorf("", "invalid JSON at line %d, column %d: text that is not UTF-8, or nesting too deep", line, col)
	}
	ms, ok := members(data, "")
	if !ok {
		return nil, s.errorf("", "must hold a JSON object")
	}
	return ms, nil
}

// position turns the offset of a JSON syntax error (just past the byte at
// fault) into the 1-based line and column of that byte.
func position(data []byte, offset int64) (line, col int) {
	offset = min(max(offset-1, 0), int64(len(data)))
	before := data[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(offset) - bytes.LastIndexByte(before, '\n')
	return line, col
}
