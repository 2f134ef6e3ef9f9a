package sandbox

import (
	"fmt"
	"net/http"
	"time"
)

// Quotas are the account's limits on running capacity, as EC2 applies
// them at launch (0: no limit). Launches, whether by RunInstances, a fleet
// or a group, fail beyond them with EC2's errors: InstanceLimitExceeded
// (instances), VcpuLimitExceeded (on-demand vCPUs) and
// MaxSpotInstanceCountExceeded (spot vCPUs).
type Quotas struct {
	Instances     int `json:"instances"`
	OnDemandVCPUs int `json:"onDemandVcpus"`
	SpotVCPUs     int `json:"spotVcpus"`
}

// SetQuotas sets the account's quotas; the zero Quotas lifts them.
func (s *Sandbox) SetQuotas(q Quotas) error {
	if q.Instances < 0 || q.OnDemandVCPUs < 0 || q.SpotVCPUs < 0 {
		return fmt.Errorf("sandbox: quotas must be 0 (none) or more")
	}
	defer s.update()()
	s.world.quotas = q
	return nil
}

// QuotasInForce are the account's quotas.
func (s *Sandbox) QuotasInForce() Quotas {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.world.quotas
}

// withinQuotas is how many of n instances of typ the quotas let launch
// now, and when fewer, EC2's error. Caller holds s.mu.
func (s *Sandbox) withinQuotas(typ string, spot bool, n int, now time.Time) (int, *apiError) {
	q := s.world.quotas
	if q == (Quotas{}) {
		return n, nil
	}
	vcpus := 1
	if it, ok := instanceTypeByName(typ); ok {
		vcpus = it.VCPUs
	}
	running, odVCPUs, spotVCPUs := 0, 0, 0
	for _, in := range s.world.instances {
		if !active(&s.opts, in, now) {
			continue
		}
		running++
		v := 1
		if it, ok := instanceTypeByName(in.instanceType); ok {
			v = it.VCPUs
		}
		if in.spotRequestID != "" {
			spotVCPUs += v
		} else {
			odVCPUs += v
		}
	}
	fits, err := n, (*apiError)(nil)
	if q.Instances > 0 && running+fits > q.Instances {
		fits = max(q.Instances-running, 0)
		err = apiErrorf(http.StatusBadRequest, "InstanceLimitExceeded",
			"Your quota allows for %d more running instance(s). You requested %d.", fits, n)
	}
	used, limit, code, msg := odVCPUs, q.OnDemandVCPUs, "VcpuLimitExceeded",
		"You have requested more vCPU capacity than your current vCPU limit of %d allows for the instance bucket that the specified instance type belongs to. Please visit http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit."
	if spot {
		used, limit, code, msg = spotVCPUs, q.SpotVCPUs, "MaxSpotInstanceCountExceeded",
			"Max spot instance count exceeded (your limit is %d vCPUs)."
	}
	if limit > 0 && used+fits*vcpus > limit {
		fits = max((limit-used)/vcpus, 0)
		err = apiErrorf(http.StatusBadRequest, code, msg, limit)
	}
	return fits, err
}
