package sandbox

import (
	"fmt"
	"strings"
	"time"
)

// Reasons for a spot interruption (Interrupt, InterruptForPrice).
const (
	interruptCapacity = "capacity"
	interruptPrice    = "price"
)

// spotStatus is where a spot request stands at now, as EC2 reports it.
// EC2 interrupting a terminate-on-interruption instance for capacity sets
// instance-terminated-no-capacity at once, while the instance runs out
// its two-minute notice; for price, the request is marked-for-termination
// during the notice and instance-terminated-by-price after.
func (in *instance) spotStatus(o *Options, now time.Time) (state, code, message string, updated time.Time) {
	interrupted := !in.interruptAt.IsZero() && !now.Before(in.interruptAt)
	if interrupted && in.interruptReason != interruptPrice {
		return "closed", "instance-terminated-no-capacity", "Instance terminated due to no available capacity.", in.interruptAt
	}
	if at, byAWS, ok := in.shutdown(o); ok && !now.Before(at) {
		if byAWS {
			return "closed", "instance-terminated-by-price", "Your Spot Instance was terminated because your Spot request price is lower than the minimum required Spot request fulfillment price.", at
		}
		return "closed", "instance-terminated-by-user", "Spot Instance terminated due to user-initiated termination.", at
	}
	if interrupted {
		return "active", "marked-for-termination", "Spot Instance is marked for termination because the request price is lower than the fulfillment price.", in.interruptAt
	}
	return "active", "fulfilled", "Your spot request is fulfilled.", in.launched
}

var spotFilters = map[string]field[*instance]{
	"spot-instance-request-id":   func(_ *Sandbox, in *instance, _ time.Time) string { return in.spotRequestID },
	"instance-id":                func(_ *Sandbox, in *instance, _ time.Time) string { return in.id },
	"launched-availability-zone": func(_ *Sandbox, in *instance, _ time.Time) string { return in.zone },
	"type":                       func(_ *Sandbox, _ *instance, _ time.Time) string { return "one-time" },
	"state": func(s *Sandbox, in *instance, now time.Time) string {
		state, _, _, _ := in.spotStatus(&s.opts, now)
		return state
	},
	"status-code": func(s *Sandbox, in *instance, now time.Time) string {
		_, code, _, _ := in.spotStatus(&s.opts, now)
		return code
	},
}

func spotTags(in *instance) []tag { return in.spotTags }

func (s *Sandbox) describeSpotInstanceRequests(c *call) error {
	preds, err := predicates(c, spotFilters, spotTags)
	if err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var all []*instance
	for _, in := range s.world.instances {
		if in.spotRequestID != "" && in.visible(&s.opts, c.now) {
			all = append(all, in)
		}
	}
	found, err := pick(all, func(in *instance) string { return in.spotRequestID }, c.form.list("SpotInstanceRequestId"), func(ids string) error {
		return badParamCode("InvalidSpotInstanceRequestID.NotFound", "The spot instance request ID '%s' does not exist", ids)
	})
	if err != nil {
		return err
	}
	return describe(s, c, found, preds, "spotInstanceRequestSet", 1000, func(x xmlw, in *instance) {
		state, code, msg, updated := in.spotStatus(&s.opts, c.now)
		x.open("item")
		x.str("spotInstanceRequestId", in.spotRequestID)
		x.str("spotPrice", or(in.spotMaxPrice, "0.100000"))
		x.str("type", "one-time")
		x.str("state", state)
		x.open("status")
		x.str("code", code)
		x.time("updateTime", updated)
		x.str("message", msg)
		x.close("status")
		x.open("launchSpecification")
		x.str("imageId", in.imageID)
		x.str("keyName", in.keyName)
		s.writeGroups(x, in.groups)
		x.str("instanceType", in.instanceType)
		x.open("placement")
		x.str("availabilityZone", in.zone)
		x.close("placement")
		x.str("subnetId", in.subnetID)
		x.close("launchSpecification")
		x.str("instanceId", in.id)
		x.time("createTime", in.launched)
		x.str("productDescription", "Linux/UNIX")
		x.tagSet(in.spotTags)
		x.str("launchedAvailabilityZone", in.zone)
		x.str("instanceInterruptionBehavior", "terminate")
		x.close("item")
	})
}

// Interrupt interrupts the spot instances ids for capacity now, as EC2
// does most often: their spot requests go instance-terminated-no-capacity
// at once, and the instances terminate after Options.SpotNotice (in
// sandbox time).
func (s *Sandbox) Interrupt(ids ...string) error { return s.interrupt(interruptCapacity, ids) }

// InterruptForPrice interrupts the spot instances ids because the spot
// price rose above their maximum: their spot requests are
// marked-for-termination during Options.SpotNotice, then
// instance-terminated-by-price.
func (s *Sandbox) InterruptForPrice(ids ...string) error { return s.interrupt(interruptPrice, ids) }

func (s *Sandbox) interrupt(reason string, ids []string) error {
	now := s.Now()
	defer s.update()()
	var bad []string
	for _, id := range ids {
		if in := s.world.byID[id]; in == nil || in.spotRequestID == "" {
			bad = append(bad, id)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("sandbox: not spot instances: %s", strings.Join(bad, ", "))
	}
	for _, id := range ids {
		if in := s.world.byID[id]; in.interruptAt.IsZero() {
			in.interruptAt, in.interruptReason = now, reason
		}
	}
	return nil
}
