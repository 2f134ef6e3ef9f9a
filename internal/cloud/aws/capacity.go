package aws

import (
	"context"
	"time"

	"github.com/ohfp/ohfp/internal/config"
)

// noCapacityMemory is how long a capacity refusal of one instance type in
// one subnet is remembered: long enough that the next requests (fresh
// processes) skip it, short enough that capacity coming back is used.
const noCapacityMemory = 5 * time.Minute

// slot is one instance type in one subnet ("" for either leaves it to the
// launch template or the default VPC).
type slot struct {
	instanceType string
	subnetID     string
}

// slots lists the launch spec's types x subnets in order of preference:
// every subnet of the first type, then of the next.
func (ls *launchSpec) slots() []slot {
	itypes, subnets := ls.instanceTypes, ls.subnetIDs
	if len(itypes) == 0 {
		itypes = []string{""}
	}
	if len(subnets) == 0 {
		subnets = []string{""}
	}
	out := make([]slot, 0, len(itypes)*len(subnets))
	for _, it := range itypes {
		for _, sn := range subnets {
			out = append(out, slot{it, sn})
		}
	}
	return out
}

// market is the price type a capacity refusal is remembered under.
func market(spot bool) string {
	if spot {
		return config.PriceSpot
	}
	return config.PriceOnDemand
}

func noCapacityKey(s slot, market string) string {
	return "nocap:" + s.instanceType + ":" + s.subnetID + ":" + market
}

// noCapacity is the cached mark of a capacity refusal.
type noCapacity struct {
	Until time.Time `json:"until"`
}

// rememberNoCapacity marks s as refused for market for a while.
func (p *Provider) rememberNoCapacity(ctx context.Context, s slot, market string) {
	p.putFact(ctx, noCapacityKey(s, market), noCapacity{Until: p.now().Add(noCapacityMemory)})
	p.log.Info("remembering a capacity refusal", "instance_type", s.instanceType, "subnet_id", s.subnetID,
		"price_type", market, "for", noCapacityMemory)
}

// viable leaves out the slots recently refused for every one of markets,
// unless that leaves none: then all are worth another try.
func (p *Provider) viable(ctx context.Context, slots []slot, markets ...string) []slot {
	now := p.now()
	kept := make([]slot, 0, len(slots))
	for _, s := range slots {
		refused := 0
		for _, m := range markets {
			var mark noCapacity
			if p.fact(ctx, noCapacityKey(s, m), &mark) && now.Before(mark.Until) {
				refused++
			}
		}
		if refused < len(markets) {
			kept = append(kept, s)
		}
	}
	if len(kept) == 0 {
		return slots
	}
	if len(kept) < len(slots) {
		p.log.Info("skipping recently refused capacity", "skipped", len(slots)-len(kept), "kept", len(kept))
	}
	return kept
}
