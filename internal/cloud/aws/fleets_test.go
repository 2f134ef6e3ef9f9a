package aws

import (
	"slices"
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/config"
)

// fleetsKnown answers DescribeFleets as EC2 does: the whole call is
// refused when one id is unknown, naming the unknown ones.
func fleetsKnown(fleets ...types.FleetData) func([]string) (*ec2.DescribeFleetsOutput, error) {
	return func(ids []string) (*ec2.DescribeFleetsOutput, error) {
		var out ec2.DescribeFleetsOutput
		var unknown []string
		for _, id := range ids {
			i := slices.IndexFunc(fleets, func(fd types.FleetData) bool { return awssdk.ToString(fd.FleetId) == id })
			if i < 0 {
				unknown = append(unknown, id)
				continue
			}
			out.Fleets = append(out.Fleets, fleets[i])
		}
		if len(unknown) > 0 {
			return nil, apiErr(codeFleetNotFound, "The fleet ID '%s' does not exist", strings.Join(unknown, ", "))
		}
		return &out, nil
	}
}

// fleet is an active, fulfilled fleet of typ with target capacity n.
func fleet(id string, typ types.FleetType, n int32) types.FleetData {
	return types.FleetData{
		FleetId: awssdk.String(id), Type: typ, FleetState: types.FleetStateCodeActive,
		ActivityStatus:              types.FleetActivityStatusFulfilled,
		FulfilledCapacity:           awssdk.Float64(float64(n)),
		TargetCapacitySpecification: &types.TargetCapacitySpecification{TotalTargetCapacity: awssdk.Int32(n)},
	}
}

func TestFulfilmentDropsFleetsEC2NoLongerKnows(t *testing.T) {
	fe := &fakeEC2{describeFleets: fleetsKnown(fleet("fleet-a", types.FleetTypeMaintain, 2), fleet("fleet-c", types.FleetTypeRequest, 3))}
	p := fakeProvider(t, fe, nil)

	got, err := p.Fulfilment(t.Context(), []string{"fleet-a/lt-1", "fleet-b/lt-2", "fleet-c/lt-3"})

	if err != nil {
		t.Fatalf("Fulfilment: %v", err)
	}
	if f := got["fleet-b/lt-2"]; !f.Done || len(f.Errors) != 1 || !strings.Contains(f.Errors[0], "no longer exists") {
		t.Errorf("the unknown fleet: %+v", f)
	}
	for _, ref := range []string{"fleet-a/lt-1", "fleet-c/lt-3"} {
		if f, ok := got[ref]; !ok || f.Done || len(f.Errors) > 0 {
			t.Errorf("%s: %+v (%v), want followed and not done", ref, f, ok)
		}
	}
	if calls := fe.callsOf("DescribeFleets"); len(calls) != 2 || len(calls[1]) != 2 {
		t.Errorf("DescribeFleets calls %v, want the three, then the two known", calls)
	}
}

func TestReleaseModifiesOnlyMaintainFleets(t *testing.T) {
	for _, typ := range []types.FleetType{types.FleetTypeRequest, types.FleetTypeMaintain} {
		t.Run(string(typ), func(t *testing.T) {
			fd := fleet("fleet-a", typ, 2)
			fd.ActivityStatus = types.FleetActivityStatusPendingFulfillment // short, still trying
			fe := &fakeEC2{describeFleets: fleetsKnown(fd), modifyFleet: func(*ec2.ModifyFleetInput) (*ec2.ModifyFleetOutput, error) {
				return &ec2.ModifyFleetOutput{}, nil
			}}
			fe.fleetInstances = []string{"i-1", "i-2"}
			p := fakeProvider(t, fe, nil)

			if err := p.Release(t.Context(), "fleet-a/lt-1", []string{"i-1"}); err != nil {
				t.Fatalf("Release: %v", err)
			}
			if got, want := len(fe.callsOf("ModifyFleet")), map[types.FleetType]int{types.FleetTypeMaintain: 1}[typ]; got != want {
				t.Errorf("%d ModifyFleet calls, want %d: AWS modifies maintain fleets only", got, want)
			}
		})
	}
}

func TestRetireRequestDeletesFleetsAsEC2Allows(t *testing.T) {
	instant, instantAlive, maintain := fleet("fleet-i", types.FleetTypeInstant, 1), fleet("fleet-j", types.FleetTypeInstant, 1), fleet("fleet-m", types.FleetTypeMaintain, 1)
	tagged := func(id, fleetID string, state types.InstanceStateName) types.Instance {
		return types.Instance{InstanceId: awssdk.String(id), State: &types.InstanceState{Name: state},
			Tags: []types.Tag{{Key: awssdk.String(tagEC2Fleet), Value: awssdk.String(fleetID)}}}
	}
	deleted := map[string]bool{} // fleet id -> TerminateInstances
	fe := &fakeEC2{
		describeInstances: func(*ec2.DescribeInstancesInput) (*ec2.DescribeInstancesOutput, error) {
			return &ec2.DescribeInstancesOutput{Reservations: []types.Reservation{{Instances: []types.Instance{
				tagged("i-1", "fleet-i", types.InstanceStateNameShuttingDown),
				tagged("i-2", "fleet-j", types.InstanceStateNameRunning),
				tagged("i-3", "fleet-m", types.InstanceStateNameTerminated),
				tagged("i-4", "fleet-gone", types.InstanceStateNameTerminated),
			}}}}, nil
		},
		describeFleets: fleetsKnown(instant, instantAlive, maintain),
		deleteFleets: func(in *ec2.DeleteFleetsInput) (*ec2.DeleteFleetsOutput, error) {
			deleted[in.FleetIds[0]] = awssdk.ToBool(in.TerminateInstances)
			return &ec2.DeleteFleetsOutput{}, nil
		},
	}
	p := fakeProvider(t, fe, nil)

	if err := p.Retire(t.Context(), cloud.RequestRef(config.APIEC2Fleet, "req-1")); err != nil {
		t.Fatalf("Retire: %v", err)
	}
	want := map[string]bool{"fleet-i": true, "fleet-m": false}
	if len(deleted) != len(want) || deleted["fleet-i"] != true || deleted["fleet-m"] != false {
		t.Errorf("deleted %v (fleet -> TerminateInstances), want %v: an instant fleet only with its instances, and not while one is alive", deleted, want)
	}
}
