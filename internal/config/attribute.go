package config

import (
	"encoding/json"
	"fmt"
)

// MarshalJSON writes an attribute as HostFactory's [kind, value] pair.
func (a Attribute) MarshalJSON() ([]byte, error) {
	return json.Marshal([2]string{a.Kind, a.Value})
}

// UnmarshalJSON reads a [kind, value] pair.
func (a *Attribute) UnmarshalJSON(b []byte) error {
	var pair []string
	if err := json.Unmarshal(b, &pair); err != nil || len(pair) != 2 {
		return fmt.Errorf("attribute must be a pair [kind, value] of strings, got %s", truncate(b, 60))
	}
	a.Kind, a.Value = pair[0], pair[1]
	return nil
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}
