package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// field is one value of a config file before it is checked: where it sits,
// as the user wrote it (for messages), and its JSON text. Both formats reach
// the checks in this form. A member of an object keeps its key literal and
// the name of the object apart, so that names are only built for messages.
type field struct {
	path string // the enclosing object's name, or the field's own if lit is nil
	lit  []byte // the member's key, a JSON string literal
	raw  []byte
}

// key is the member's key.
func (f field) key() string { return unquote(f.lit) }

// name is the field's full name, such as templates[2].maxNumber.
func (f field) name() string {
	switch {
	case f.lit == nil:
		return f.path
	case f.path == "":
		return f.key()
	}
	return f.path + "." + f.key()
}

// keyIn looks a member's key up in m without copying it.
func keyIn[V any](m map[string]V, f field) (V, bool) {
	if body := f.lit[1 : len(f.lit)-1]; bytes.IndexByte(body, '\\') < 0 {
		v, ok := m[string(body)]
		return v, ok
	}
	v, ok := m[f.key()]
	return v, ok
}

// The splitting functions below read text that validJSON has accepted, so
// they only find boundaries and never judge syntax; this keeps loading a
// large templates file to one validating pass plus cheap slicing.

// members splits a JSON object named path into its members, in order; ok
// is false when raw is not an object.
func members(raw []byte, path string) ([]field, bool) {
	return appendMembers(make([]field, 0, 8), raw, path)
}

// appendMembers is members appending to ms, so that a caller splitting many
// objects in turn can reuse one slice.
func appendMembers(ms []field, raw []byte, path string) ([]field, bool) {
	ok := items(raw, '{', func(lit, value []byte) {
		ms = append(ms, field{path: path, lit: lit, raw: value})
	})
	return ms, ok
}

// elements splits a JSON array into its elements; ok is false when raw is
// not an array.
func elements(raw []byte) (es [][]byte, ok bool) {
	ok = items(raw, '[', func(_, value []byte) { es = append(es, value) })
	return es, ok
}

// items calls yield with each item of the object ('{') or array ('[') that
// raw holds: a key literal and its value, or a nil key and an element. It
// is false when raw holds no such container.
func items(raw []byte, open byte, yield func(key, value []byte)) bool {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != open {
		return false
	}
	closer := byte(']')
	if open == '{' {
		closer = '}'
	}
	for i = skipSpace(raw, i+1); i < len(raw) && raw[i] != closer; {
		var key []byte
		if open == '{' {
			end := skipValue(raw, i)
			key = raw[i:end]
			i = skipSpace(raw, skipSpace(raw, end)+1) // past ':'
		}
		end := skipValue(raw, i)
		yield(key, raw[i:end])
		if i = skipSpace(raw, end); i < len(raw) && raw[i] == ',' {
			i = skipSpace(raw, i+1)
		}
	}
	return true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the index just past the value starting at b[i].
func skipValue(b []byte, i int) int {
	depth := 0
	for ; i < len(b); i++ {
		switch b[i] {
		case '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
			if depth == 0 {
				return i + 1
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i
			}
			if depth--; depth == 0 {
				return i + 1
			}
		case ',', ' ', '\t', '\n', '\r':
			if depth == 0 {
				return i
			}
		}
	}
	return i
}

// unquote reads a JSON string literal.
func unquote(lit []byte) string {
	if len(lit) < 2 {
		return ""
	}
	body := lit[1 : len(lit)-1]
	if !strings.ContainsRune(string(body), '\\') {
		return string(body)
	}
	var s string
	_ = json.Unmarshal(lit, &s) // valid by construction
	return s
}

// shown is the value as quoted in a message.
func (f field) shown() string {
	if len(f.raw) > 60 {
		return string(f.raw[:60]) + "..."
	}
	return string(f.raw)
}

// scalar is the text of a string, number or boolean, trimmed of spaces. It
// is a view into the file unless the string has escapes: most values are
// only checked, and copying each would dominate loading a large file.
func (f field) scalar() ([]byte, bool) {
	if len(f.raw) == 0 {
		return nil, false
	}
	switch c := f.raw[0]; {
	case c == '"':
		body := f.raw[1 : len(f.raw)-1]
		if bytes.IndexByte(body, '\\') >= 0 {
			body = []byte(unquote(f.raw))
		}
		return bytes.TrimSpace(body), true
	case c == '-' || c >= '0' && c <= '9' || c == 't' || c == 'f':
		return f.raw, true
	}
	return nil, false
}

var (
	errText    = errors.New("must be a string")
	errInteger = errors.New("must be an integer")
	errBool    = errors.New("must be true or false")
	errObject  = errors.New("must be an object")
	errNumber  = errors.New("must be a number")
)

// text reads a string; a number is taken as its digits, since IBM's files
// hold versions and prices either way.
func (f field) text() (string, error) {
	s, ok := f.scalar()
	if !ok || f.raw[0] == 't' || f.raw[0] == 'f' {
		return "", errText
	}
	return string(s), nil
}

// integer reads a whole number given as a number or as a string ("180").
func (f field) integer() (int, error) {
	s, ok := f.scalar()
	if !ok || f.raw[0] == 't' || f.raw[0] == 'f' {
		return 0, errInteger
	}
	if n, err := strconv.Atoi(string(s)); err == nil {
		return n, nil
	}
	x, err := strconv.ParseFloat(string(s), 64)
	if err != nil || x != math.Trunc(x) || math.Abs(x) > math.MaxInt32 {
		return 0, errInteger
	}
	return int(x), nil
}

// intWhere reads an integer that must satisfy ok; why says what is wanted.
func (f field) intWhere(ok func(int) bool, why string) (int, error) {
	n, err := f.integer()
	if err != nil || !ok(n) {
		return 0, errors.New(why)
	}
	return n, nil
}

// number reads a finite decimal given as a number or a string.
func (f field) number() (float64, error) {
	s, ok := f.scalar()
	if !ok || f.raw[0] == 't' || f.raw[0] == 'f' {
		return 0, errNumber
	}
	x, err := strconv.ParseFloat(string(s), 64)
	if err != nil || math.IsInf(x, 0) || math.IsNaN(x) {
		return 0, errNumber
	}
	return x, nil
}

// boolean reads true/false given as a boolean or a string ("true", "1",
// "yes").
func (f field) boolean() (bool, error) {
	s, _ := f.scalar()
	for _, w := range []string{"true", "t", "1", "yes", "y", "on"} {
		if strings.EqualFold(string(s), w) {
			return true, nil
		}
	}
	for _, w := range []string{"false", "f", "0", "no", "n", "off"} {
		if strings.EqualFold(string(s), w) {
			return false, nil
		}
	}
	return false, errBool
}

// list reads a list of strings given as a list or as one comma-separated
// string; blanks are dropped.
func (f field) list() ([]string, error) {
	var parts []string
	if es, ok := elements(f.raw); ok {
		for _, e := range es {
			s, err := field{raw: e}.text()
			if err != nil {
				return nil, errors.New("must be a list of strings or a comma-separated string")
			}
			parts = append(parts, s)
		}
	} else {
		s, err := f.text()
		if err != nil {
			return nil, errors.New("must be a list of strings or a comma-separated string")
		}
		parts = strings.Split(s, ",")
	}
	var out []string // nil when all are blank, as a template without the field
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out, nil
}

// oneOf matches a name against canonical spellings and returns the
// canonical one.
func (f field) oneOf(canon ...string) (string, error) {
	if c, ok := f.match(canon...); ok {
		return c, nil
	}
	return "", fmt.Errorf("must be one of %s", strings.Join(canon, ", "))
}

// match is oneOf without the error, for callers that only ask.
func (f field) match(canon ...string) (string, bool) {
	s, ok := f.scalar()
	if !ok || f.raw[0] == 't' || f.raw[0] == 'f' {
		return "", false
	}
	for _, c := range canon {
		if sameName(s, c) {
			return c, true
		}
	}
	return "", false
}

// sameName compares ignoring ASCII case, '-' and '_', so that "on-demand",
// "capacity-optimized" and "ec2_fleet" are understood.
func sameName(s []byte, c string) bool {
	i, j := 0, 0
	for {
		for i < len(s) && (s[i] == '-' || s[i] == '_') {
			i++
		}
		for j < len(c) && (c[j] == '-' || c[j] == '_') {
			j++
		}
		if i == len(s) || j == len(c) {
			return i == len(s) && j == len(c)
		}
		if lower(s[i]) != lower(c[j]) {
			return false
		}
		i, j = i+1, j+1
	}
}

func lower(b byte) byte {
	if b >= 'A' && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}

// quoted makes a field of a plain string, as the environment gives.
func quoted(name, value string) field {
	raw, _ := json.Marshal(value)
	return field{path: name, raw: raw}
}
