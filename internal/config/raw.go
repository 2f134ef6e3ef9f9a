package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// field is one value of a config file before it is checked: the name the
// user wrote (a path such as templates[2].maxNumber, for messages) and its
// JSON text. Both formats reach the checks in this form.
type field struct {
	name string
	raw  []byte
}

// member is one key of a JSON object with its value, in file order.
type member struct {
	key string
	field
}

// The splitting functions below read text that json.Valid has accepted, so
// they only find boundaries and never judge syntax; this keeps loading a
// large templates file to one validating pass plus cheap slicing.

// members splits a JSON object into its members, in order; ok is false when
// raw is not an object. Field names are prefixed with path.
func members(raw []byte, path string) (ms []member, ok bool) {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return nil, false
	}
	i = skipSpace(raw, i+1)
	for i < len(raw) && raw[i] != '}' {
		end := skipValue(raw, i)
		key := unquote(raw[i:end])
		i = skipSpace(raw, end)
		i = skipSpace(raw, i+1) // ':'
		end = skipValue(raw, i)
		name := key
		if path != "" {
			name = path + "." + key
		}
		ms = append(ms, member{key: key, field: field{name: name, raw: raw[i:end]}})
		i = skipSpace(raw, end)
		if i < len(raw) && raw[i] == ',' {
			i = skipSpace(raw, i+1)
		}
	}
	return ms, true
}

// elements splits a JSON array into its elements; ok is false when raw is
// not an array.
func elements(raw []byte) (es [][]byte, ok bool) {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '[' {
		return nil, false
	}
	i = skipSpace(raw, i+1)
	for i < len(raw) && raw[i] != ']' {
		end := skipValue(raw, i)
		es = append(es, raw[i:end])
		i = skipSpace(raw, end)
		if i < len(raw) && raw[i] == ',' {
			i = skipSpace(raw, i+1)
		}
	}
	return es, true
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

// scalar is the text of a string, number or boolean.
func (f field) scalar() (string, bool) {
	if len(f.raw) == 0 {
		return "", false
	}
	switch c := f.raw[0]; {
	case c == '"':
		return unquote(f.raw), true
	case c == '-' || c >= '0' && c <= '9' || c == 't' || c == 'f':
		return string(f.raw), true
	}
	return "", false
}

var (
	errText    = errors.New("must be a string")
	errInteger = errors.New("must be an integer")
	errBool    = errors.New("must be true or false")
	errObject  = errors.New("must be an object")
)

// text reads a string; a number is taken as its digits, since IBM's files
// hold versions and prices either way.
func (f field) text() (string, error) {
	s, ok := f.scalar()
	if !ok || f.raw[0] == 't' || f.raw[0] == 'f' {
		return "", errText
	}
	return strings.TrimSpace(s), nil
}

// integer reads a whole number given as a number or as a string ("180").
func (f field) integer() (int, error) {
	s, ok := f.scalar()
	if !ok || f.raw[0] == 't' || f.raw[0] == 'f' {
		return 0, errInteger
	}
	s = strings.TrimSpace(s)
	if n, err := strconv.Atoi(s); err == nil {
		return n, nil
	}
	x, err := strconv.ParseFloat(s, 64)
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
		return 0, errors.New("must be a number")
	}
	x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsInf(x, 0) || math.IsNaN(x) {
		return 0, errors.New("must be a number")
	}
	return x, nil
}

// boolean reads true/false given as a boolean or a string ("true", "1",
// "yes").
func (f field) boolean() (bool, error) {
	s, _ := f.scalar()
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "t", "1", "yes", "y", "on":
		return true, nil
	case "false", "f", "0", "no", "n", "off":
		return false, nil
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
	out := parts[:0]
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out, nil
}

// oneOf matches a name against canonical spellings, ignoring case, '-' and
// '_' (so "on-demand", "capacity-optimized" and "ec2fleet" are understood),
// and returns the canonical one.
func (f field) oneOf(canon ...string) (string, error) {
	s, err := f.text()
	if err == nil {
		key := fold(s)
		for _, c := range canon {
			if fold(c) == key {
				return c, nil
			}
		}
	}
	return "", fmt.Errorf("must be one of %s", strings.Join(canon, ", "))
}

var separators = strings.NewReplacer("-", "", "_", "")

func fold(s string) string { return strings.ToLower(separators.Replace(s)) }

// quoted makes a field of a plain string, as the environment gives.
func quoted(name, value string) field {
	raw, _ := json.Marshal(value)
	return field{name: name, raw: raw}
}
