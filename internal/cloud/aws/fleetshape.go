package aws

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/ohfp/ohfp/internal/config"
)

// fleetShape is what EC2 Fleet, Spot Fleet and Auto Scaling groups share:
// how many machines of each market, and the slots to fill them from.
//
// machineCount counts machines, so every instance is one capacity unit
// whatever the weight of its type in vmTypes: a request for 10 machines
// is done with 10 instances. Types are preferred in the order of
// vmTypesPriority (lower first), then by name.
type fleetShape struct {
	onDemand, spot int
	slots          []slot         // viable types x subnets, in order of preference
	rank           map[string]int // instance type -> priority for AWS, 0 best
}

// shape sizes spec's fleet and leaves out the slots recently refused
// capacity (unless that leaves none).
func (p *Provider) shape(ctx context.Context, count int, t config.Template, ls *launchSpec) fleetShape {
	s := fleetShape{rank: make(map[string]int, len(ls.instanceTypes))}
	var markets []string
	switch t.PriceType {
	case config.PriceSpot:
		s.spot = count
		markets = []string{config.PriceSpot}
	case config.PriceHeterogeneous:
		// Rounded to the nearest machine: 30% of 10 is 3 on-demand, 7 spot.
		s.onDemand = (count*t.PercentOnDemand + 50) / 100
		s.spot = count - s.onDemand
		markets = []string{config.PriceOnDemand, config.PriceSpot}
	default:
		s.onDemand = count
		markets = []string{config.PriceOnDemand}
	}
	for i, it := range ls.instanceTypes {
		s.rank[it] = i
	}
	s.slots = p.viable(ctx, ls.slots(), markets...)
	return s
}

// total is the machines the fleet is asked for.
func (s fleetShape) total() int { return s.onDemand + s.spot }

// types lists the instance types of the viable slots, in order.
func (s fleetShape) types() []string {
	return s.distinct(func(sl slot) string { return sl.instanceType })
}

// subnets lists the subnets of the viable slots, in order.
func (s fleetShape) subnets() []string {
	return s.distinct(func(sl slot) string { return sl.subnetID })
}

// distinct lists the non-empty values of field over the viable slots, in
// order, each once.
func (s fleetShape) distinct(field func(slot) string) []string {
	var out []string
	for _, sl := range s.slots {
		if v := field(sl); v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// priority is the priority of a slot's type as fleets read it.
func (s fleetShape) priority(sl slot) *float64 {
	return awssdk.Float64(float64(s.rank[sl.instanceType]))
}

// kebab turns a template's allocation strategy (IBM's Spot Fleet names,
// such as capacityOptimizedPrioritized) into the names of EC2 Fleet and
// Auto Scaling (capacity-optimized-prioritized).
func kebab(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsUpper(r) {
			b.WriteByte('-')
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// onDemandStrategy is the template's on-demand allocation strategy, or
// prioritized when it ranks types but names none.
func onDemandStrategy(t config.Template) string {
	if t.AllocationStrategyOnDemand == "" && len(t.VMTypesPriority) > 0 {
		return "prioritized"
	}
	return t.AllocationStrategyOnDemand
}

// spotPools is the template's poolsCount for fleets, which take it only
// with the lowestPrice allocation strategy (their default); nil otherwise.
func spotPools(t config.Template) *int32 {
	if t.PoolsCount == 0 || t.AllocationStrategy != "" && t.AllocationStrategy != "lowestPrice" {
		return nil
	}
	return awssdk.Int32(int32(t.PoolsCount))
}

// refusal is one launch a fleet could not make, as AWS reports it.
type refusal struct {
	code, message string
	overrides     *types.FleetLaunchTemplateOverrides
	spot          bool
}

// String is the reason HostFactory sees.
func (r refusal) String() string {
	return fmt.Sprintf("%s: %s", r.code, r.message)
}

// reasons remembers the capacity refusals among rs and returns their
// distinct texts, in order.
func (p *Provider) reasons(ctx context.Context, rs []refusal) []string {
	var out []string
	for _, r := range rs {
		if r.overrides != nil && (capacityCodes[r.code] || quotaCodes[r.code]) {
			p.rememberNoCapacity(ctx, slot{string(r.overrides.InstanceType), awssdk.ToString(r.overrides.SubnetId)}, market(r.spot))
		}
		if text := r.String(); !slices.Contains(out, text) {
			out = append(out, text)
		}
	}
	return out
}

// overdue reports whether a fleet or group created at created has tried
// for missing capacity longer than INSTANCE_CREATION_TIMEOUT.
func (p *Provider) overdue(created *time.Time) bool {
	return p.creationTimeout > 0 && created != nil && p.now().Sub(*created) > p.creationTimeout
}

// historyReasons reads the error events of a fleet's history records,
// whose information info gives. EC2 writes a pool short of capacity as
// subtype launchSpecTemporarilyBlacklisted described "<type>, <image>,
// <platform>, <zone>, <subnet>, <code>: <message>"; such a refusal is
// remembered like the fleet's error list.
func historyReasons[R any](ctx context.Context, p *Provider, records []R, info func(*R) *types.EventInformation) []string {
	var rs []refusal
	for i := range records {
		ev := info(&records[i])
		if ev == nil {
			continue
		}
		r := refusal{code: awssdk.ToString(ev.EventSubType), message: awssdk.ToString(ev.EventDescription), spot: true}
		if parts := strings.SplitN(r.message, ", ", 6); len(parts) == 6 {
			if code, msg, ok := strings.Cut(parts[5], ": "); ok && !strings.Contains(code, " ") {
				r.code, r.message = code, msg
				r.overrides = &types.FleetLaunchTemplateOverrides{InstanceType: types.InstanceType(parts[0]), SubnetId: awssdk.String(parts[4])}
			}
		}
		rs = append(rs, r)
	}
	return p.reasons(ctx, rs)
}
