package aws

import (
	"context"
	"log/slog"
	"slices"
	"sync"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/ohfp/ohfp/internal/cloud"
)

const (
	// filterValues is the most filter values one describe call carries,
	// summed over all its filters (docs/aws-rules.md).
	filterValues = 200
	// idBatch is the most ids one describe call names (docs/aws-rules.md).
	idBatch = 1000
	// describePage is the largest page DescribeInstances returns.
	describePage = 1000
	// describeParallel bounds the describe calls in flight at once, well
	// below EC2's describe throttling.
	describeParallel = 4
)

// Instances describes the instances tagged with any of q.RequestIDs plus
// those with any of q.InstanceIDs, and those of q.Settling that have left
// pending. Instances known by id are named, as AWS advises (a filter-only
// call fails during an Availability Zone's disruption); ids EC2 does not
// know are left out and the rest asked again. Tag filters only find
// instances not known yet.
func (p *Provider) Instances(ctx context.Context, q cloud.Query) (out []cloud.Instance, err error) {
	defer func() {
		if err == nil && p.log.Enabled(ctx, slog.LevelDebug) {
			byState := map[cloud.State]int{}
			for _, in := range out {
				byState[in.State]++
			}
			p.log.Debug("describe", "request_ids", len(q.RequestIDs), "instance_ids", len(q.InstanceIDs),
				"provider", q.Provider, "settling", len(q.Settling), "found", len(out), "by_state", byState)
		}
	}()
	var calls []func() ([]cloud.Instance, error)
	for values := range slices.Chunk(q.RequestIDs, filterValues) {
		f := []types.Filter{{Name: awssdk.String("tag:" + cloud.TagRequestID), Values: values}}
		calls = append(calls, func() ([]cloud.Instance, error) { return p.describeFiltered(ctx, f) })
	}
	for batch := range slices.Chunk(q.InstanceIDs, idBatch) {
		calls = append(calls, func() ([]cloud.Instance, error) { return p.describeByID(ctx, batch, nil) })
	}
	settled := []types.Filter{{Name: awssdk.String("instance-state-name"), Values: stateNames(cloud.State.Settled)}}
	for batch := range slices.Chunk(q.Settling, idBatch) {
		calls = append(calls, func() ([]cloud.Instance, error) { return p.describeByID(ctx, batch, settled) })
	}
	if q.Provider != "" {
		f := []types.Filter{
			{Name: awssdk.String("tag:" + cloud.TagProvider), Values: []string{q.Provider}},
			{Name: awssdk.String("instance-state-name"), Values: stateNames(cloud.State.Live)},
		}
		calls = append(calls, func() ([]cloud.Instance, error) { return p.describeFiltered(ctx, f) })
	}
	switch len(calls) {
	case 0:
		return nil, nil
	case 1:
		return calls[0]()
	}

	found := make([][]cloud.Instance, len(calls))
	errs := make([]error, len(calls))
	slots := make(chan struct{}, describeParallel)
	var wg sync.WaitGroup
	for i, call := range calls {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			found[i], errs[i] = call()
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
	out = make([]cloud.Instance, 0, total)
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

// describeByID describes those of the instances ids (at most idBatch)
// that match every filter of f; unknown ids are left out.
func (p *Provider) describeByID(ctx context.Context, ids []string, f []types.Filter) ([]cloud.Instance, error) {
	return known(ids, codeInstanceNotFound, "ec2:DescribeInstances", func(ids []string) ([]cloud.Instance, error) {
		return p.describe(ctx, &ec2.DescribeInstancesInput{InstanceIds: ids, Filters: f})
	})
}

// describeFiltered lists every page of instances matching all of f.
func (p *Provider) describeFiltered(ctx context.Context, f []types.Filter) ([]cloud.Instance, error) {
	out, err := p.describe(ctx, &ec2.DescribeInstancesInput{Filters: f, MaxResults: awssdk.Int32(describePage)})
	if err != nil {
		return nil, awsError("ec2:DescribeInstances", err)
	}
	return out, nil
}

// describe reads every page of one DescribeInstances call. Each page's
// instances are read from EC2's answer as it arrives (instancexml.go), so
// no page is ever held whole in the SDK's form.
func (p *Provider) describe(ctx context.Context, in *ec2.DescribeInstancesInput) ([]cloud.Instance, error) {
	sink := &instanceSink{}
	opts := append(slices.Clone(p.describeOpts), streamInstances(sink))
	pages := ec2.NewDescribeInstancesPaginator(p.ec2, in)
	var out []cloud.Instance
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx, opts...)
		if err != nil {
			return nil, err
		}
		if insts, read := sink.take(); read {
			out = append(out, insts...)
		} else {
			out = append(out, fromReservations(page.Reservations)...)
		}
	}
	return out, nil
}

// fromReservations maps the instances of reservations the SDK decoded.
func fromReservations(rs []types.Reservation) []cloud.Instance {
	var out []cloud.Instance
	for r := range rs {
		for i := range rs[r].Instances {
			out = append(out, toInstance(&rs[r].Instances[i]))
		}
	}
	return out
}

// toInstance maps an EC2 instance to the broker's vocabulary.
func toInstance(in *types.Instance) cloud.Instance {
	out := cloud.Instance{
		ID:            awssdk.ToString(in.InstanceId),
		Name:          awssdk.ToString(in.PrivateDnsName),
		PrivateIP:     awssdk.ToString(in.PrivateIpAddress),
		PublicIP:      awssdk.ToString(in.PublicIpAddress),
		PublicDNS:     awssdk.ToString(in.PublicDnsName),
		InstanceType:  string(in.InstanceType),
		Spot:          in.InstanceLifecycle == types.InstanceLifecycleTypeSpot,
		SpotRequestID: awssdk.ToString(in.SpotInstanceRequestId),
		LaunchTime:    awssdk.ToTime(in.LaunchTime),
		StateReason:   awssdk.ToString(in.StateTransitionReason),
	}
	if in.State != nil {
		out.State = cloud.State(in.State.Name)
	}
	if in.StateReason != nil && in.StateReason.Message != nil {
		out.StateReason = *in.StateReason.Message
	}
	if in.Placement != nil {
		out.Zone = awssdk.ToString(in.Placement.AvailabilityZone)
	}
	if in.CpuOptions != nil {
		out.Cores = int(awssdk.ToInt32(in.CpuOptions.CoreCount))
		out.ThreadsPerCore = int(awssdk.ToInt32(in.CpuOptions.ThreadsPerCore))
	}
	if len(in.Tags) > 0 {
		out.Tags = make(map[string]string, len(in.Tags))
		for _, t := range in.Tags {
			out.Tags[awssdk.ToString(t.Key)] = awssdk.ToString(t.Value)
		}
	}
	return out
}

// stateNames spells the instance states for which keep holds as an
// instance-state-name filter wants them.
func stateNames(keep func(cloud.State) bool) []string {
	states := cloud.StatesWhere(keep)
	out := make([]string, len(states))
	for i, s := range states {
		out[i] = string(s)
	}
	return out
}
