package aws

import (
	"context"
	"slices"
	"sync"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/ohfp/ohfp/internal/cloud"
)

const (
	// filterValues is the most values one describe filter carries.
	filterValues = 200
	// describePage is the largest page DescribeInstances returns.
	describePage = 1000
	// describeParallel bounds the describe calls in flight at once, well
	// below EC2's describe throttling.
	describeParallel = 4
)

// Instances describes the instances tagged with any of q.RequestIDs plus
// those with any of q.InstanceIDs. It filters by instance-id rather than
// naming ids, since one unknown id would fail a call that names them.
func (p *Provider) Instances(ctx context.Context, q cloud.Query) ([]cloud.Instance, error) {
	var filters [][]types.Filter
	for values := range slices.Chunk(q.RequestIDs, filterValues) {
		f := []types.Filter{{Name: awssdk.String("tag:" + cloud.TagRequestID), Values: values}}
		if q.SettledOnly {
			f = append(f, types.Filter{Name: awssdk.String("instance-state-name"), Values: cloud.SettledStates})
		}
		filters = append(filters, f)
	}
	for values := range slices.Chunk(q.InstanceIDs, filterValues) {
		filters = append(filters, []types.Filter{{Name: awssdk.String("instance-id"), Values: values}})
	}
	if q.Provider != "" {
		filters = append(filters, []types.Filter{
			{Name: awssdk.String("tag:" + cloud.TagProvider), Values: []string{q.Provider}},
			{Name: awssdk.String("instance-state-name"), Values: cloud.LiveStates},
		})
	}
	switch len(filters) {
	case 0:
		return nil, nil
	case 1:
		return p.describeInstances(ctx, filters[0])
	}

	found := make([][]cloud.Instance, len(filters))
	errs := make([]error, len(filters))
	slots := make(chan struct{}, describeParallel)
	var wg sync.WaitGroup
	for i, f := range filters {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			found[i], errs[i] = p.describeInstances(ctx, f)
		})
	}
	wg.Wait()

	total := 0
	for i := range found {
		if errs[i] != nil {
			return nil, errs[i]
		}
		total += len(found[i])
	}
	out := make([]cloud.Instance, 0, total)
	seen := make(map[string]struct{}, total)
	for _, batch := range found {
		for _, in := range batch {
			if _, dup := seen[in.ID]; !dup {
				seen[in.ID] = struct{}{}
				out = append(out, in)
			}
		}
	}
	return out, nil
}

// describeInstances lists every page of instances matching all of f.
func (p *Provider) describeInstances(ctx context.Context, f []types.Filter) ([]cloud.Instance, error) {
	pages := ec2.NewDescribeInstancesPaginator(p.ec2, &ec2.DescribeInstancesInput{
		Filters:    f,
		MaxResults: awssdk.Int32(describePage),
	})
	var out []cloud.Instance
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx, p.describeOpts...)
		if err != nil {
			return nil, awsError("ec2:DescribeInstances", err)
		}
		for r := range page.Reservations {
			res := &page.Reservations[r]
			out = slices.Grow(out, len(res.Instances))
			for i := range res.Instances {
				out = append(out, toInstance(&res.Instances[i]))
			}
		}
	}
	return out, nil
}

// toInstance maps an EC2 instance to the broker's vocabulary.
func toInstance(in *types.Instance) cloud.Instance {
	out := cloud.Instance{
		ID:            awssdk.ToString(in.InstanceId),
		Name:          awssdk.ToString(in.PrivateDnsName),
		PrivateIP:     awssdk.ToString(in.PrivateIpAddress),
		PublicIP:      awssdk.ToString(in.PublicIpAddress),
		InstanceType:  string(in.InstanceType),
		Spot:          in.InstanceLifecycle == types.InstanceLifecycleTypeSpot,
		SpotRequestID: awssdk.ToString(in.SpotInstanceRequestId),
		LaunchTime:    awssdk.ToTime(in.LaunchTime),
		StateReason:   awssdk.ToString(in.StateTransitionReason),
	}
	if in.State != nil {
		out.State = string(in.State.Name)
	}
	if in.StateReason != nil && in.StateReason.Message != nil {
		out.StateReason = *in.StateReason.Message
	}
	if in.Placement != nil {
		out.Zone = awssdk.ToString(in.Placement.AvailabilityZone)
	}
	if len(in.Tags) > 0 {
		out.Tags = make(map[string]string, len(in.Tags))
		for _, t := range in.Tags {
			out.Tags[awssdk.ToString(t.Key)] = awssdk.ToString(t.Value)
		}
	}
	return out
}
