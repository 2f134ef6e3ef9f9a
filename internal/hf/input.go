package hf

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ohfp/ohfp/internal/fault"
	"github.com/ohfp/ohfp/internal/store"
)

// Limits on what HostFactory may send; anything larger is a mistake, not a grid.
const (
	maxInputBytes  = 16 << 20
	maxMachines    = 10000
	maxRequestIDs  = 10000
	maxNameLength  = 255
	maxAccountName = 255
)

// The shapes of ids and names, checked by hand: every process would
// otherwise compile the same regular expressions at start.
func isTemplateID(s string) bool { return len(s) >= 1 && len(s) <= 64 && onlyOf(s, "_-") }
func isRequestID(s string) bool  { return len(s) >= 1 && len(s) <= 128 && onlyOf(s, "_.:-") }

func isInstanceID(s string) bool {
	hex := strings.TrimPrefix(s, "i-")
	return len(hex) != len(s) && len(hex) >= 8 && len(hex) <= 32 &&
		strings.Trim(hex, "0123456789abcdef") == ""
}

func isHostName(s string) bool {
	return len(s) >= 1 && len(s) <= maxNameLength && onlyOf(s, "._-") &&
		isAlnum(s[0]) && isAlnum(s[len(s)-1])
}

// onlyOf reports whether s holds only ASCII letters, digits and extra.
func onlyOf(s, extra string) bool {
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) && strings.IndexByte(extra, s[i]) < 0 {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// ReadInput reads at most maxInputBytes from r.
func ReadInput(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxInputBytes+1))
	if err != nil {
		return nil, fault.Wrap(fault.InvalidRequest, err, "cannot read the input")
	}
	if len(b) > maxInputBytes {
		return nil, fault.New(fault.InvalidRequest, "input is larger than %d bytes", maxInputBytes)
	}
	return b, nil
}

// decode parses one JSON document of the given shape into v. An empty
// input decodes as {}.
func decode(input []byte, v any, shape keys) error {
	if len(bytes.TrimSpace(input)) == 0 {
		input = []byte("{}")
	}
	if err := checkKeys(input, shape); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(input))
	if err := dec.Decode(v); err != nil {
		return invalidJSON(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fault.New(fault.InvalidRequest, "input must hold exactly one JSON document")
	}
	return nil
}

func invalidJSON(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		field := typeErr.Field
		if field == "" {
			field = "(document)"
		}
		return fault.New(fault.InvalidRequest, "field %s: expected %s, got JSON %s", field, typeErr.Type, typeErr.Value).
			With("field", field)
	}
	return fault.Wrap(fault.InvalidRequest, err, "input is not valid JSON")
}

// RequestMachinesInput is what requestMachines receives.
type RequestMachinesInput struct {
	Template struct {
		TemplateID   string `json:"templateId"`
		MachineCount int    `json:"machineCount"`
	} `json:"template"`
	RCAccount string          `json:"rc_account"`
	UserData  json.RawMessage `json:"userData"`
}

// DecodeRequestMachines parses and validates requestMachines input.
func DecodeRequestMachines(input []byte) (RequestMachinesInput, error) {
	var in RequestMachinesInput
	if err := decode(input, &in, requestMachinesShape); err != nil {
		return in, err
	}
	t := in.Template
	switch {
	case t.TemplateID == "":
		return in, fault.New(fault.InvalidRequest, "template.templateId is required").With("field", "template.templateId")
	case !isTemplateID(t.TemplateID):
		return in, fault.New(fault.InvalidRequest, "template.templateId %q must be 1-64 of [A-Za-z0-9_-]", clip(t.TemplateID)).With("field", "template.templateId")
	case t.MachineCount <= 0:
		return in, fault.New(fault.InvalidRequest, "template.machineCount must be a positive integer, got %d", t.MachineCount).With("field", "template.machineCount")
	case t.MachineCount > maxMachines:
		return in, fault.New(fault.InvalidRequest, "template.machineCount %d is above the limit of %d per request", t.MachineCount, maxMachines).With("field", "template.machineCount")
	case len(in.RCAccount) > maxAccountName:
		return in, fault.New(fault.InvalidRequest, "rc_account is longer than %d characters", maxAccountName).With("field", "rc_account")
	}
	if len(in.UserData) > 0 && in.UserData[0] != '{' && string(in.UserData) != "null" {
		return in, fault.New(fault.InvalidRequest, "userData must be a JSON object").With("field", "userData")
	}
	return in, nil
}

type machinesInput struct {
	Machines []struct {
		Name       string `json:"name"`
		InstanceID string `json:"machineId"`
	} `json:"machines"`
}

// DecodeMachines parses the machine list of requestReturnMachines and
// getReturnRequests. Duplicates are dropped; required says whether an empty
// list is an error.
func DecodeMachines(input []byte, required bool) ([]store.MachineRef, error) {
	var in machinesInput
	if err := decode(input, &in, machinesShape); err != nil {
		return nil, err
	}
	if required && len(in.Machines) == 0 {
		return nil, fault.New(fault.InvalidRequest, "machines must list at least one machine").With("field", "machines")
	}
	if len(in.Machines) > maxMachines {
		return nil, fault.New(fault.InvalidRequest, "machines lists %d machines, more than the limit of %d", len(in.Machines), maxMachines).With("field", "machines")
	}
	seen := make(map[string]bool, len(in.Machines))
	out := make([]store.MachineRef, 0, len(in.Machines))
	for i, m := range in.Machines {
		field := fmt.Sprintf("machines[%d]", i)
		switch {
		case m.Name == "":
			return nil, fault.New(fault.InvalidRequest, "%s.name is required", field).With("field", field+".name")
		case !isHostName(m.Name):
			return nil, fault.New(fault.InvalidRequest, "%s.name %q is not a host name", field, clip(m.Name)).With("field", field+".name")
		case m.InstanceID != "" && !isInstanceID(m.InstanceID):
			return nil, fault.New(fault.InvalidRequest, "%s.machineId %q is not an EC2 instance id", field, clip(m.InstanceID)).With("field", field+".machineId")
		}
		key := m.InstanceID
		if key == "" {
			key = m.Name
		}
		if !seen[key] {
			seen[key] = true
			out = append(out, store.MachineRef{Name: m.Name, InstanceID: m.InstanceID})
		}
	}
	return out, nil
}

// DecodeRequestIDs parses getRequestStatus input. The vendor text draws
// "requests" as one object and real traffic sends a list: both are accepted.
func DecodeRequestIDs(input []byte) ([]string, error) {
	var in struct {
		Requests json.RawMessage `json:"requests"`
	}
	if err := decode(input, &in, requestIDsShape); err != nil {
		return nil, err
	}
	type entry struct {
		RequestID string `json:"requestId"`
	}
	var entries []entry
	raw := bytes.TrimSpace(in.Requests)
	switch {
	case len(raw) == 0 || string(raw) == "null":
	case raw[0] == '{':
		var one entry
		if err := json.Unmarshal(raw, &one); err != nil {
			return nil, invalidJSON(err)
		}
		entries = []entry{one}
	default:
		if err := json.Unmarshal(raw, &entries); err != nil {
			return nil, invalidJSON(err)
		}
	}
	if len(entries) == 0 {
		return nil, fault.New(fault.InvalidRequest, "requests must list at least one requestId").With("field", "requests")
	}
	if len(entries) > maxRequestIDs {
		return nil, fault.New(fault.InvalidRequest, "requests lists more than %d ids", maxRequestIDs).With("field", "requests")
	}
	ids := make([]string, 0, len(entries))
	seen := make(map[string]bool, len(entries))
	for i, e := range entries {
		if !isRequestID(e.RequestID) {
			return nil, fault.New(fault.InvalidRequest, "requests[%d].requestId %q is not a request id", i, clip(e.RequestID)).
				With("field", fmt.Sprintf("requests[%d].requestId", i))
		}
		if !seen[e.RequestID] {
			seen[e.RequestID] = true
			ids = append(ids, e.RequestID)
		}
	}
	return ids, nil
}

// clip keeps hostile values short in messages.
func clip(s string) string {
	const n = 80
	s = strings.ToValidUTF8(s, "?")
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
