package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// controlMux is the JSON control API under /_sandbox/ (see the package doc).
func (s *Sandbox) controlMux() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("GET /_sandbox/instances", func(w http.ResponseWriter, r *http.Request) {
		key, value, _ := strings.Cut(r.URL.Query().Get("tag"), "=")
		reply(w, s.InstancesWithTag(key, value), nil)
	})
	m.HandleFunc("GET /_sandbox/fleets", func(w http.ResponseWriter, r *http.Request) { reply(w, s.Fleets(), nil) })
	m.HandleFunc("GET /_sandbox/groups", func(w http.ResponseWriter, r *http.Request) { reply(w, s.Groups(), nil) })
	m.HandleFunc("GET /_sandbox/calls", func(w http.ResponseWriter, r *http.Request) { reply(w, s.Calls(), nil) })
	m.HandleFunc("DELETE /_sandbox/calls", func(w http.ResponseWriter, r *http.Request) { s.ResetCalls(); reply(w, nil, nil) })

	m.HandleFunc("GET /_sandbox/faults", func(w http.ResponseWriter, r *http.Request) {
		out := []faultJSON{}
		for _, f := range s.Faults() {
			out = append(out, faultJSON{Fault: f, Delay: durationJSON(f.Delay)})
		}
		reply(w, out, nil)
	})
	post(m, "faults", func(f faultJSON) error {
		f.Fault.Delay = time.Duration(f.Delay)
		return s.AddFault(f.Fault)
	})
	m.HandleFunc("DELETE /_sandbox/faults", func(w http.ResponseWriter, r *http.Request) {
		s.ClearFaults(r.URL.Query().Get("action"))
		reply(w, nil, nil)
	})

	m.HandleFunc("GET /_sandbox/capacity", func(w http.ResponseWriter, r *http.Request) { reply(w, s.Capacity(), nil) })
	post(m, "capacity", func(c CapacityLimit) error { return s.SetCapacity(c.InstanceType, c.Zone, c.Remaining) })
	m.HandleFunc("DELETE /_sandbox/capacity", func(w http.ResponseWriter, r *http.Request) { s.ClearCapacity(); reply(w, nil, nil) })

	m.HandleFunc("GET /_sandbox/quotas", func(w http.ResponseWriter, r *http.Request) { reply(w, s.QuotasInForce(), nil) })
	post(m, "quotas", s.SetQuotas)

	post(m, "protect", func(in struct {
		InstanceIDs []string `json:"instanceIds"`
	}) error {
		return s.Protect(in.InstanceIDs...)
	})
	post(m, "interrupt", func(in struct {
		InstanceIDs []string `json:"instanceIds"`
		Reason      string   `json:"reason"` // capacity (default) or price
	}) error {
		switch in.Reason {
		case "", interruptCapacity:
			return s.Interrupt(in.InstanceIDs...)
		case interruptPrice:
			return s.InterruptForPrice(in.InstanceIDs...)
		}
		return fmt.Errorf("sandbox: interruption reason %q is neither capacity nor price", in.Reason)
	})

	m.HandleFunc("GET /_sandbox/pause", func(w http.ResponseWriter, r *http.Request) { reply(w, s.pauses(), nil) })
	post(m, "pause", func(p pauseJSON) error { return s.Pause(p.Action, p.At) })
	m.HandleFunc("DELETE /_sandbox/pause", func(w http.ResponseWriter, r *http.Request) {
		s.Release(r.URL.Query().Get("action"))
		reply(w, nil, nil)
	})

	m.HandleFunc("GET /_sandbox/clock", func(w http.ResponseWriter, r *http.Request) {
		reply(w, map[string]time.Time{"now": s.Now()}, nil)
	})
	m.HandleFunc("POST /_sandbox/clock", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Advance durationJSON `json:"advance"`
		}
		if err := decode(r, &in); err != nil {
			reply(w, nil, err)
			return
		}
		if in.Advance < 0 {
			reply(w, nil, errors.New("sandbox time only moves forward"))
			return
		}
		s.Advance(time.Duration(in.Advance))
		reply(w, map[string]time.Time{"now": s.Now()}, nil)
	})

	post(m, "images", s.RegisterImage)
	post(m, "subnets", s.RegisterSubnet)
	post(m, "launch-templates", s.RegisterLaunchTemplate)
	post(m, "security-groups", func(g struct{ ID, Name string }) error { return s.RegisterSecurityGroup(g.ID, g.Name) })
	post(m, "key-pairs", func(k struct{ Name string }) error { return s.RegisterKeyPair(k.Name) })
	post(m, "ssm-parameters", func(p struct{ Name, Value string }) error {
		if p.Name == "" {
			return errors.New("sandbox: parameter needs a name")
		}
		s.SetParameter(p.Name, p.Value)
		return nil
	})
	return m
}

// post serves POST /_sandbox/<what>: one JSON T in, do's error out.
func post[T any](m *http.ServeMux, what string, do func(T) error) {
	m.HandleFunc("POST /_sandbox/"+what, func(w http.ResponseWriter, r *http.Request) {
		var v T
		if err := decode(r, &v); err != nil {
			reply(w, nil, err)
			return
		}
		reply(w, nil, do(v))
	})
}

// faultJSON is a Fault on the wire, with its delay as "2s" or seconds.
type faultJSON struct {
	Fault
	Delay durationJSON `json:"delay,omitempty"`
}

type pauseJSON struct {
	Action  string     `json:"action"`
	At      PausePoint `json:"at"`
	Waiting int        `json:"waiting"`
}

// pauses lists the armed pauses and how many calls each holds.
func (s *Sandbox) pauses() []pauseJSON {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	out := []pauseJSON{}
	for k, g := range s.faults.pauses {
		out = append(out, pauseJSON{Action: k.action, At: k.at, Waiting: g.waiting})
	}
	return out
}

// durationJSON reads "1m30s" or a number of seconds, and writes "1m30s".
type durationJSON time.Duration

func (d durationJSON) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

func (d *durationJSON) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch v := v.(type) {
	case float64:
		*d = durationJSON(v * float64(time.Second))
	case string:
		p, err := time.ParseDuration(v)
		if err != nil {
			return err
		}
		*d = durationJSON(p)
	default:
		return fmt.Errorf("duration %s is neither a string nor seconds", b)
	}
	return nil
}

func decode(r *http.Request, v any) error {
	d := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("sandbox: bad JSON body: %w", err)
	}
	return nil
}

// reply writes v (or {} when nil) as JSON, or err as {"error": ...} 400.
func reply(w http.ResponseWriter, v any, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
		return
	}
	if v == nil {
		v = struct{}{}
	}
	json.NewEncoder(w).Encode(v)
}
