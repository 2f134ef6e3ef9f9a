package hf

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/ohfp/ohfp/internal/fault"
)

// FuzzRun feeds every operation arbitrary input: the answer is always one
// JSON envelope, and the exit status is 2 for a bad input or, once the input
// is accepted, whatever the service's error says (here a configuration error).
func FuzzRun(f *testing.F) {
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
	refuse := func(context.Context) (Service, error) {
		return nil, fault.New(fault.Configuration, "no service in this test")
	}
	log := slog.New(slog.DiscardHandler)
	f.Fuzz(func(t *testing.T, op int, input string) {
		name := Operations[(op%len(Operations)+len(Operations))%len(Operations)]
		out, code := Run(context.Background(), log, name, []byte(input), refuse)
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
		case code == 2 && (env.Error.Code == "INVALID_REQUEST"):
		case code == 1 && env.Error.Code == "CONFIGURATION_ERROR":
		default:
			t.Fatalf("%s(%q): exit %d, answer %s", name, input, code, out)
		}
	})
}
