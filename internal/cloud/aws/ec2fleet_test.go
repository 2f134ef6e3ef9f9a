package aws

import (
	"slices"
	"strings"
	"testing"

	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/fault"
	"github.com/ohfp/ohfp/internal/sandbox"
)

func TestEC2FleetInstantHeterogeneous(t *testing.T) {
	e := newTestEnv(t)
	spec := apiSpec("req-het", 10, config.APIEC2Fleet, config.FleetInstant)
	spec.Template.PriceType = config.PriceHeterogeneous
	spec.Template.PercentOnDemand = 30
	spec.Template.AllocationStrategy = "capacityOptimized"
	spec.Template.PoolsCount = 3 // only for lowestPrice
	spec.Template.MaxSpotPrice = "0.05"

	pl := e.mustLaunch(t, spec)

	if len(pl.Instances) != 10 || pl.Ongoing || !strings.HasSuffix(pl.Ref, "/instant") {
		t.Fatalf("placement %s: %d instances, ongoing %v; want 10 from an instant fleet", pl.Ref, len(pl.Instances), pl.Ongoing)
	}
	spot := 0
	for _, in := range e.alive("req-het") {
		if in.Spot {
			spot++
		}
	}
	if spot != 7 {
		t.Errorf("%d spot instances, want 7 (and 3 on-demand)", spot)
	}
	wantTagged(t, e.alive("req-het"), "req-het")
	if lts := e.launchTemplates(t); len(lts) != 0 {
		t.Errorf("an instant fleet left launch templates %v", lts)
	}
	f := e.rec.formsOf("CreateFleet")[0]
	wantForm(t, f, map[string]string{
		"Type":        "instant",
		"ClientToken": "tok-req-het",
		"TargetCapacitySpecification.TotalTargetCapacity":      "10",
		"TargetCapacitySpecification.OnDemandTargetCapacity":   "3",
		"TargetCapacitySpecification.SpotTargetCapacity":       "7",
		"SpotOptions.AllocationStrategy":                       "capacity-optimized",
		"LaunchTemplateConfigs.1.Overrides.3.SubnetId":         sandbox.DefaultSubnetIDs[2],
		"LaunchTemplateConfigs.1.Overrides.3.WeightedCapacity": "1",
		"LaunchTemplateConfigs.1.Overrides.1.MaxPrice":         "0.05",
	})
}

func TestEC2FleetInstantFallsBackAndRemembers(t *testing.T) {
	e := newTestEnv(t)
	if err := e.sb.SetCapacity("t3.micro", "", 0); err != nil {
		t.Fatal(err)
	}
	spec := apiSpec("req-fb", 4, config.APIEC2Fleet, config.FleetInstant)
	twoTypes(&spec)

	pl := e.mustLaunch(t, spec)

	if len(pl.Instances) != 4 || pl.Ongoing {
		t.Fatalf("%d instances, ongoing %v; want 4", len(pl.Instances), pl.Ongoing)
	}
	for _, in := range pl.Instances {
		if in.InstanceType != "t3.small" {
			t.Errorf("instance %s is a %s, want t3.small", in.ID, in.InstanceType)
		}
	}
	if f := e.rec.formsOf("CreateFleet")[0]; f.Get("LaunchTemplateConfigs.1.Overrides.6.InstanceType") != "t3.small" ||
		f.Get("LaunchTemplateConfigs.1.Overrides.1.Priority") != "0" || f.Get("LaunchTemplateConfigs.1.Overrides.4.Priority") != "1" {
		t.Errorf("first fleet overrides: %v", f)
	}

	// The next request skips the refused type without asking.
	next := apiSpec("req-fb2", 2, config.APIEC2Fleet, config.FleetInstant)
	twoTypes(&next)
	e.mustLaunch(t, next)
	f := e.rec.formsOf("CreateFleet")[1]
	if f.Get("LaunchTemplateConfigs.1.Overrides.1.InstanceType") != "t3.small" || f.Has("LaunchTemplateConfigs.1.Overrides.4.InstanceType") {
		t.Errorf("second fleet still asks for t3.micro: %v", f)
	}
}

func TestEC2FleetWithoutCapacityLeavesNothing(t *testing.T) {
	e := newTestEnv(t)
	if err := e.sb.SetCapacity("t3.micro", "", 0); err != nil {
		t.Fatal(err)
	}
	_, err := e.launch(t, apiSpec("req-none", 3, config.APIEC2Fleet, config.FleetInstant))

	if fault.CodeOf(err) != fault.ProvisioningFailed || !strings.Contains(err.Error(), "InsufficientInstanceCapacity") {
		t.Fatalf("err = %v, want %s with the AWS reason", err, fault.ProvisioningFailed)
	}
	for _, f := range e.sb.Fleets() {
		if !strings.HasPrefix(f.State, "deleted") {
			t.Errorf("fleet %s left %s", f.ID, f.State)
		}
	}
	if lts := e.launchTemplates(t); len(lts) != 0 {
		t.Errorf("launch templates left: %v", lts)
	}
	if n := len(e.alive("req-none")); n != 0 {
		t.Errorf("%d instances left", n)
	}
}

func TestEC2FleetInstantShortIsFollowedOnce(t *testing.T) {
	e := newTestEnv(t)
	if err := e.sb.SetCapacity("t3.micro", "", 3); err != nil {
		t.Fatal(err)
	}
	pl := e.mustLaunch(t, apiSpec("req-short", 5, config.APIEC2Fleet, config.FleetInstant))

	if len(pl.Instances) != 3 || !pl.Ongoing {
		t.Fatalf("%d instances, ongoing %v; want 3 and followed", len(pl.Instances), pl.Ongoing)
	}
	f := e.fulfilment(t, pl.Ref)
	if !f.Done || len(f.Errors) == 0 || !strings.Contains(f.Errors[0], "InsufficientInstanceCapacity") {
		t.Errorf("fulfilment %+v, want done with the capacity error", f)
	}
}

func TestEC2FleetMaintainReturnsWithoutReplacement(t *testing.T) {
	e := newTestEnv(t)
	spec := apiSpec("req-maint", 10, config.APIEC2Fleet, config.FleetMaintain)

	pl := e.mustLaunch(t, spec)

	if !pl.Ongoing || len(pl.Instances) != 0 || !strings.HasPrefix(pl.Ref, "fleet-") || !strings.Contains(pl.Ref, "/lt-") {
		t.Fatalf("placement %+v, want an ongoing fleet with its launch template", pl)
	}
	if lts := e.launchTemplates(t); !slices.Equal(lts, []string{"ohfp-req-maint"}) {
		t.Errorf("launch templates %v, want the request's", lts)
	}
	e.settle()
	if f := e.fulfilment(t, pl.Ref); f.Done || len(f.Errors) > 0 {
		t.Errorf("fulfilled fleet reported %+v: the broker counts what it finds", f)
	}
	wantTagged(t, e.alive("req-maint"), "req-maint")
	fleetID := parseRef(pl.Ref).id

	e.cycle(t, pl, "req-maint", 10, 4)

	if f := e.fleet(t, fleetID); !strings.HasPrefix(f.State, "deleted") {
		t.Errorf("fleet %s is %s after Retire", fleetID, f.State)
	}
	if n := len(e.rec.formsOf("ModifyFleet")); n != 2 {
		t.Errorf("%d ModifyFleet calls, want one per release", n)
	}
}

func TestEC2FleetRequestShortIsDoneWithReasons(t *testing.T) {
	e := newTestEnv(t)
	if err := e.sb.SetCapacity("t3.micro", "", 4); err != nil {
		t.Fatal(err)
	}
	pl := e.mustLaunch(t, apiSpec("req-req", 10, config.APIEC2Fleet, config.FleetRequest))
	e.settle()

	f := e.fulfilment(t, pl.Ref)

	if !f.Done || len(f.Errors) == 0 || !strings.Contains(strings.Join(f.Errors, " "), "InsufficientInstanceCapacity") {
		t.Errorf("fulfilment %+v, want done with the capacity error", f)
	}
	if n := len(e.alive("req-req")); n != 4 {
		t.Errorf("%d instances, want the 4 there was room for", n)
	}
}

func TestEC2FleetMaintainShortIsSettled(t *testing.T) {
	e := newTestEnv(t)
	if err := e.sb.SetCapacity("t3.micro", "", 4); err != nil {
		t.Fatal(err)
	}
	pl := e.mustLaunch(t, apiSpec("req-ms", 10, config.APIEC2Fleet, config.FleetMaintain))
	e.settle()

	f := e.fulfilment(t, pl.Ref)

	if !f.Done || !strings.Contains(strings.Join(f.Errors, " "), "InsufficientInstanceCapacity") {
		t.Errorf("fulfilment %+v, want done with the capacity error", f)
	}
	if got := e.fleet(t, parseRef(pl.Ref).id).TargetCapacity; got != 4 {
		t.Errorf("fleet target %d, want it lowered to the 4 it holds", got)
	}
}

func TestEC2FleetRefusedForQuotaIsQuotaExceeded(t *testing.T) {
	e := newTestEnv(t)
	e.fault(t, sandbox.Fault{Action: "ec2:CreateFleet", Code: "InstanceLimitExceeded"})

	_, err := e.launch(t, apiSpec("req-quota", 2, config.APIEC2Fleet, config.FleetInstant))

	if fault.CodeOf(err) != fault.QuotaExceeded {
		t.Errorf("err = %v, want %s", err, fault.QuotaExceeded)
	}
	if lts := e.launchTemplates(t); len(lts) != 0 {
		t.Errorf("launch templates left after a refused CreateFleet: %v", lts)
	}
}

func TestFleetWithTwoSubnetsOfOneZone(t *testing.T) {
	for _, denied := range []bool{false, true} {
		t.Run(map[bool]string{false: "refused before launching", true: "refused by AWS, with the rule"}[denied], func(t *testing.T) {
			e := newTestEnv(t)
			second := "subnet-0sandbox0000000d"
			if err := e.sb.RegisterSubnet(sandbox.Subnet{ID: second, Zone: "us-east-1a", CIDR: "10.1.0.0/16", VPCID: "vpc-0sandbox00000001"}); err != nil {
				t.Fatal(err)
			}
			if denied {
				e.fault(t, sandbox.Fault{Action: "ec2:DescribeSubnets", Code: "UnauthorizedOperation"})
			}
			for _, api := range []string{config.APIEC2Fleet, config.APISpotFleet} {
				spec := apiSpec("req-zone-"+api, 2, api, "")
				spec.Template.FleetType = spec.Template.Fleet()
				spec.Template.SubnetIDs = []string{sandbox.DefaultSubnetIDs[0], sandbox.DefaultSubnetIDs[1], second}

				_, err := e.launch(t, spec)

				want := fault.Configuration
				if denied {
					want = fault.Cloud
				}
				if fault.CodeOf(err) != want || !strings.Contains(err.Error(), "us-east-1a") && !strings.Contains(err.Error(), "one subnet per zone") {
					t.Errorf("%s: err = %v, want a %s naming the rule", api, err, want)
				}
			}
			if lts := e.launchTemplates(t); len(lts) != 0 {
				t.Errorf("launch templates left: %v", lts)
			}
			if n := len(e.sb.Instances()); n != 0 {
				t.Errorf("%d instances launched", n)
			}
		})
	}
}
