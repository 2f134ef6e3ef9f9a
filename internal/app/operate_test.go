package app

import (
	"testing"

	"github.com/ohfp/ohfp/internal/access"
	"github.com/ohfp/ohfp/internal/hf"
)

// leastRole is, for each of HostFactory's five operations, the weakest
// role that may call it, through the scripts or `ohfp hf`.
var leastRole = map[string]access.Role{
	hf.OpGetAvailableTemplates: access.Viewer,
	hf.OpRequestMachines:       access.Operator,
	hf.OpGetRequestStatus:      access.Operator,
	hf.OpRequestReturnMachines: access.Operator,
	hf.OpGetReturnRequests:     access.Operator,
}

// TestEveryOperationHasARuleForEveryRole holds OperationActions to the
// expected least role of every operation (access.Allow grants an action
// to the roles from its Needs up, TestAllow): an operation added without
// a rule (refused to everyone) or with another one fails.
func TestEveryOperationHasARuleForEveryRole(t *testing.T) {
	for _, op := range hf.Operations {
		want, known := leastRole[op]
		if !known {
			t.Errorf("operation %s has no expected role in this test", op)
			continue
		}
		if got := OperationActions[op].Needs(); got != want {
			t.Errorf("operation %s needs role %q, want %s", op, got, want)
		}
	}
}
