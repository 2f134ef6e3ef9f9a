package aws

import (
	"testing"
	"time"

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

// The time rules of the provider at each side of their boundaries: a
// capacity refusal is remembered for noCapacityMemory, a resolved SSM
// image trusted for ssmImageTTL, and a fleet or group short of capacity
// is overdue past INSTANCE_CREATION_TIMEOUT.
func TestTimeRules(t *testing.T) {
	around := func(d time.Duration) [3]time.Duration {
		return [3]time.Duration{d - time.Nanosecond, d, d + time.Nanosecond}
	}
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	still := func() time.Time { return start }

	t.Run("capacity refusal", func(t *testing.T) {
		for i, after := range around(noCapacityMemory) {
			e := newTestEnvOn(t, sandbox.Options{Now: still})
			if err := e.sb.SetCapacity("t3.micro", "us-east-1a", 0); err != nil {
				t.Fatal(err)
			}
			spec := baseSpec("req-a", 1)
			spec.Template.SubnetIDs = sandbox.DefaultSubnetIDs
			e.mustLaunch(t, spec)
			e.sb.Advance(after)
			e.sb.ResetCalls()
			next := baseSpec("req-b", 1)
			next.Template.SubnetIDs = sandbox.DefaultSubnetIDs
			e.mustLaunch(t, next)
			want, why := int64(1), "the refused subnet is still skipped"
			if i > 0 {
				want, why = 2, "the refusal is forgotten: the first subnet is tried again"
			}
			e.wantCalls(t, "ec2:RunInstances", want, after.String()+" later, "+why)
		}
	})

	t.Run("ssm image", func(t *testing.T) {
		for i, after := range around(ssmImageTTL) {
			e := newTestEnvOn(t, sandbox.Options{Now: still})
			spec := baseSpec("req-a", 1)
			spec.Template.ImageID, spec.Template.VMType = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64", "t4g.micro"
			e.mustLaunch(t, spec)
			e.sb.Advance(after)
			spec.RequestID, spec.ClientToken = "req-b", "tok-req-b"
			e.mustLaunch(t, spec)
			want, why := int64(1), "the cached image is still trusted"
			if i > 0 {
				want, why = 2, "the cached image is asked again"
			}
			e.wantCalls(t, "ssm:GetParameter", want, after.String()+" later, "+why)
		}
	})

	t.Run("overdue", func(t *testing.T) {
		const timeout = 10 * time.Minute
		created := start
		p := &Provider{creationTimeout: timeout}
		for i, after := range around(timeout) {
			p.now = func() time.Time { return created.Add(after) }
			if got := p.overdue(&created); got != (i == 2) {
				t.Errorf("%s after creation: overdue %v", after, got)
			}
		}
		p.now = func() time.Time { return created.Add(24 * time.Hour) }
		if p.overdue(nil) {
			t.Error("overdue without a creation time")
		}
		if p.creationTimeout = 0; p.overdue(&created) {
			t.Error("overdue without a creation timeout")
		}
	})
}
