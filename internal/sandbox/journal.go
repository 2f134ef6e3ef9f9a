package sandbox

import (
	"encoding/json"
	"fmt"
	"sync"
)

// Call is one AWS call the sandbox received: its action ("ec2:CreateFleet")
// and its parameters, flattened to the query protocol's dotted names
// ("LaunchTemplateConfigs.1.Overrides.1.SubnetId"); JSON bodies are
// flattened the same way, list members counted from 1.
type Call struct {
	Action string            `json:"action"`
	Params map[string]string `json:"params"`
}

// journal keeps the calls received while it is on.
type journal struct {
	mu    sync.Mutex
	on    bool
	calls []Call
}

// RecordCalls starts (or, with false, stops) keeping every call received,
// for Journal; starting empties what was kept.
func (s *Sandbox) RecordCalls(on bool) {
	s.journal.mu.Lock()
	defer s.journal.mu.Unlock()
	s.journal.on = on
	if on {
		s.journal.calls = nil
	}
}

// Journal is the calls received since RecordCalls(true), in order, and
// empties it: what an IAM evaluation of the plugin's calls needs.
func (s *Sandbox) Journal() []Call {
	s.journal.mu.Lock()
	defer s.journal.mu.Unlock()
	out := s.journal.calls
	s.journal.calls = nil
	return out
}

func (s *Sandbox) record(action string, c *call) {
	s.journal.mu.Lock()
	defer s.journal.mu.Unlock()
	if !s.journal.on {
		return
	}
	p := map[string]string{}
	for k, v := range c.form {
		if len(v) > 0 {
			p[k] = v[0]
		}
	}
	if len(c.body) > 0 {
		var doc any
		if json.Unmarshal(c.body, &doc) == nil {
			Flatten("", doc, p)
		}
	}
	s.journal.calls = append(s.journal.calls, Call{Action: action, Params: p})
}

// Flatten writes a JSON document's leaves into out under dotted names, as
// the query protocol names parameters.
func Flatten(prefix string, v any, out map[string]string) {
	join := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + "." + k
	}
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			Flatten(join(k), x, out)
		}
	case []any:
		for i, x := range v {
			Flatten(join(fmt.Sprint(i+1)), x, out)
		}
	case nil:
	default:
		out[prefix] = fmt.Sprint(v)
	}
}
