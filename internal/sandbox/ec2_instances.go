package sandbox

import (
	"cmp"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// EC2 instance states and their codes.
const (
	StatePending      = "pending"
	StateRunning      = "running"
	StateShuttingDown = "shutting-down"
	StateTerminated   = "terminated"
	StateStopping     = "stopping"
	StateStopped      = "stopped"
)

var stateCodes = map[string]int64{
	StatePending: 0, StateRunning: 16, StateShuttingDown: 32,
	StateTerminated: 48, StateStopping: 64, StateStopped: 80,
}

// instance is one launched instance. Its state is never stored: it follows
// from the timestamps and the sandbox clock on every read, so idle instances
// cost nothing.
type instance struct {
	seq           uint64
	id            string
	reservationID string
	clientToken   string
	launchIndex   int
	imageID       string
	instanceType  string
	arch          string
	subnetID      string
	zone          string
	vpcID         string
	privateIP     string
	privateDNS    string
	keyName       string
	groups        []string
	iamProfileArn string
	templateID    string
	ebsOptimized  bool
	userData      string   // base64
	interfaces    []string // network interface types, when RunInstances named them
	tags          []tag    // copy on write: readers may hold the old slice
	volumeTags    []tag

	spotRequestID string // "" for on-demand
	spotMaxPrice  string
	spotTags      []tag

	protected   bool // termination protection (disableApiTermination)
	launched    time.Time
	terminateAt time.Time // when TerminateInstances was called
	interruptAt time.Time // when the spot interruption notice was given
	// interruptReason is why: interruptCapacity or interruptPrice.
	interruptReason string
}

// shutdown is when the instance began shutting down, and whether a spot
// interruption (rather than the user) did it.
func (in *instance) shutdown(o *Options) (at time.Time, interrupted bool, ok bool) {
	at = in.terminateAt
	if !in.interruptAt.IsZero() {
		if end := in.interruptAt.Add(o.SpotNotice); at.IsZero() || end.Before(at) {
			at, interrupted = end, true
		}
	}
	return at, interrupted, !at.IsZero()
}

// state is the instance's state at now.
func (in *instance) state(o *Options, now time.Time) string {
	if at, _, ok := in.shutdown(o); ok && !now.Before(at) {
		if now.Before(at.Add(o.ShutdownDelay)) {
			return StateShuttingDown
		}
		return StateTerminated
	}
	if now.Before(in.launched.Add(o.PendingDelay)) {
		return StatePending
	}
	return StateRunning
}

// gone tells whether the instance has dropped out of EC2's answers for good.
func (in *instance) gone(o *Options, now time.Time) bool {
	at, _, ok := in.shutdown(o)
	return ok && !now.Before(at.Add(o.ShutdownDelay+o.TerminatedRetention))
}

// visible tells whether Describe and the other calls by id see the instance.
func (in *instance) visible(o *Options, now time.Time) bool {
	return !now.Before(in.launched.Add(o.ConsistencyDelay)) && !in.gone(o, now)
}

// Instance is a snapshot of one sandbox instance.
type Instance struct {
	ID               string            `json:"id"`
	ReservationID    string            `json:"reservationId"`
	Type             string            `json:"type"`
	ImageID          string            `json:"imageId"`
	State            string            `json:"state"`
	SubnetID         string            `json:"subnetId"`
	Zone             string            `json:"zone"`
	PrivateIP        string            `json:"privateIp"`
	PrivateDNS       string            `json:"privateDns"`
	KeyName          string            `json:"keyName,omitempty"`
	SecurityGroupIDs []string          `json:"securityGroupIds,omitempty"`
	LaunchTemplateID string            `json:"launchTemplateId,omitempty"`
	ClientToken      string            `json:"clientToken,omitempty"`
	Tags             map[string]string `json:"tags"`
	VolumeTags       map[string]string `json:"volumeTags,omitempty"`
	UserData         string            `json:"userData,omitempty"`   // decoded
	Interfaces       []string          `json:"interfaces,omitempty"` // network interface types asked for
	Spot             bool              `json:"spot"`
	SpotRequestID    string            `json:"spotRequestId,omitempty"`
	LaunchTime       time.Time         `json:"launchTime"`
	// Visible is false while the consistency delay hides the instance.
	Visible bool `json:"visible"`
}

// Instances lists every instance not yet purged, in launch order.
func (s *Sandbox) Instances() []Instance {
	return s.InstancesWithTag("", "")
}

// InstancesWithTag lists the instances carrying tag key (with value, unless
// value is ""); key "" lists all.
func (s *Sandbox) InstancesWithTag(key, value string) []Instance {
	now := s.Now()
	s.settle(now)
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []Instance{}
	for _, in := range s.world.instances {
		if in.gone(&s.opts, now) || (key != "" && !hasTag(in.tags, key, value)) {
			continue
		}
		tags := make(map[string]string, len(in.tags))
		for _, t := range in.tags {
			tags[t.Key] = t.Value
		}
		userData, _ := base64.StdEncoding.DecodeString(in.userData)
		out = append(out, Instance{
			ID: in.id, ReservationID: in.reservationID, Type: in.instanceType, ImageID: in.imageID,
			State: in.state(&s.opts, now), SubnetID: in.subnetID, Zone: in.zone,
			PrivateIP: in.privateIP, PrivateDNS: in.privateDNS, KeyName: in.keyName,
			SecurityGroupIDs: slices.Clone(in.groups), LaunchTemplateID: in.templateID,
			ClientToken: in.clientToken, Tags: tags, VolumeTags: tagMap(in.volumeTags),
			UserData: string(userData), Interfaces: slices.Clone(in.interfaces), Spot: in.spotRequestID != "",
			SpotRequestID: in.spotRequestID, LaunchTime: in.launched,
			Visible: in.visible(&s.opts, now),
		})
	}
	return out
}

func hasTag(tags []tag, key, value string) bool {
	for _, t := range tags {
		if t.Key == key && (value == "" || t.Value == value) {
			return true
		}
	}
	return false
}

func (s *Sandbox) privateDNS(ip string) string {
	host := "ip-" + strings.ReplaceAll(ip, ".", "-")
	if s.opts.Region == "us-east-1" {
		return host + ".ec2.internal"
	}
	return host + "." + s.opts.Region + ".compute.internal"
}

// purge forgets instances past their retention, and the deleted fleets
// whose instances are all forgotten. Caller holds s.mu.
func (s *Sandbox) purge(now time.Time) {
	w := &s.world
	kept := w.instances[:0]
	for _, in := range w.instances {
		if !in.gone(&s.opts, now) {
			kept = append(kept, in)
			continue
		}
		delete(w.byID, in.id)
		delete(w.bySpotID, in.spotRequestID)
		if sn := w.subnets[in.subnetID]; sn != nil {
			sn.release(in.privateIP)
		}
	}
	clear(w.instances[len(kept):])
	w.instances = kept
	s.purgeFleets(now)
}

// writeReservation answers RunInstances with one reservation.
func (s *Sandbox) writeReservation(c *call, resID string, groups, ids []string) {
	ec2Reply(c, func(x xmlw) {
		x.str("reservationId", resID)
		x.str("ownerId", s.opts.AccountID)
		s.writeGroups(x, groups)
		x.open("instancesSet")
		for _, id := range ids {
			if in := s.world.byID[id]; in != nil {
				s.writeInstance(x, in, c.now)
			}
		}
		x.close("instancesSet")
	})
}

func (s *Sandbox) writeGroups(x xmlw, groups []string) {
	x.open("groupSet")
	for _, g := range groups {
		x.open("item")
		x.str("groupId", g)
		x.str("groupName", s.world.groups[g])
		x.close("item")
	}
	x.close("groupSet")
}

// writeInstance writes one instancesSet item. Caller holds s.mu.
func (s *Sandbox) writeInstance(x xmlw, in *instance, now time.Time) {
	state := in.state(&s.opts, now)
	x.open("item")
	x.str("instanceId", in.id)
	x.str("imageId", in.imageID)
	writeState(x, "instanceState", state)
	x.str("privateDnsName", in.privateDNS)
	x.str("keyName", in.keyName)
	x.int("amiLaunchIndex", int64(in.launchIndex))
	x.str("instanceType", in.instanceType)
	x.time("launchTime", in.launched)
	if t, ok := instanceTypeByName(in.instanceType); ok {
		x.open("cpuOptions")
		x.int("coreCount", int64(t.cores()))
		x.int("threadsPerCore", int64(t.Threads))
		x.close("cpuOptions")
	}
	x.open("placement")
	x.str("availabilityZone", in.zone)
	x.str("tenancy", "default")
	x.close("placement")
	x.open("monitoring")
	x.str("state", "disabled")
	x.close("monitoring")
	x.str("subnetId", in.subnetID)
	x.str("vpcId", in.vpcID)
	x.str("privateIpAddress", in.privateIP)
	s.writeGroups(x, in.groups)
	if at, interrupted, ok := in.shutdown(&s.opts); ok && !now.Before(at) {
		code, msg := "Client.UserInitiatedShutdown", "Client.UserInitiatedShutdown: User initiated shutdown"
		if interrupted {
			code, msg = "Server.SpotInstanceTermination", "Server.SpotInstanceTermination: Spot instance termination"
		}
		x.str("reason", "User initiated ("+at.Format("2006-01-02 15:04:05 MST")+")")
		x.open("stateReason")
		x.str("code", code)
		x.str("message", msg)
		x.close("stateReason")
	}
	x.str("architecture", in.arch)
	x.str("rootDeviceType", "ebs")
	x.str("rootDeviceName", "/dev/xvda")
	if in.iamProfileArn != "" {
		x.open("iamInstanceProfile")
		x.str("arn", in.iamProfileArn)
		x.close("iamInstanceProfile")
	}
	x.bool("ebsOptimized", in.ebsOptimized)
	if in.spotRequestID != "" {
		x.str("instanceLifecycle", "spot")
		x.str("spotInstanceRequestId", in.spotRequestID)
	}
	x.str("virtualizationType", "hvm")
	x.str("clientToken", in.clientToken)
	x.tagSet(in.tags)
	x.str("hypervisor", "xen")
	x.close("item")
}

func writeState(x xmlw, element, state string) {
	x.open(element)
	x.int("code", stateCodes[state])
	x.str("name", state)
	x.close(element)
}

// lookup finds the visible instances with ids, failing like EC2 on any
// malformed or unknown id. Caller holds s.mu.
func (s *Sandbox) lookup(ids []string, now time.Time) ([]*instance, error) {
	out := make([]*instance, 0, len(ids))
	var missing []string
	for _, id := range ids {
		if !strings.HasPrefix(id, "i-") {
			return nil, badParamCode("InvalidInstanceID.Malformed", "Invalid id: \"%s\"", id)
		}
		in := s.world.byID[id]
		if in == nil || !in.visible(&s.opts, now) {
			missing = append(missing, id)
			continue
		}
		out = append(out, in)
	}
	switch len(missing) {
	case 0:
		return out, nil
	case 1:
		return nil, badParamCode("InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", missing[0])
	default:
		return nil, badParamCode("InvalidInstanceID.NotFound", "The instance IDs '%s' do not exist", strings.Join(missing, ", "))
	}
}

// instanceFilters maps DescribeInstances filter names to the field they test.
var instanceFilters = map[string]field[*instance]{
	"instance-id":         func(_ *Sandbox, in *instance, _ time.Time) string { return in.id },
	"instance-state-name": func(s *Sandbox, in *instance, now time.Time) string { return in.state(&s.opts, now) },
	"instance-state-code": func(s *Sandbox, in *instance, now time.Time) string {
		return strconv.FormatInt(stateCodes[in.state(&s.opts, now)], 10)
	},
	"instance-type":            func(_ *Sandbox, in *instance, _ time.Time) string { return in.instanceType },
	"image-id":                 func(_ *Sandbox, in *instance, _ time.Time) string { return in.imageID },
	"subnet-id":                func(_ *Sandbox, in *instance, _ time.Time) string { return in.subnetID },
	"vpc-id":                   func(_ *Sandbox, in *instance, _ time.Time) string { return in.vpcID },
	"availability-zone":        func(_ *Sandbox, in *instance, _ time.Time) string { return in.zone },
	"reservation-id":           func(_ *Sandbox, in *instance, _ time.Time) string { return in.reservationID },
	"client-token":             func(_ *Sandbox, in *instance, _ time.Time) string { return in.clientToken },
	"key-name":                 func(_ *Sandbox, in *instance, _ time.Time) string { return in.keyName },
	"private-ip-address":       func(_ *Sandbox, in *instance, _ time.Time) string { return in.privateIP },
	"private-dns-name":         func(_ *Sandbox, in *instance, _ time.Time) string { return in.privateDNS },
	"spot-instance-request-id": func(_ *Sandbox, in *instance, _ time.Time) string { return in.spotRequestID },
	"instance-lifecycle": func(_ *Sandbox, in *instance, _ time.Time) string {
		if in.spotRequestID != "" {
			return "spot"
		}
		return ""
	},
}

func instanceTags(in *instance) []tag { return in.tags }

func (s *Sandbox) describeInstances(c *call) error {
	ids := c.form.list("InstanceId")
	if err := checkIDCount(ids); err != nil {
		return err
	}
	if len(ids) > 0 && c.form.has("MaxResults") {
		return badParamCode("InvalidParameterCombination", "The parameter instancesSet cannot be used with the parameter maxResults")
	}
	preds, err := predicates(c, instanceFilters, instanceTags)
	if err != nil {
		return err
	}
	max, err := maxResults(c, 5, 1000)
	if err != nil {
		return err
	}
	// NextToken is the seq of the next instance: stable while others launch.
	from, err := nextToken(c)
	if err != nil {
		return err
	}

	s.mu.RLock()
	defer s.mu.RUnlock()
	candidates := s.world.instances
	if len(ids) > 0 {
		if candidates, err = s.lookup(ids, c.now); err != nil {
			return err
		}
		slices.SortFunc(candidates, func(a, b *instance) int { return cmp.Compare(a.seq, b.seq) })
		candidates = slices.CompactFunc(candidates, func(a, b *instance) bool { return a == b })
	}
	ec2Reply(c, func(x xmlw) {
		x.open("reservationSet")
		n, open := 0, ""
		var next *instance
		for _, in := range candidates {
			if in.seq < uint64(from) || !in.visible(&s.opts, c.now) || !matchAll(s, preds, in, c.now) {
				continue
			}
			if max > 0 && n == max {
				next = in
				break
			}
			if in.reservationID != open {
				if open != "" {
					x.close("instancesSet")
					x.close("item")
				}
				open = in.reservationID
				x.open("item")
				x.str("reservationId", in.reservationID)
				x.str("ownerId", s.opts.AccountID)
				s.writeGroups(x, in.groups)
				x.open("instancesSet")
			}
			s.writeInstance(x, in, c.now)
			n++
		}
		if open != "" {
			x.close("instancesSet")
			x.close("item")
		}
		x.close("reservationSet")
		if next != nil {
			x.str("nextToken", encodeToken(int(next.seq)))
		}
	})
	return nil
}

func (s *Sandbox) terminateInstances(c *call) error {
	ids := c.form.list("InstanceId")
	if len(ids) == 0 {
		return apiErrorf(http.StatusBadRequest, "MissingParameter", "The request must contain the parameter InstanceId")
	}
	if err := checkIDCount(ids); err != nil {
		return err
	}
	defer s.update()()
	found, err := s.lookup(ids, c.now)
	if err != nil {
		return err
	}
	// A protected instance fails the call, and keeps every instance of
	// its Availability Zone that the call names from terminating; those of
	// other zones terminate all the same.
	var refused error
	held := map[string]bool{}
	for _, in := range found {
		if in.protected {
			held[in.zone] = true
			if refused == nil {
				refused = apiErrorf(http.StatusBadRequest, "OperationNotPermitted",
					"The instance '%s' may not be terminated. Modify its 'disableApiTermination' instance attribute and try again.", in.id)
			}
		}
	}
	if refused != nil {
		for _, in := range found {
			if !held[in.zone] && in.terminateAt.IsZero() && active(&s.opts, in, c.now) {
				in.terminateAt = c.now
			}
		}
		return refused
	}
	ec2Reply(c, func(x xmlw) {
		x.open("instancesSet")
		for _, in := range found {
			prev := in.state(&s.opts, c.now)
			if in.terminateAt.IsZero() && prev != StateShuttingDown && prev != StateTerminated {
				in.terminateAt = c.now
			}
			x.open("item")
			x.str("instanceId", in.id)
			writeState(x, "currentState", in.state(&s.opts, c.now))
			writeState(x, "previousState", prev)
			x.close("item")
		}
		x.close("instancesSet")
	})
	return nil
}

// Protect turns on the termination protection of the instances ids, as
// ModifyInstanceAttribute DisableApiTermination would.
func (s *Sandbox) Protect(ids ...string) error {
	defer s.update()()
	for _, id := range ids {
		if s.world.byID[id] == nil {
			return fmt.Errorf("sandbox: no instance %s", id)
		}
	}
	for _, id := range ids {
		s.world.byID[id].protected = true
	}
	return nil
}
