package aws

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
)

// fakeEC2 is an in-process EC2 for unit tests: each test sets the calls it
// expects; any other panics through the nil embedded interface. It checks
// the request rules of docs/aws-rules.md on what it is given, as AWS
// would, and records every call.
type fakeEC2 struct {
	EC2API

	mu    sync.Mutex
	calls map[string][][]string // action -> ids (or filter values) of each call

	describeInstances  func(*ec2.DescribeInstancesInput) (*ec2.DescribeInstancesOutput, error)
	terminateInstances func(ids []string) error
	describeFleets     func(ids []string) (*ec2.DescribeFleetsOutput, error)
	deleteFleets       func(*ec2.DeleteFleetsInput) (*ec2.DeleteFleetsOutput, error)
	modifyFleet        func(*ec2.ModifyFleetInput) (*ec2.ModifyFleetOutput, error)
	describeSpotFleets func(ids []string) (*ec2.DescribeSpotFleetRequestsOutput, error)
	describeSubnets    func(*ec2.DescribeSubnetsInput) (*ec2.DescribeSubnetsOutput, error)
	describeTypes      func(*ec2.DescribeInstanceTypesInput) (*ec2.DescribeInstanceTypesOutput, error)
	describeHistory    func(*ec2.DescribeFleetHistoryInput) (*ec2.DescribeFleetHistoryOutput, error)
	fleetInstances     []string // DescribeFleetInstances: the active on-demand instances of any fleet
	deleteTemplate     func(*ec2.DeleteLaunchTemplateInput) error
}

func (f *fakeEC2) record(action string, items []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string][][]string{}
	}
	f.calls[action] = append(f.calls[action], slices.Clone(items))
}

// callsOf are the items of each call of action, in order.
func (f *fakeEC2) callsOf(action string) [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[action]
}

func (f *fakeEC2) DescribeInstances(_ context.Context, in *ec2.DescribeInstancesInput, _ ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	values := 0
	for _, fl := range in.Filters {
		values += len(fl.Values)
	}
	switch {
	case values > filterValues:
		return nil, apiErr("FilterLimitExceeded", "The maximum number of filter values specified on a single call is 200")
	case len(in.InstanceIds) > 0 && in.MaxResults != nil:
		return nil, apiErr("InvalidParameterCombination", "The parameter instancesSet cannot be used with the parameter maxResults")
	case len(in.InstanceIds) > idBatch:
		return nil, apiErr("InvalidParameterValue", "too many instance ids")
	}
	f.record("DescribeInstances", in.InstanceIds)
	return f.describeInstances(in)
}

func (f *fakeEC2) TerminateInstances(_ context.Context, in *ec2.TerminateInstancesInput, _ ...func(*ec2.Options)) (*ec2.TerminateInstancesOutput, error) {
	if len(in.InstanceIds) > terminateBatch {
		return nil, apiErr("InvalidParameterValue", "too many instance ids")
	}
	f.record("TerminateInstances", in.InstanceIds)
	return &ec2.TerminateInstancesOutput{}, f.terminateInstances(in.InstanceIds)
}

func (f *fakeEC2) DescribeFleets(_ context.Context, in *ec2.DescribeFleetsInput, _ ...func(*ec2.Options)) (*ec2.DescribeFleetsOutput, error) {
	f.record("DescribeFleets", in.FleetIds)
	return f.describeFleets(in.FleetIds)
}

func (f *fakeEC2) DeleteFleets(_ context.Context, in *ec2.DeleteFleetsInput, _ ...func(*ec2.Options)) (*ec2.DeleteFleetsOutput, error) {
	f.record("DeleteFleets", in.FleetIds)
	return f.deleteFleets(in)
}

func (f *fakeEC2) ModifyFleet(_ context.Context, in *ec2.ModifyFleetInput, _ ...func(*ec2.Options)) (*ec2.ModifyFleetOutput, error) {
	f.record("ModifyFleet", []string{*in.FleetId})
	return f.modifyFleet(in)
}

func (f *fakeEC2) DescribeSpotFleetRequests(_ context.Context, in *ec2.DescribeSpotFleetRequestsInput, _ ...func(*ec2.Options)) (*ec2.DescribeSpotFleetRequestsOutput, error) {
	f.record("DescribeSpotFleetRequests", in.SpotFleetRequestIds)
	return f.describeSpotFleets(in.SpotFleetRequestIds)
}

func (f *fakeEC2) DescribeSubnets(_ context.Context, in *ec2.DescribeSubnetsInput, _ ...func(*ec2.Options)) (*ec2.DescribeSubnetsOutput, error) {
	f.record("DescribeSubnets", in.SubnetIds)
	return f.describeSubnets(in)
}

func (f *fakeEC2) DescribeInstanceTypes(_ context.Context, in *ec2.DescribeInstanceTypesInput, _ ...func(*ec2.Options)) (*ec2.DescribeInstanceTypesOutput, error) {
	names := make([]string, len(in.InstanceTypes))
	for i, n := range in.InstanceTypes {
		names[i] = string(n)
	}
	f.record("DescribeInstanceTypes", names)
	return f.describeTypes(in)
}

func (f *fakeEC2) DescribeFleetHistory(_ context.Context, in *ec2.DescribeFleetHistoryInput, _ ...func(*ec2.Options)) (*ec2.DescribeFleetHistoryOutput, error) {
	f.record("DescribeFleetHistory", []string{*in.FleetId})
	return f.describeHistory(in)
}

func (f *fakeEC2) DescribeFleetInstances(_ context.Context, in *ec2.DescribeFleetInstancesInput, _ ...func(*ec2.Options)) (*ec2.DescribeFleetInstancesOutput, error) {
	f.record("DescribeFleetInstances", []string{*in.FleetId})
	out := &ec2.DescribeFleetInstancesOutput{}
	for _, id := range f.fleetInstances {
		out.ActiveInstances = append(out.ActiveInstances, ec2types.ActiveInstance{InstanceId: &id})
	}
	return out, nil
}

func (f *fakeEC2) DeleteLaunchTemplate(_ context.Context, in *ec2.DeleteLaunchTemplateInput, _ ...func(*ec2.Options)) (*ec2.DeleteLaunchTemplateOutput, error) {
	f.record("DeleteLaunchTemplate", nil)
	if f.deleteTemplate == nil {
		return &ec2.DeleteLaunchTemplateOutput{}, nil
	}
	return &ec2.DeleteLaunchTemplateOutput{}, f.deleteTemplate(in)
}

// fakeASG is an in-process Auto Scaling, as fakeEC2.
type fakeASG struct {
	AutoScalingAPI

	mu    sync.Mutex
	calls map[string][][]string

	describeGroups func(names []string) (*autoscaling.DescribeAutoScalingGroupsOutput, error)
	detach         func(*autoscaling.DetachInstancesInput) error
	terminate      func(*autoscaling.TerminateInstanceInAutoScalingGroupInput) error
}

func (f *fakeASG) record(action string, items []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string][][]string{}
	}
	f.calls[action] = append(f.calls[action], slices.Clone(items))
}

func (f *fakeASG) callsOf(action string) [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[action]
}

func (f *fakeASG) DescribeAutoScalingGroups(_ context.Context, in *autoscaling.DescribeAutoScalingGroupsInput, _ ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error) {
	f.record("DescribeAutoScalingGroups", in.AutoScalingGroupNames)
	if limit := max(50, int(awssdk.ToInt32(in.MaxRecords))); len(in.AutoScalingGroupNames) > limit {
		return nil, apiErr("ValidationError", "too many AutoScalingGroupNames for MaxRecords")
	}
	return f.describeGroups(in.AutoScalingGroupNames)
}

func (f *fakeASG) DetachInstances(_ context.Context, in *autoscaling.DetachInstancesInput, _ ...func(*autoscaling.Options)) (*autoscaling.DetachInstancesOutput, error) {
	if len(in.InstanceIds) > detachBatch {
		return nil, apiErr("ValidationError", "The number of instances to detach must be at most 20.")
	}
	f.record("DetachInstances", in.InstanceIds)
	return &autoscaling.DetachInstancesOutput{}, f.detach(in)
}

func (f *fakeASG) TerminateInstanceInAutoScalingGroup(_ context.Context, in *autoscaling.TerminateInstanceInAutoScalingGroupInput, _ ...func(*autoscaling.Options)) (*autoscaling.TerminateInstanceInAutoScalingGroupOutput, error) {
	f.record("TerminateInstanceInAutoScalingGroup", []string{*in.InstanceId})
	return &autoscaling.TerminateInstanceInAutoScalingGroupOutput{}, f.terminate(in)
}

// apiErr is an AWS error answer.
func apiErr(code, format string, args ...any) error {
	return &smithy.GenericAPIError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// notFound is EC2's refusal of unknown instance ids, naming them.
func notFound(ids []string) error {
	return apiErr(codeInstanceNotFound, "The instance IDs '%s' do not exist", strings.Join(ids, ", "))
}

// memCache is a Cache in memory.
type memCache struct {
	mu    sync.Mutex
	facts map[string][]byte
}

func (c *memCache) Fact(_ context.Context, key string) ([]byte, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.facts[key]
	return v, ok, nil
}

func (c *memCache) PutFact(_ context.Context, key string, value []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.facts == nil {
		c.facts = map[string][]byte{}
	}
	c.facts[key] = value
	return nil
}

// fakeProvider is a Provider over fakes (nil for a service the test does
// not use), with an in-memory cache.
func fakeProvider(t *testing.T, e EC2API, a AutoScalingAPI) *Provider {
	t.Helper()
	return &Provider{ec2: e, asg: a, cache: &memCache{}, log: slog.New(slog.DiscardHandler), now: time.Now}
}
