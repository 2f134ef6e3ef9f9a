package access

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// ReadGuarded reads one of the files that say who may do what: the access
// rules, the tokens, the server's own token. A file every user may write
// lets anyone give themselves any role, so it is refused, as sshd refuses
// such an authorized_keys file; a file writable by its group stays
// allowed, for a site's admin group.
func ReadGuarded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o002 != 0 {
		return nil, fmt.Errorf("is writable by every user (mode %v), so anyone could give themselves any role; chmod o-w %s", fi.Mode().Perm(), path)
	}
	return io.ReadAll(f)
}

// decodeStrict decodes the one JSON object b holds into v, refusing what
// encoding/json lets through silently: an unknown field, a key given twice
// in an object (the last one would win), and text after the object (a
// second object would be ignored). what names the object in messages.
func decodeStrict(b []byte, v any, what string) error {
	if t := bytes.TrimLeft(b, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return fmt.Errorf("must hold a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("text after the %s at byte %d", what, dec.InputOffset())
	}
	return repeatedKey(b)
}

// repeatedKey finds a key given twice in one object of the JSON text b,
// which is known to be valid.
func repeatedKey(b []byte) error {
	type container struct {
		keys    map[string]bool // nil for an array
		wantKey bool
	}
	var open []*container
	dec := json.NewDecoder(bytes.NewReader(b))
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		var top *container
		if len(open) > 0 {
			top = open[len(open)-1]
		}
		if top != nil && top.wantKey {
			if key, ok := tok.(string); ok {
				if top.keys[key] {
					return fmt.Errorf("%q is given twice in one object", key)
				}
				top.keys[key] = true
				top.wantKey = false
				continue
			}
		}
		switch tok {
		case json.Delim('}'), json.Delim(']'):
			open = open[:len(open)-1]
			continue
		}
		if top != nil && top.keys != nil {
			top.wantKey = true // this value ends the member
		}
		switch tok {
		case json.Delim('{'):
			open = append(open, &container{keys: map[string]bool{}, wantKey: true})
		case json.Delim('['):
			open = append(open, &container{})
		}
	}
}
