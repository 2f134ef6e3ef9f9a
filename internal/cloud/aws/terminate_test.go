package aws

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/fault"
	"github.com/ohfp/ohfp/internal/sandbox"
)

func TestTerminateSkipsUnknownIDs(t *testing.T) {
	e := newTestEnv(t)
	pl := e.mustLaunch(t, baseSpec("req-term", 3))
	a, b, keep := pl.Instances[0].ID, pl.Instances[1].ID, pl.Instances[2].ID

	err := e.p.Terminate(t.Context(), []string{a, "i-0000000000000dead", b, "i-0000000000000beef"})
	if err != nil {
		t.Fatalf("Terminate: %v", err)
	}
	e.wantCalls(t, "ec2:TerminateInstances", 2, "one refused naming the unknown ids")
	got, err := e.p.Instances(t.Context(), cloud.Query{RequestIDs: []string{"req-term"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range got {
		wantState := sandbox.StateTerminated
		if in.ID == keep {
			wantState = sandbox.StateRunning
		}
		if string(in.State) != wantState {
			t.Errorf("%s is %s, want %s", in.ID, in.State, wantState)
		}
		if in.ID != keep && !strings.Contains(in.StateReason, "User initiated") {
			t.Errorf("%s state reason %q", in.ID, in.StateReason)
		}
	}

	if err := e.p.Terminate(t.Context(), []string{a}); err != nil {
		t.Errorf("terminating a terminated instance: %v", err)
	}
}

func TestTerminateChunks(t *testing.T) {
	e := newTestEnv(t)
	gone := make([]string, 1500)
	for i := range gone {
		gone[i] = fmt.Sprintf("i-%017x", i+1)
	}
	if err := e.p.Terminate(t.Context(), gone); err != nil {
		t.Fatalf("Terminate of ids EC2 no longer knows: %v", err)
	}
	e.wantCalls(t, "ec2:TerminateInstances", 2, "one per 1,000 ids")
}

func TestTerminateFailure(t *testing.T) {
	e := newTestEnv(t)
	pl := e.mustLaunch(t, baseSpec("req-term-denied", 1))
	e.fault(t, sandbox.Fault{Action: "ec2:TerminateInstances", Code: "UnauthorizedOperation"})

	err := e.p.Terminate(t.Context(), ids(pl.Instances))

	if fault.CodeOf(err) != fault.Cloud || !strings.Contains(err.Error(), "UnauthorizedOperation") {
		t.Errorf("err = %v, want a %s naming UnauthorizedOperation", err, fault.Cloud)
	}
}

func TestTerminateNarrowsWhenEC2NamesNoID(t *testing.T) {
	e := newTestEnv(t)
	pl := e.mustLaunch(t, baseSpec("req-term-each", 3))
	e.fault(t, sandbox.Fault{Action: "ec2:TerminateInstances", Code: "InvalidInstanceID.NotFound",
		Message: "An instance ID does not exist", Count: 1})

	if err := e.p.Terminate(t.Context(), ids(pl.Instances)); err != nil {
		t.Fatalf("Terminate: %v", err)
	}
	e.wantCalls(t, "ec2:TerminateInstances", 3, "one refused naming no id, then one per half")
	for _, in := range e.sb.Instances() {
		if in.State != sandbox.StateTerminated {
			t.Errorf("%s is %s, want terminated", in.ID, in.State)
		}
	}
}

func TestTerminateAroundAProtectedInstance(t *testing.T) {
	e := newTestEnv(t)
	spec := baseSpec("req-prot", 6)
	spec.Template.SubnetIDs = sandbox.DefaultSubnetIDs
	pl := e.mustLaunch(t, spec)
	protected := pl.Instances[2].ID
	if err := e.sb.Protect(protected); err != nil {
		t.Fatal(err)
	}

	err := e.p.Terminate(t.Context(), ids(pl.Instances))

	if fault.CodeOf(err) != fault.Cloud || !strings.Contains(err.Error(), "OperationNotPermitted") || !strings.Contains(err.Error(), protected) {
		t.Fatalf("err = %v, want OperationNotPermitted naming %s", err, protected)
	}
	for _, in := range e.sb.Instances() {
		if want := in.ID != protected; (in.State == sandbox.StateTerminated) != want {
			t.Errorf("%s is %s", in.ID, in.State)
		}
	}
}
