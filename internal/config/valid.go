package config

import "unicode/utf8"

// maxDepth bounds nesting as encoding/json does.
const maxDepth = 10000

// validJSON tells whether b is one JSON value, surrounded by spaces only,
// whose strings are valid UTF-8; bad is the offset of the first fault. It
// does the work of json.Valid in one direct pass, several times faster than
// encoding/json's state machine, which matters as every HostFactory call
// loads the templates file anew. Strings must be UTF-8 because the splitting
// functions hand out string bodies without decoding them.
func validJSON(b []byte) (ok bool, bad int) {
	i := validValue(b, skipSpace(b, 0), 0)
	if i < 0 {
		return false, -i - 1
	}
	if i = skipSpace(b, i); i != len(b) {
		return false, i
	}
	return true, 0
}

// validValue returns the index past the value at b[i], or -(offset+1) of
// the first fault.
func validValue(b []byte, i, depth int) int {
	if i >= len(b) {
		return -i - 1
	}
	switch c := b[i]; {
	case c == '{' || c == '[':
		if depth >= maxDepth {
			return -i - 1
		}
		return validContainer(b, i, depth)
	case c == '"':
		return validString(b, i)
	case c == 't':
		return validLiteral(b, i, "true")
	case c == 'f':
		return validLiteral(b, i, "false")
	case c == 'n':
		return validLiteral(b, i, "null")
	default:
		return validNumber(b, i)
	}
}

func validContainer(b []byte, i, depth int) int {
	closer := byte(']')
	if b[i] == '{' {
		closer = '}'
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == closer {
		return i + 1
	}
	for {
		if closer == '}' {
			if i >= len(b) || b[i] != '"' {
				return -i - 1
			}
			if i = validString(b, i); i < 0 {
				return i
			}
			if i = skipSpace(b, i); i >= len(b) || b[i] != ':' {
				return -i - 1
			}
			i = skipSpace(b, i+1)
		}
		if i = validValue(b, i, depth+1); i < 0 {
			return i
		}
		switch i = skipSpace(b, i); {
		case i >= len(b):
			return -i - 1
		case b[i] == closer:
			return i + 1
		case b[i] != ',':
			return -i - 1
		}
		i = skipSpace(b, i+1)
	}
}

func validString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1
		case c < 0x20:
			return -i - 1
		case c == '\\':
			i++
			if i >= len(b) {
				return -i - 1
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				for k := 1; k <= 4; k++ {
					if i+k >= len(b) || !isHex(b[i+k]) {
						return -(i + k) - 1
					}
				}
				i += 4
			default:
				return -i - 1
			}
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				return -i - 1
			}
			i += size - 1
		}
	}
	return -i - 1
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func validLiteral(b []byte, i int, lit string) int {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return -i - 1
	}
	return i + len(lit)
}

// validNumber follows JSON's grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func validNumber(b []byte, i int) int {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i)
	default:
		return -i - 1
	}
	if i < len(b) && b[i] == '.' {
		if j := digits(b, i+1); j > i+1 {
			i = j
		} else {
			return -(i + 1) - 1
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return -i - 1
		}
		i = j
	}
	return i
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}
