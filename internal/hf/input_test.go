package hf

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ohfp/ohfp/internal/fault"
)

func TestShapes(t *testing.T) {
	cases := []struct {
		check func(string) bool
		in    string
		want  bool
	}{
		{isTemplateID, "OnDemand-Minimal_Template-VM", true},
		{isTemplateID, "", false},
		{isTemplateID, "a b", false},
		{isTemplateID, "x;rm", false},
		{isTemplateID, string(make([]byte, 65)), false},
		{isRequestID, "req-5f0c1a2b-0000-4000-8000-000000000000", true},
		{isRequestID, "ret-1", true},
		{isRequestID, "req 1", false},
		{isInstanceID, "i-0e90ecb3228822f6f", true},
		{isInstanceID, "i-0123abcd", true},
		{isInstanceID, "i-0123abc", false},
		{isInstanceID, "i-0E90ECB3228822F6F", false},
		{isInstanceID, "0e90ecb3228822f6f", false},
		{isInstanceID, "i-$(reboot)", false},
		{isHostName, "ip-10-0-57-7.ec2.internal", true},
		{isHostName, "h1", true},
		{isHostName, "-h1", false},
		{isHostName, "h1.", false},
		{isHostName, "h1`id`", false},
		{isHostName, "", false},
	}
	for _, c := range cases {
		if got := c.check(c.in); got != c.want {
			t.Errorf("%q: got %v, want %v", c.in, got, c.want)
		}
	}
}

// Input that means two things is refused, naming the field: a key given
// twice (encoding/json would keep the last) or a key of the contract in
// another case (encoding/json would match it anyway).
func TestAmbiguousKeys(t *testing.T) {
	const m = `{"name": "ip-10-0-0-1.ec2.internal", "machineId": "i-0123456789abcdef0"}`
	cases := []struct {
		name, input, field string // field "" means accepted
		decode             func([]byte) error
	}{
		{"templateId twice", `{"template": {"templateId": "a", "templateId": "b", "machineCount": 1}}`, "template.templateId", requestMachines},
		{"machineCount twice", `{"template": {"templateId": "a", "machineCount": 1, "machineCount": 900}}`, "template.machineCount", requestMachines},
		{"template twice", `{"template": {"templateId": "a", "machineCount": 1}, "template": {"templateId": "b", "machineCount": 1}}`, "template", requestMachines},
		{"TemplateId", `{"template": {"TemplateId": "a", "machineCount": 1}}`, "template.TemplateId", requestMachines},
		{"Template", `{"Template": {"templateId": "a", "machineCount": 1}}`, "Template", requestMachines},
		{"RC_ACCOUNT", `{"template": {"templateId": "a", "machineCount": 1}, "RC_ACCOUNT": "x"}`, "RC_ACCOUNT", requestMachines},
		{"userData key twice", `{"template": {"templateId": "a", "machineCount": 1}, "userData": {"k": 1, "k": 2}}`, "userData.k", requestMachines},
		{"userData keys are LSF's", `{"template": {"templateId": "a", "machineCount": 1}, "userData": {"Name": 1, "TEMPLATE": 2}}`, "", requestMachines},
		{"unknown keys pass", `{"template": {"templateId": "a", "machineCount": 1, "extra": 1}, "other": {"x": 1}}`, "", requestMachines},
		{"plain request", `{"template": {"templateId": "a", "machineCount": 1}, "rc_account": "d", "userData": {}}`, "", requestMachines},
		{"machineId twice", `{"machines": [{"name": "h1", "machineId": "i-0123456789abcdef0", "machineId": "i-0123456789abcdef1"}]}`, "machines[0].machineId", returns},
		{"MachineId", `{"machines": [` + m + `, {"name": "h2", "MachineId": "i-0123456789abcdef1"}]}`, "machines[1].MachineId", returns},
		{"NAME", `{"machines": [{"NAME": "h2"}]}`, "machines[0].NAME", returns},
		{"machines twice", `{"machines": [` + m + `], "machines": []}`, "machines", returns},
		{"plain return", `{"machines": [` + m + `]}`, "", returns},
		{"RequestId", `{"requests": [{"RequestId": "req-1"}]}`, "requests[0].RequestId", statuses},
		{"requestId twice in an object", `{"requests": {"requestId": "req-1", "requestId": "req-2"}}`, "requests.requestId", statuses},
		{"Requests", `{"Requests": [{"requestId": "req-1"}]}`, "Requests", statuses},
		{"plain status", `{"requests": [{"requestId": "req-1"}, {"requestId": "req-2"}]}`, "", statuses},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.decode([]byte(c.input))
			if c.field == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var fe *fault.Error
			if !errors.As(err, &fe) || fe.Code != fault.InvalidRequest || fe.Details["field"] != c.field {
				t.Fatalf("got %v (%#v), want INVALID_REQUEST naming %s", err, fe, c.field)
			}
		})
	}
}

func requestMachines(b []byte) error { _, err := DecodeRequestMachines(b); return err }
func returns(b []byte) error         { _, err := DecodeMachines(b, true); return err }
func statuses(b []byte) error        { _, err := DecodeRequestIDs(b); return err }

// TestGuideForms: the OHFP guides' flat inputs decode as IBM's do, with
// the same checks, and errors name the fields as the input spells them.
func TestGuideForms(t *testing.T) {
	rm, err := DecodeRequestMachines([]byte(`{"templateId": "basic-template", "maxNumber": 5, "attributes": {"priority": "high", "environment": "production"}}`))
	if err != nil || rm.TemplateID != "basic-template" || rm.Count != 5 || len(rm.Tags) != 2 || rm.Tags[0].Key != "priority" || rm.Tags[1].Value != "production" {
		t.Fatalf("flat requestMachines = %+v, %v", rm, err)
	}
	ibm, err := DecodeRequestMachines([]byte(`{"template": {"templateId": "a", "machineCount": 2}, "attributes": {"team": "x"}}`))
	if err != nil || ibm.Count != 2 || len(ibm.Tags) != 1 {
		t.Fatalf("IBM requestMachines with attributes = %+v, %v", ibm, err)
	}
	ids, err := DecodeRequestIDs([]byte(`{"requestId": "req-12345"}`))
	if err != nil || len(ids) != 1 || ids[0] != "req-12345" {
		t.Fatalf("flat getRequestStatus = %v, %v", ids, err)
	}
	refs, of, err := DecodeReturn([]byte(`{"requestId": "req-12345"}`))
	if err != nil || refs != nil || of != "req-12345" {
		t.Fatalf("flat requestReturnMachines = %v, %q, %v", refs, of, err)
	}
	refs, of, err = DecodeReturn([]byte(`{"machines": [{"name": "h1", "machineId": "i-0123456789abcdef0"}]}`))
	if err != nil || len(refs) != 1 || of != "" {
		t.Fatalf("IBM requestReturnMachines = %v, %q, %v", refs, of, err)
	}

	cases := []struct {
		name, input, field string
		decode             func([]byte) error
	}{
		{"no maxNumber", `{"templateId": "a"}`, "maxNumber", requestMachines},
		{"zero maxNumber", `{"templateId": "a", "maxNumber": 0}`, "maxNumber", requestMachines},
		{"no templateId", `{"maxNumber": 1}`, "templateId", requestMachines},
		{"bad templateId", `{"templateId": "a b", "maxNumber": 1}`, "templateId", requestMachines},
		{"both forms", `{"template": {"templateId": "a", "machineCount": 1}, "templateId": "a", "maxNumber": 1}`, "templateId", requestMachines},
		{"maxNumber twice", `{"templateId": "a", "maxNumber": 1, "maxNumber": 9}`, "maxNumber", requestMachines},
		{"attributes not an object", `{"templateId": "a", "maxNumber": 1, "attributes": ["x"]}`, "attributes", requestMachines},
		{"attribute not a string", `{"templateId": "a", "maxNumber": 1, "attributes": {"n": 1}}`, "attributes.n", requestMachines},
		{"aws: attribute", `{"templateId": "a", "maxNumber": 1, "attributes": {"aws:x": "1"}}`, "attributes.aws:x", requestMachines},
		{"ohfp: attribute", `{"templateId": "a", "maxNumber": 1, "attributes": {"OHFP:request-id": "1"}}`, "attributes.OHFP:request-id", requestMachines},
		{"attribute key twice", `{"templateId": "a", "maxNumber": 1, "attributes": {"k": "1", "k": "2"}}`, "attributes.k", requestMachines},
		{"empty attribute key", `{"templateId": "a", "maxNumber": 1, "attributes": {"": "1"}}`, "attributes.", requestMachines},
		{"long attribute value", `{"templateId": "a", "maxNumber": 1, "attributes": {"k": "` + strings.Repeat("v", 257) + `"}}`, "attributes.k", requestMachines},
		{"both status forms", `{"requests": [{"requestId": "req-1"}], "requestId": "req-2"}`, "requestId", statuses},
		{"both return forms", `{"machines": [{"name": "h1"}], "requestId": "req-2"}`, "requestId", flatReturns},
		{"bad return requestId", `{"requestId": "req 2"}`, "requestId", flatReturns},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var fe *fault.Error
			if err := c.decode([]byte(c.input)); !errors.As(err, &fe) || fe.Code != fault.InvalidRequest || fe.Details["field"] != c.field {
				t.Fatalf("got %v, want INVALID_REQUEST naming %s", err, c.field)
			}
		})
	}
	many := map[string]string{}
	for i := range 45 {
		many[fmt.Sprintf("k%d", i)] = "v"
	}
	b, _ := json.Marshal(map[string]any{"templateId": "a", "maxNumber": 1, "attributes": many})
	if _, err := DecodeRequestMachines(b); fault.CodeOf(err) != fault.InvalidRequest {
		t.Errorf("45 attributes: %v, want INVALID_REQUEST", err)
	}
}

func flatReturns(b []byte) error { _, _, err := DecodeReturn(b); return err }
