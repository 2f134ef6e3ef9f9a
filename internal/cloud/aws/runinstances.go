package aws

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/fault"
)

// maxClientToken is the longest idempotency token EC2 accepts.
const maxClientToken = 64

// runInstances launches spec with RunInstances, one subnet and one type per
// call. A call refused for capacity or limits, or filled only in part, moves
// on to the next subnet, then the next type, for the machines still
// missing. Every attempt carries its own token derived from spec's, so a
// replay of the same spec gets back the same reservations instead of
// launching again.
//
//ohfp:iam RunInstances
func (p *Provider) runInstances(ctx context.Context, spec cloud.LaunchSpec) (cloud.Placement, error) {
	if spec.Template.PriceType == config.PriceHeterogeneous {
		return cloud.Placement{}, fault.New(fault.Configuration,
			"template %s: priceType heterogeneous needs a fleet providerApi, not RunInstances", spec.Template.ID)
	}
	ls, err := p.buildLaunchSpec(ctx, spec)
	if err != nil {
		return cloud.Placement{}, err
	}
	all := ls.slots()
	// Each slot keeps its place in the full list for its token, so a replay
	// that skips other slots still reuses the first call's tokens.
	attempt := make(map[slot]int, len(all))
	for i, sl := range all {
		attempt[sl] = i
	}
	mkt := market(ls.spot)

	var (
		placed  cloud.Placement
		refs    []string
		lastErr error
	)
	remaining := spec.Count
	for _, sl := range p.viable(ctx, all, mkt) {
		if remaining == 0 {
			break
		}
		token := attemptToken(spec.ClientToken, attempt[sl])
		p.log.Debug("placement attempt", "request_id", spec.RequestID, "api", config.APIRunInstances,
			"instance_type", sl.instanceType, "subnet_id", sl.subnetID, "count", remaining)
		sink := &instanceSink{}
		out, err := p.ec2.RunInstances(ctx, ls.runInstancesInput(sl.instanceType, sl.subnetID, remaining, token), streamInstances(sink))
		if err != nil {
			lastErr = err
			if !tryElsewhere(err) {
				break
			}
			p.rememberNoCapacity(ctx, sl, mkt)
			p.log.Info("no room here, trying elsewhere", "request_id", spec.RequestID,
				"instance_type", sl.instanceType, "subnet_id", sl.subnetID, "err", err)
			continue
		}
		refs = append(refs, awssdk.ToString(out.ReservationId))
		insts, read := sink.take()
		if !read {
			insts = fromReservations([]types.Reservation{{Instances: out.Instances}})
		}
		placed.Instances = append(placed.Instances, insts...)
		remaining -= len(insts)
		p.log.Info("launched", "request_id", spec.RequestID, "instance_type", sl.instanceType, "subnet_id", sl.subnetID,
			"count", len(insts), "reservation_id", awssdk.ToString(out.ReservationId))
	}
	if len(placed.Instances) == 0 {
		return cloud.Placement{}, awsError("ec2:RunInstances", lastErr)
	}
	if remaining > 0 {
		// What came is placed; the rest is reported short, not failed.
		p.log.Warn("launched fewer than asked", "request_id", spec.RequestID,
			"asked", spec.Count, "got", len(placed.Instances), "err", lastErr)
	}
	placed.Ref = strings.Join(refs, ",")
	return placed, nil
}

// runInstancesInput asks for up to count instances of itype in subnet
// (either may be empty to leave it to the launch template).
func (ls *launchSpec) runInstancesInput(itype, subnet string, count int, token string) *ec2.RunInstancesInput {
	in := &ec2.RunInstancesInput{
		MinCount:            awssdk.Int32(1),
		MaxCount:            awssdk.Int32(int32(count)),
		ImageId:             optional(ls.imageID),
		InstanceType:        types.InstanceType(itype),
		SubnetId:            optional(subnet),
		SecurityGroupIds:    ls.securityGroupIDs,
		KeyName:             optional(ls.keyName),
		IamInstanceProfile:  ls.instanceProfile,
		BlockDeviceMappings: ls.blockDevices,
		UserData:            optional(ls.userData),
		LaunchTemplate:      ls.launchTemplate,
		ClientToken:         optional(token),
		TagSpecifications:   ls.tagSpecifications(types.ResourceTypeInstance, types.ResourceTypeVolume),
	}
	if ls.interfaceType != "" {
		// With network interfaces, EC2 takes the subnet and security
		// groups in them, not beside them.
		in.NetworkInterfaces = ls.networkInterfaces(subnet)
		in.SubnetId, in.SecurityGroupIds = nil, nil
	}
	if ls.ebsOptimized {
		in.EbsOptimized = awssdk.Bool(true)
	}
	if ls.placementGroup != "" || ls.tenancy != "" {
		in.Placement = &types.Placement{GroupName: optional(ls.placementGroup), Tenancy: ls.tenancy}
	}
	if ls.spot {
		in.InstanceMarketOptions = &types.InstanceMarketOptionsRequest{
			MarketType: types.MarketTypeSpot,
			SpotOptions: &types.SpotMarketOptions{
				SpotInstanceType:             types.SpotInstanceTypeOneTime,
				InstanceInterruptionBehavior: types.InstanceInterruptionBehaviorTerminate,
				MaxPrice:                     optional(ls.maxSpotPrice),
			},
		}
	}
	return in
}

// networkInterfaces are the interfaces of an interfaceType template, as
// IBM's LSF plugin lays them out: one per network card (efaCount of them
// for efa, else one), the first the primary (device index 0), the others
// device index 1 on cards 1, 2, ...; all in subnet, deleted with the
// instance.
func (ls *launchSpec) networkInterfaces(subnet string) []types.InstanceNetworkInterfaceSpecification {
	n := 1
	if ls.interfaceType == "efa" && ls.efaCount > 0 {
		n = ls.efaCount
	}
	out := make([]types.InstanceNetworkInterfaceSpecification, n)
	for card := range n {
		out[card] = types.InstanceNetworkInterfaceSpecification{
			InterfaceType:       awssdk.String(ls.interfaceType),
			NetworkCardIndex:    awssdk.Int32(int32(card)),
			DeviceIndex:         awssdk.Int32(int32(min(card, 1))),
			SubnetId:            optional(subnet),
			Groups:              ls.securityGroupIDs,
			DeleteOnTermination: awssdk.Bool(true),
		}
	}
	return out
}

// attemptToken is the idempotency token of the attempt-th launch call of a
// request whose token is base: base itself first, then base-1, base-2...;
// hashed when too long or not ASCII for EC2. Empty base, no token.
func attemptToken(base string, attempt int) string {
	if base == "" {
		return ""
	}
	tok := base
	if attempt > 0 {
		tok += "-" + strconv.Itoa(attempt)
	}
	if len(tok) <= maxClientToken && isPrintableASCII(tok) {
		return tok
	}
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:]) // exactly 64 characters
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// optional is nil for an empty string, as the SDK wants unset fields.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
