package aws

import (
	"slices"
	"strings"
	"testing"

	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/sandbox"
)

// group is the sandbox's view of one group, and whether it exists.
func (e *testEnv) group(name string) (sandbox.Group, bool) {
	groups := e.sb.Groups()
	i := slices.IndexFunc(groups, func(g sandbox.Group) bool { return g.Name == name })
	if i < 0 {
		return sandbox.Group{}, false
	}
	return groups[i], true
}

func TestGroupReturnsWithoutReplacement(t *testing.T) {
	e := newTestEnv(t)
	spec := apiSpec("req-asg", 10, config.APIASG, "")

	pl := e.mustLaunch(t, spec)

	if !pl.Ongoing || pl.Ref != "asg:ohfp-req-asg/"+parseRef(pl.Ref).launchTemplate || parseRef(pl.Ref).launchTemplate == "" {
		t.Fatalf("placement %+v, want an ongoing group with its launch template", pl)
	}
	g, ok := e.group("ohfp-req-asg")
	if !ok || g.MinSize != 0 || g.MaxSize != 10 || g.DesiredCapacity != 10 {
		t.Fatalf("group %+v, want min 0, max and desired 10", g)
	}
	e.settle()
	if f := e.fulfilment(t, pl.Ref); f.Done || len(f.Errors) > 0 {
		t.Errorf("full group reported %+v", f)
	}
	wantTagged(t, e.alive("req-asg"), "req-asg")
	wantForm(t, e.rec.formsOf("CreateAutoScalingGroup")[0], map[string]string{
		"VPCZoneIdentifier": strings.Join(sandbox.DefaultSubnetIDs, ","),
		"MixedInstancesPolicy.LaunchTemplate.Overrides.member.1.InstanceType": "t3.micro",
		"Tags.member.1.PropagateAtLaunch":                                     "true",
	})

	e.cycle(t, pl, "req-asg", 10, 4)

	if g, ok := e.group("ohfp-req-asg"); ok {
		t.Errorf("group %+v left after Retire", g)
	}
}

func TestGroupHeterogeneous(t *testing.T) {
	e := newTestEnv(t)
	spec := apiSpec("req-asgh", 10, config.APIASG, "")
	spec.Template.PriceType = config.PriceHeterogeneous
	spec.Template.PercentOnDemand = 30
	spec.Template.AllocationStrategy = "diversified"
	twoTypes(&spec)

	e.mustLaunch(t, spec)
	e.settle()

	wantForm(t, e.rec.formsOf("CreateAutoScalingGroup")[0], map[string]string{
		"MixedInstancesPolicy.InstancesDistribution.OnDemandBaseCapacity":                "3",
		"MixedInstancesPolicy.InstancesDistribution.OnDemandPercentageAboveBaseCapacity": "0",
		"MixedInstancesPolicy.InstancesDistribution.SpotAllocationStrategy":              "lowest-price",
		"MixedInstancesPolicy.InstancesDistribution.SpotInstancePools":                   "2",
		"MixedInstancesPolicy.InstancesDistribution.OnDemandAllocationStrategy":          "prioritized",
	})

	spot := 0
	for _, in := range e.alive("req-asgh") {
		if in.Spot {
			spot++
		}
	}
	if n := len(e.alive("req-asgh")); n != 10 || spot != 7 {
		t.Errorf("%d instances, %d spot; want 10 with 7 spot", n, spot)
	}
}

func TestGroupShortIsSettledAfterTheCreationTimeout(t *testing.T) {
	e := newTestEnv(t, func(c *config.AWS) { c.CreationTimeout = 1 })
	if err := e.sb.SetCapacity("t3.micro", "", 3); err != nil {
		t.Fatal(err)
	}
	pl := e.mustLaunch(t, apiSpec("req-asgs", 10, config.APIASG, ""))
	e.settle()

	f := e.fulfilment(t, pl.Ref)

	if !f.Done || !strings.Contains(strings.Join(f.Errors, " "), "3 of 10") {
		t.Errorf("fulfilment %+v, want done, short 3 of 10", f)
	}
	if g, _ := e.group("ohfp-req-asgs"); g.DesiredCapacity != 3 || g.MaxSize != 3 {
		t.Errorf("group %+v, want it shrunk to the 3 it holds", g)
	}
}

func TestGroupWithoutRoomStopsWithItsReasons(t *testing.T) {
	e := newTestEnv(t)
	if err := e.sb.SetCapacity("t3.micro", "", 3); err != nil {
		t.Fatal(err)
	}
	pl := e.mustLaunch(t, apiSpec("req-asgr", 10, config.APIASG, ""))
	e.settle()

	f := e.fulfilment(t, pl.Ref)

	if !f.Done || !strings.Contains(strings.Join(f.Errors, " "), "InsufficientInstanceCapacity") {
		t.Errorf("fulfilment %+v, want done with the failed launches' reasons", f)
	}
	e.settle()
	if g, _ := e.group("ohfp-req-asgr"); g.DesiredCapacity != 3 || len(e.alive("req-asgr")) != 3 {
		t.Errorf("group %+v with %d instances, want it shrunk to the 3 it holds", g, len(e.alive("req-asgr")))
	}
}
