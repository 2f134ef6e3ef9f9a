// Package fake is an in-process cloud for unit tests of the broker: it keeps
// instances in memory, launches and terminates at once, answers by the
// rules of cloud.Query, and fails any call on demand. Time comes from a
// Clock the test moves, so no test waits.
package fake

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/config"
)

// Clock is a clock that moves only when told to.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock makes a clock showing start.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now tells the time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set puts the clock at t, forward or back.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Advance moves the clock by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Methods of the cloud, as Fail and Calls name them.
const (
	Launch        = "Launch"
	Instances     = "Instances"
	Terminate     = "Terminate"
	InstanceTypes = "InstanceTypes"
	Fulfilment    = "Fulfilment"
	Release       = "Release"
	Retire        = "Retire"
	Interruptions = "Interruptions"
	Tag           = "Tag"
)

// Call is one call the cloud answered or refused.
type Call struct {
	Method string
	Ref    string   // Release and Retire
	IDs    []string // Terminate, Release, Interruptions; Launch: the ids launched
	Spec   cloud.LaunchSpec
	Query  cloud.Query
}

// Cloud is the fake. Its zero value is not usable; make one with New.
type Cloud struct {
	clock *Clock

	mu        sync.Mutex
	order     []string // instance ids, in launch order
	instances map[string]*cloud.Instance
	hidden    map[string]bool // launched but not yet visible to Instances
	tokens    map[string]cloud.Placement
	fails     map[string]error
	calls     []Call
	next      int

	// LaunchState is the state new instances start in (default pending).
	LaunchState cloud.State
	// LaunchShort is how many machines each launch falls short of its count.
	LaunchShort int
	// Unnamed leaves new instances without a private DNS name, as some VPC
	// settings and other EC2 endpoints do.
	Unnamed bool
	// Ongoing makes launches report that the cloud keeps launching.
	Ongoing bool
	// Types answers InstanceTypes.
	Types map[string]cloud.TypeFacts
	// Progress answers Fulfilment, by placement ref.
	Progress map[string]cloud.Fulfilment
	// Marks answers Interruptions: when each spot instance was marked.
	Marks map[string]time.Time
}

// New makes an empty cloud on clock.
func New(clock *Clock) *Cloud {
	return &Cloud{
		clock:     clock,
		instances: map[string]*cloud.Instance{},
		hidden:    map[string]bool{},
		tokens:    map[string]cloud.Placement{},
		fails:     map[string]error{},
		Types:     map[string]cloud.TypeFacts{},
		Progress:  map[string]cloud.Fulfilment{},
		Marks:     map[string]time.Time{},
	}
}

// Fail makes every later call of method fail with err; nil heals it.
func (c *Cloud) Fail(method string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil {
		delete(c.fails, method)
		return
	}
	c.fails[method] = err
}

// Calls lists the calls of method (every call when method is "").
func (c *Cloud) Calls(method string) []Call {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Call
	for _, call := range c.calls {
		if method == "" || call.Method == method {
			out = append(out, call)
		}
	}
	return out
}

// Terminated lists the ids every Terminate call named, in order.
func (c *Cloud) Terminated() []string {
	var ids []string
	for _, call := range c.Calls(Terminate) {
		ids = append(ids, call.IDs...)
	}
	return ids
}

// record notes a call and returns the error it was told to fail with.
func (c *Cloud) record(call Call) error {
	c.calls = append(c.calls, call)
	return c.fails[call.Method]
}

// Add puts an instance into the cloud as it is, as if something else had
// launched it: tests of adoption and reconciliation start from it.
func (c *Cloud) Add(inst cloud.Instance) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.add(inst)
}

func (c *Cloud) add(inst cloud.Instance) {
	if _, ok := c.instances[inst.ID]; !ok {
		c.order = append(c.order, inst.ID)
	}
	inst.Tags = maps.Clone(inst.Tags)
	c.instances[inst.ID] = &inst
}

// Set changes the state of an instance, with the reason the cloud gives.
func (c *Cloud) Set(id string, state cloud.State, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if in, ok := c.instances[id]; ok {
		in.State, in.StateReason = state, reason
	}
}

// Hide makes an instance invisible to Instances, as EC2's eventual
// consistency does for moments after a launch; Show ends it.
func (c *Cloud) Hide(id string) { c.setHidden(id, true) }

// Show makes a hidden instance visible.
func (c *Cloud) Show(id string) { c.setHidden(id, false) }

func (c *Cloud) setHidden(id string, hidden bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if hidden {
		c.hidden[id] = true
	} else {
		delete(c.hidden, id)
	}
}

// Remove makes an instance vanish, as EC2 does some time after it is
// terminated.
func (c *Cloud) Remove(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.instances, id)
	c.order = slices.DeleteFunc(c.order, func(x string) bool { return x == id })
}

// Instance returns an instance as the cloud holds it.
func (c *Cloud) Instance(id string) (cloud.Instance, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	in, ok := c.instances[id]
	if !ok {
		return cloud.Instance{}, false
	}
	return copyOf(in), true
}

// All lists every instance, in launch order.
func (c *Cloud) All() []cloud.Instance {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]cloud.Instance, 0, len(c.order))
	for _, id := range c.order {
		out = append(out, copyOf(c.instances[id]))
	}
	return out
}

func copyOf(in *cloud.Instance) cloud.Instance {
	out := *in
	out.Tags = maps.Clone(in.Tags)
	return out
}

// Launch starts spec.Count instances (less LaunchShort) tagged as ohfp
// tags them; a ClientToken seen before returns the first answer again.
func (c *Cloud) Launch(_ context.Context, spec cloud.LaunchSpec) (cloud.Placement, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.record(Call{Method: Launch, Spec: spec}); err != nil {
		return cloud.Placement{}, err
	}
	if p, ok := c.tokens[spec.ClientToken]; ok && spec.ClientToken != "" {
		return p, nil
	}
	c.next++
	p := cloud.Placement{Ref: fmt.Sprintf("r-%04d", c.next), Ongoing: c.Ongoing}
	state := c.LaunchState
	if state == cloud.Unknown {
		state = cloud.Pending
	}
	for range max(spec.Count-c.LaunchShort, 0) {
		c.next++
		inst := cloud.Instance{
			ID:           fmt.Sprintf("i-%04d", c.next),
			Name:         fmt.Sprintf("ip-10-0-0-%d.ec2.internal", c.next),
			PrivateIP:    fmt.Sprintf("10.0.0.%d", c.next),
			State:        state,
			InstanceType: spec.Template.VMType,
			Spot:         spec.Template.PriceType == config.PriceSpot,
			LaunchTime:   c.clock.Now(),
			// EC2 describes the CPU options of the type's defaults.
			Cores:          c.Types[spec.Template.VMType].Cores,
			ThreadsPerCore: c.Types[spec.Template.VMType].VCPUs / max(c.Types[spec.Template.VMType].Cores, 1),
			Tags: map[string]string{
				cloud.TagRequestID:  spec.RequestID,
				cloud.TagTemplateID: spec.Template.ID,
				cloud.TagProvider:   spec.ProviderName,
			},
		}
		if c.Unnamed {
			inst.Name = ""
		}
		if spec.InstallationID != "" { // a launch from before installation ids has none
			inst.Tags[cloud.TagInstallation] = spec.InstallationID
		}
		c.add(inst)
		p.Instances = append(p.Instances, inst)
	}
	c.calls[len(c.calls)-1].IDs = ids(p.Instances)
	c.tokens[spec.ClientToken] = p
	return p, nil
}

func ids(insts []cloud.Instance) []string {
	out := make([]string, len(insts))
	for i, in := range insts {
		out[i] = in.ID
	}
	return out
}

// Instances answers q by its rules: the instances tagged with one of
// q.RequestIDs, those named by q.InstanceIDs, those named by q.Settling
// that have left pending, and the live ones of q.Provider. Hidden
// instances are left out.
func (c *Cloud) Instances(_ context.Context, q cloud.Query) ([]cloud.Instance, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.record(Call{Method: Instances, Query: q}); err != nil {
		return nil, err
	}
	var out []cloud.Instance
	for _, id := range c.order {
		in := c.instances[id]
		if c.hidden[id] {
			continue
		}
		byRequest := slices.Contains(q.RequestIDs, in.Tags[cloud.TagRequestID])
		byID := slices.Contains(q.InstanceIDs, id) || slices.Contains(q.Settling, id) && in.State.Settled()
		byProvider := q.Provider != "" && in.Tags[cloud.TagProvider] == q.Provider && in.State.Live()
		if byRequest || byID || byProvider {
			out = append(out, copyOf(in))
		}
	}
	return out, nil
}

// Terminate moves the named instances to shutting-down; unknown ids and
// instances already going are not an error.
func (c *Cloud) Terminate(_ context.Context, ids []string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.record(Call{Method: Terminate, IDs: slices.Clone(ids)}); err != nil {
		return err
	}
	for _, id := range ids {
		if in, ok := c.instances[id]; ok && in.State.Live() {
			in.State, in.StateReason = cloud.ShuttingDown, "Client.UserInitiatedShutdown: User initiated shutdown"
		}
	}
	return nil
}

// InstanceTypes answers from Types.
func (c *Cloud) InstanceTypes(_ context.Context, names []string) (map[string]cloud.TypeFacts, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.record(Call{Method: InstanceTypes, IDs: slices.Clone(names)}); err != nil {
		return nil, err
	}
	out := map[string]cloud.TypeFacts{}
	for _, n := range names {
		if f, ok := c.Types[n]; ok {
			out[n] = f
		}
	}
	return out, nil
}

// Fulfilment answers from Progress.
func (c *Cloud) Fulfilment(_ context.Context, refs []string) (map[string]cloud.Fulfilment, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.record(Call{Method: Fulfilment, IDs: slices.Clone(refs)}); err != nil {
		return nil, err
	}
	out := map[string]cloud.Fulfilment{}
	for _, r := range refs {
		if f, ok := c.Progress[r]; ok {
			out[r] = f
		}
	}
	return out, nil
}

// Release records the call.
func (c *Cloud) Release(_ context.Context, ref string, ids []string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.record(Call{Method: Release, Ref: ref, IDs: slices.Clone(ids)})
}

// Retire records the call.
func (c *Cloud) Retire(_ context.Context, ref string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.record(Call{Method: Retire, Ref: ref})
}

// Interruptions answers from Marks.
func (c *Cloud) Interruptions(_ context.Context, ids []string) (map[string]time.Time, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.record(Call{Method: Interruptions, IDs: slices.Clone(ids)}); err != nil {
		return nil, err
	}
	out := map[string]time.Time{}
	for _, id := range ids {
		if t, ok := c.Marks[id]; ok {
			out[id] = t
		}
	}
	return out, nil
}

// Tag adds tags to the named instances; unknown ids are skipped.
func (c *Cloud) Tag(_ context.Context, ids []string, tags map[string]string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.record(Call{Method: Tag, IDs: slices.Clone(ids)}); err != nil {
		return err
	}
	for _, id := range ids {
		if in, ok := c.instances[id]; ok {
			maps.Copy(in.Tags, tags)
		}
	}
	return nil
}
