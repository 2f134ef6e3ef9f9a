package aws

import (
	"fmt"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/ohfp/ohfp/internal/config"
)

// The inputs the provider builds follow AWS's rules for them
// (docs/aws-rules.md), whatever the template.

func testShape(types ...string) fleetShape {
	s := fleetShape{onDemand: 2, rank: map[string]int{}}
	for i, it := range types {
		s.slots = append(s.slots, slot{it, "subnet-0a1b2c3d4e5f60001"})
		s.rank[it] = i
	}
	return s
}

var testLT = &types.LaunchTemplateSpecification{LaunchTemplateId: awssdk.String("lt-0a1b2c3d4e5f60001"), Version: awssdk.String("1")}

func TestExcessCapacityPolicyOnlyForMaintainFleets(t *testing.T) {
	for _, fleet := range []string{config.FleetInstant, config.FleetRequest, config.FleetMaintain} {
		spec := apiSpec("req-x", 2, config.APIEC2Fleet, fleet)
		ls := &launchSpec{tags: launchTags(spec)}
		in := ls.createFleetInput(spec, testShape("t3.micro"), testLT, fleet == config.FleetInstant)
		if got, want := in.ExcessCapacityTerminationPolicy != "", fleet == config.FleetMaintain; got != want {
			t.Errorf("EC2 Fleet %s: ExcessCapacityTerminationPolicy %q", fleet, in.ExcessCapacityTerminationPolicy)
		}
		if fleet == config.FleetInstant {
			continue
		}
		sf := apiSpec("req-x", 2, config.APISpotFleet, fleet)
		c := spotFleetConfig(sf, ls, testShape("t3.micro"), testLT)
		if got, want := c.ExcessCapacityTerminationPolicy != "", fleet == config.FleetMaintain; got != want {
			t.Errorf("Spot Fleet %s: ExcessCapacityTerminationPolicy %q", fleet, c.ExcessCapacityTerminationPolicy)
		}
	}
}

func TestGroupSpotPools(t *testing.T) {
	many := make([]string, 25)
	for i := range many {
		many[i] = fmt.Sprintf("m%d.large", i)
	}
	for _, tc := range []struct {
		name     string
		strategy string
		pools    int
		types    []string
		want     int32 // 0: not set
	}{
		{"diversified spreads over the types", "diversified", 0, many[:3], 3},
		{"diversified stays within 20", "diversified", 0, many, config.MaxGroupSpotPools},
		{"lowestPrice takes poolsCount", "lowestPrice", 5, many[:3], 5},
		{"other strategies take none", "capacityOptimized", 5, many[:3], 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := apiSpec("req-x", 4, config.APIASG, "")
			spec.Template.PriceType = config.PriceSpot
			spec.Template.AllocationStrategy = tc.strategy
			spec.Template.PoolsCount = tc.pools
			shape := testShape(tc.types...)
			shape.onDemand, shape.spot = 0, 4
			in := createGroupInput(spec, "ohfp-req-x", &launchSpec{tags: launchTags(spec)}, shape, testLT)
			got := awssdk.ToInt32(in.MixedInstancesPolicy.InstancesDistribution.SpotInstancePools)
			if got != tc.want {
				t.Errorf("SpotInstancePools %d, want %d", got, tc.want)
			}
			if got > 0 && awssdk.ToString(in.MixedInstancesPolicy.InstancesDistribution.SpotAllocationStrategy) != "lowest-price" {
				t.Errorf("SpotInstancePools with strategy %s", awssdk.ToString(in.MixedInstancesPolicy.InstancesDistribution.SpotAllocationStrategy))
			}
		})
	}
}

func TestLaunchTagsStayWithinEC2sLimit(t *testing.T) {
	spec := baseSpec("req-x", 1)
	for i := range config.MaxInstanceTags {
		spec.Template.InstanceTags = append(spec.Template.InstanceTags, config.Tag{Key: fmt.Sprintf("k%d", i), Value: "v"})
	}
	if n := len(launchTags(spec)); n > 50 {
		t.Errorf("%d tags on each instance; EC2 takes 50 per resource", n)
	}
}
