package sandbox

import (
	"fmt"
	"slices"
)

// spotPrice is one price of the spot market.
type spotPrice struct {
	instanceType, zone string
	price              float64
}

// describeSpotPriceHistory answers the current spot price of each type
// asked (every type when none is) in each zone with a subnet, Linux/UNIX.
// The prices are made up, a tenth of a US cent per vCPU and hour, a
// little more in each later zone: what the sandbox answers is shaped like
// EC2's answer, not its market.
func (s *Sandbox) describeSpotPriceHistory(c *call) error {
	asked := c.form.list("InstanceType")
	s.mu.RLock()
	var zones []string
	for _, sn := range s.world.subnets {
		if !slices.Contains(zones, sn.Zone) {
			zones = append(zones, sn.Zone)
		}
	}
	s.mu.RUnlock()
	slices.Sort(zones)
	var all []spotPrice
	for _, t := range instanceTypes {
		if len(asked) > 0 && !slices.Contains(asked, t.Name) {
			continue
		}
		for i, z := range zones {
			all = append(all, spotPrice{t.Name, z, float64(t.VCPUs) * (0.001 + 0.0001*float64(i))})
		}
	}
	return describe(s, c, all, nil, "spotPriceHistorySet", 1000, func(x xmlw, p spotPrice) {
		x.open("item")
		x.str("instanceType", p.instanceType)
		x.str("productDescription", "Linux/UNIX")
		x.str("spotPrice", fmt.Sprintf("%.6f", p.price))
		x.time("timestamp", c.now)
		x.str("availabilityZone", p.zone)
		x.close("item")
	})
}
