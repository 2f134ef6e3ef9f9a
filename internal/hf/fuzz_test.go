package hf

import (
	"encoding/json"
	"testing"

	"github.com/ohfp/ohfp/internal/fault"
)

// FuzzCodec feeds every operation arbitrary input: a refused input is an
// INVALID_REQUEST with exit status 2, and whatever happens next (here a
// configuration error) is answered in one JSON envelope with its own exit
// status.
func FuzzCodec(f *testing.F) {
	seeds := []string{
		`{}`, ``, `{"template": {"templateId": "T", "machineCount": 3}, "rc_account": "default", "userData": {}}`,
		`{"requests": [{"requestId": "req-1"}]}`, `{"requests": {"requestId": "req-1"}}`,
		`{"machines": [{"name": "ip-10-0-0-1.ec2.internal", "machineId": "i-0123456789abcdef0"}]}`,
		`[[[[[[[[[[]]]]]]]]]]`, `{"template": {"machineCount": 1e99}}`, `{"machines": [{"name": "a"}, {"name": "a"}]}`,
	}
	for _, s := range seeds {
		for i := range Operations {
			f.Add(i, s)
		}
	}
	f.Fuzz(func(t *testing.T, op int, input string) {
		name := Operations[(op%len(Operations)+len(Operations))%len(Operations)]
		in, err := Decode(name, []byte(input))
		if err == nil {
			if in.Op != name {
				t.Fatalf("decoded %q as %q", name, in.Op)
			}
			err = fault.New(fault.Configuration, "no provider instance in this test")
		}
		out, code := Encode(name, Result{}, err), Exit(err)
		var env struct {
			Message string `json:"message"`
			Error   struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		if err := json.Unmarshal(out, &env); err != nil {
			t.Fatalf("%s answered invalid JSON %q: %v", name, out, err)
		}
		switch {
		case code == 2 && env.Error.Code == "INVALID_REQUEST":
		case code == 1 && env.Error.Code == "CONFIGURATION_ERROR":
		default:
			t.Fatalf("%s(%q): exit %d, answer %s", name, input, code, out)
		}
	})
}
