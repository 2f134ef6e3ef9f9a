package aws

import (
	"fmt"
	"slices"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
)

func TestReleaseGroupTakesEachMemberOutAsAutoScalingAllows(t *testing.T) {
	var members []astypes.Instance
	member := func(id string, st astypes.LifecycleState) {
		members = append(members, astypes.Instance{InstanceId: awssdk.String(id), LifecycleState: st})
	}
	var inService []string
	for i := range 25 {
		id := fmt.Sprintf("i-s%02d", i)
		inService = append(inService, id)
		member(id, astypes.LifecycleStateInService)
	}
	member("i-standby", astypes.LifecycleStateStandby)
	member("i-pending", astypes.LifecycleStatePending)
	member("i-wait", astypes.LifecycleStatePendingWait)
	member("i-leaving", astypes.LifecycleStateTerminating)
	fa := &fakeASG{
		describeGroups: func([]string) (*autoscaling.DescribeAutoScalingGroupsOutput, error) {
			return &autoscaling.DescribeAutoScalingGroupsOutput{AutoScalingGroups: []astypes.AutoScalingGroup{{
				AutoScalingGroupName: awssdk.String("ohfp-req-1"), Instances: members}}}, nil
		},
		detach: func(in *autoscaling.DetachInstancesInput) error {
			if !awssdk.ToBool(in.ShouldDecrementDesiredCapacity) {
				t.Error("DetachInstances without lowering the desired capacity: the group would replace them")
			}
			return nil
		},
		terminate: func(in *autoscaling.TerminateInstanceInAutoScalingGroupInput) error {
			if !awssdk.ToBool(in.ShouldDecrementDesiredCapacity) {
				t.Error("TerminateInstanceInAutoScalingGroup without lowering the desired capacity")
			}
			return nil
		},
	}
	p := fakeProvider(t, nil, fa)
	ids := append(slices.Clone(inService), "i-standby", "i-pending", "i-wait", "i-leaving", "i-stranger")

	if err := p.Release(t.Context(), "asg:ohfp-req-1/lt-1", ids); err != nil {
		t.Fatalf("Release: %v", err)
	}

	detached := slices.Concat(fa.callsOf("DetachInstances")...)
	if want := append(inService, "i-standby"); !slices.Equal(detached, want) {
		t.Errorf("detached %v, want the InService and Standby members", detached)
	}
	for _, c := range fa.callsOf("DetachInstances") {
		if len(c) > detachBatch {
			t.Errorf("DetachInstances of %d instances", len(c))
		}
	}
	if got := slices.Concat(fa.callsOf("TerminateInstanceInAutoScalingGroup")...); !slices.Equal(got, []string{"i-pending", "i-wait"}) {
		t.Errorf("terminated through the group %v, want the Pending members", got)
	}
}

// TestGroupsAreDescribedAsAutoScalingAllows: DescribeAutoScalingGroups
// takes at most 50 names, or as many as MaxRecords (at most 100), so a
// poll of many groups names at most MaxRecords of them a call.
func TestGroupsAreDescribedAsAutoScalingAllows(t *testing.T) {
	fa := &fakeASG{describeGroups: func(names []string) (*autoscaling.DescribeAutoScalingGroupsOutput, error) {
		out := &autoscaling.DescribeAutoScalingGroupsOutput{}
		for _, n := range names {
			out.AutoScalingGroups = append(out.AutoScalingGroups, astypes.AutoScalingGroup{AutoScalingGroupName: awssdk.String(n)})
		}
		return out, nil
	}}
	p := fakeProvider(t, nil, fa)
	var refs []string
	for i := range 130 {
		refs = append(refs, placementRef{kind: refGroup, id: fmt.Sprintf("ohfp-req-%d", i)}.String())
	}
	got, err := p.Fulfilment(t.Context(), refs)
	if err != nil || len(got) != len(refs) {
		t.Fatalf("Fulfilment = %d answers, %v; want %d", len(got), err, len(refs))
	}
	for _, names := range fa.calls["DescribeAutoScalingGroups"] {
		if len(names) > groupBatch {
			t.Errorf("one call named %d groups, more than %d", len(names), groupBatch)
		}
	}
}
