package aws

import (
	"testing"

	"github.com/ohfp/ohfp/internal/sandbox"
)

func TestRunInstancesSkipsRecentlyRefusedCapacity(t *testing.T) {
	e := newTestEnv(t)
	if err := e.sb.SetCapacity("t3.micro", "us-east-1a", 0); err != nil {
		t.Fatal(err)
	}
	spec := baseSpec("req-a", 2)
	spec.Template.SubnetIDs = sandbox.DefaultSubnetIDs
	e.mustLaunch(t, spec)
	e.wantCalls(t, "ec2:RunInstances", 2, "the first subnet refuses")

	e.sb.ResetCalls()
	next := baseSpec("req-b", 2)
	next.Template.SubnetIDs = sandbox.DefaultSubnetIDs
	e.mustLaunch(t, next)

	e.wantCalls(t, "ec2:RunInstances", 1, "the refused subnet is skipped")
	forms := e.rec.runForms()
	if got := forms[len(forms)-1]; got.Get("SubnetId") != sandbox.DefaultSubnetIDs[1] || got.Get("ClientToken") != "tok-req-b-1" {
		t.Errorf("second request went to %s with token %s; want %s, keeping the slot's token",
			got.Get("SubnetId"), got.Get("ClientToken"), sandbox.DefaultSubnetIDs[1])
	}
}

func TestRefusedEverywhereIsTriedAgain(t *testing.T) {
	e := newTestEnv(t)
	if err := e.sb.SetCapacity("t3.micro", "", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.launch(t, baseSpec("req-a", 1)); err == nil {
		t.Fatal("launch without capacity succeeded")
	}
	e.sb.ClearCapacity()

	if pl := e.mustLaunch(t, baseSpec("req-b", 1)); len(pl.Instances) != 1 {
		t.Errorf("%d instances, want 1: with every slot refused, all are tried", len(pl.Instances))
	}
}

func TestPlacementRefRoundTrip(t *testing.T) {
	for _, s := range []string{"r-1,r-2", "fleet-1/lt-2", "fleet-1/instant", "fleet-1", "sfr-1/lt-2", "asg:ohfp-req-1/lt-2", "asg:ohfp-req-1"} {
		if got := parseRef(s).String(); got != s {
			t.Errorf("parseRef(%q).String() = %q", s, got)
		}
	}
	if r := parseRef("asg:ohfp-req-1/lt-2"); r.kind != refGroup || r.id != "ohfp-req-1" || r.launchTemplate != "lt-2" {
		t.Errorf("group ref parsed as %+v", r)
	}
	if r := parseRef("r-1,r-2"); r.kind != refReservation {
		t.Errorf("reservations parsed as %+v", r)
	}
}
