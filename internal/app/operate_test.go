package app

import (
	"slices"
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
// expected least role of every operation, for each role: an operation
// added without a rule (refused to everyone) or with another one fails.
func TestEveryOperationHasARuleForEveryRole(t *testing.T) {
	for _, op := range hf.Operations {
		want, known := leastRole[op]
		if !known {
			t.Errorf("operation %s has no expected role in this test", op)
			continue
		}
		if _, ok := OperationActions[op]; !ok {
			t.Errorf("operation %s has no rule in OperationActions", op)
			continue
		}
		for _, role := range access.Roles {
			may := slices.Index(access.Roles, role) >= slices.Index(access.Roles, want)
			err := access.Principal{Name: "p", Role: role, Templates: []string{"*"}}.Allow(OperationActions[op])
			if (err == nil) != may {
				t.Errorf("%s as %s: allowed %v, want %v (%v)", op, role, err == nil, may, err)
			}
		}
	}
}
