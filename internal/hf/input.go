package hf

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ohfp/ohfp/internal/broker"
	"github.com/ohfp/ohfp/internal/config"
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

// requestMachinesInput is what requestMachines receives: IBM's form
// ({"template": {"templateId", "machineCount"}}, with LSF's rc_account and
// userData), or the OHFP guides' flat form ({"templateId", "maxNumber"},
// where maxNumber is the count wanted). Either may carry the guides'
// request attributes, which become instance tags.
type requestMachinesInput struct {
	Template *struct {
		TemplateID   string `json:"templateId"`
		MachineCount int    `json:"machineCount"`
	} `json:"template"`
	TemplateID *string         `json:"templateId"`
	MaxNumber  *int            `json:"maxNumber"`
	Attributes json.RawMessage `json:"attributes"`
	RCAccount  string          `json:"rc_account"`
	UserData   json.RawMessage `json:"userData"`
}

// DecodeRequestMachines parses and validates requestMachines input, in
// either form; errors name the fields as the input spells them.
func DecodeRequestMachines(input []byte) (broker.MachineRequest, error) {
	var in requestMachinesInput
	var out broker.MachineRequest
	if err := decode(input, &in, requestMachinesShape); err != nil {
		return out, err
	}
	idField, countField := "template.templateId", "template.machineCount"
	switch flat := in.TemplateID != nil || in.MaxNumber != nil; {
	case flat && in.Template != nil:
		return out, fault.New(fault.InvalidRequest, "give template {templateId, machineCount} (IBM's form) or templateId and maxNumber (the OHFP guides' form), not both").With("field", "templateId")
	case flat:
		idField, countField = "templateId", "maxNumber"
		if in.TemplateID != nil {
			out.TemplateID = *in.TemplateID
		}
		if in.MaxNumber == nil {
			return out, fault.New(fault.InvalidRequest, "maxNumber, the number of machines wanted, is required").With("field", countField)
		}
		out.Count = *in.MaxNumber
	case in.Template != nil:
		out.TemplateID, out.Count = in.Template.TemplateID, in.Template.MachineCount
	}
	switch {
	case out.TemplateID == "":
		return out, fault.New(fault.InvalidRequest, "%s is required", idField).With("field", idField)
	case !isTemplateID(out.TemplateID):
		return out, fault.New(fault.InvalidRequest, "%s %q must be 1-64 of [A-Za-z0-9_-]", idField, clip(out.TemplateID)).With("field", idField)
	case out.Count <= 0:
		return out, fault.New(fault.InvalidRequest, "%s must be a positive integer, got %d", countField, out.Count).With("field", countField)
	case out.Count > maxMachines:
		return out, fault.New(fault.InvalidRequest, "%s %d is above the limit of %d per request", countField, out.Count, maxMachines).With("field", countField)
	case len(in.RCAccount) > maxAccountName:
		return out, fault.New(fault.InvalidRequest, "rc_account is longer than %d characters", maxAccountName).With("field", "rc_account")
	}
	if len(in.UserData) > 0 && in.UserData[0] != '{' && string(in.UserData) != "null" {
		return out, fault.New(fault.InvalidRequest, "userData must be a JSON object").With("field", "userData")
	}
	tags, err := decodeAttributes(in.Attributes)
	if err != nil {
		return out, err
	}
	out.RCAccount, out.UserData, out.Tags = in.RCAccount, in.UserData, tags
	return out, nil
}

// ownPrefix starts the keys of ohfp's own tags (cloud.TagRequestID...).
const ownPrefix = "ohfp:"

// decodeAttributes reads the request attributes ({"priority": "high"}) as
// instance tags, in their order, under AWS's rules (config.CheckTag), and
// outside ohfp's own namespace.
func decodeAttributes(raw json.RawMessage) ([]config.Tag, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	notObject := fault.New(fault.InvalidRequest, `attributes must be an object of strings, such as {"priority": "high"}`).With("field", "attributes")
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, notObject
	}
	var tags []config.Tag
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, notObject
		}
		key, _ := tok.(string)
		field := "attributes." + clip(key)
		var value string
		if err := dec.Decode(&value); err != nil {
			return nil, fault.New(fault.InvalidRequest, "%s must be a string", field).With("field", field)
		}
		tag := config.Tag{Key: key, Value: value}
		if err := config.CheckTag(tag); err != nil {
			return nil, fault.Wrap(fault.InvalidRequest, err, "%s", field).With("field", field)
		}
		if strings.HasPrefix(strings.ToLower(key), ownPrefix) {
			// A request must not pose as ohfp's own tags, which recovery
			// and ownership rely on.
			return nil, fault.New(fault.InvalidRequest, "%s: keys starting with %s are ohfp's own", field, ownPrefix).With("field", field)
		}
		tags = append(tags, tag)
	}
	if len(tags) > config.MaxInstanceTags {
		return nil, fault.New(fault.InvalidRequest, "attributes gives %d tags, more than the %d an instance may take beside ohfp's own", len(tags), config.MaxInstanceTags).With("field", "attributes")
	}
	return tags, nil
}

// hostEntry is one machine of a machine list.
type hostEntry struct {
	Name       string `json:"name"`
	InstanceID string `json:"machineId"`
}

type machinesInput struct {
	Machines []hostEntry `json:"machines"`
	// RequestID is the OHFP guides' form of requestReturnMachines: every
	// live machine of that request.
	RequestID *string `json:"requestId"`
}

// DecodeReturn parses requestReturnMachines input: IBM's machine list, or
// the OHFP guides' {"requestId": ...}, which returns every live machine of
// that create request (requestID set, refs nil).
func DecodeReturn(input []byte) (refs []store.MachineRef, requestID string, err error) {
	var in machinesInput
	if err := decode(input, &in, returnShape); err != nil {
		return nil, "", err
	}
	if in.RequestID == nil {
		refs, err = checkMachines(in.Machines, true)
		return refs, "", err
	}
	if len(in.Machines) > 0 {
		return nil, "", fault.New(fault.InvalidRequest, "give machines (IBM's form) or requestId (the OHFP guides' form: every live machine of that request), not both").With("field", "requestId")
	}
	if !isRequestID(*in.RequestID) {
		return nil, "", fault.New(fault.InvalidRequest, "requestId %q is not a request id", clip(*in.RequestID)).With("field", "requestId")
	}
	return nil, *in.RequestID, nil
}

// DecodeMachines parses the machine list of getReturnRequests (and of
// requestReturnMachines in IBM's form). Duplicates are dropped; required
// says whether an empty list is an error.
func DecodeMachines(input []byte, required bool) ([]store.MachineRef, error) {
	var in machinesInput
	if err := decode(input, &in, machinesShape); err != nil {
		return nil, err
	}
	return checkMachines(in.Machines, required)
}

func checkMachines(machines []hostEntry, required bool) ([]store.MachineRef, error) {
	if required && len(machines) == 0 {
		return nil, fault.New(fault.InvalidRequest, "machines must list at least one machine").With("field", "machines")
	}
	if len(machines) > maxMachines {
		return nil, fault.New(fault.InvalidRequest, "machines lists %d machines, more than the limit of %d", len(machines), maxMachines).With("field", "machines")
	}
	seen := make(map[string]bool, len(machines))
	out := make([]store.MachineRef, 0, len(machines))
	for i, m := range machines {
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
// "requests" as one object and real traffic sends a list: both are
// accepted, and so is the OHFP guides' {"requestId": ...}.
func DecodeRequestIDs(input []byte) ([]string, error) {
	var in struct {
		Requests  json.RawMessage `json:"requests"`
		RequestID *string         `json:"requestId"` // the OHFP guides' form
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
	case in.RequestID != nil && len(raw) > 0:
		return nil, fault.New(fault.InvalidRequest, "give requests (IBM's form) or requestId (the OHFP guides' form), not both").With("field", "requestId")
	case in.RequestID != nil:
		entries = []entry{{RequestID: *in.RequestID}}
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
