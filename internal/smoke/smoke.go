// Package smoke runs one real cycle of a template on the configured cloud,
// as HostFactory would: request one machine, poll it to complete, check
// its name, addresses and tags, return it, poll the return, and check that
// nothing of the run is left (instance, fleet, group, launch template).
// Administrators run it (`ohfp smoke`) before they connect HostFactory;
// the tests run it against the sandbox for every launch API.
//
// Whatever happens after the launch, a failed check or Ctrl-C, the run's
// own machines are returned before it ends: they carry the run's request
// id, which is the proof of ownership the broker's return path needs.
package smoke

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/ohfp/ohfp/internal/broker"
	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/fault"
	"github.com/ohfp/ohfp/internal/store"
)

// Broker is what a run drives: the operations HostFactory calls.
type Broker interface {
	RequestMachines(ctx context.Context, in broker.MachineRequest) (broker.Granted, error)
	Status(ctx context.Context, ids []string) ([]broker.RequestStatus, error)
	ReturnMachines(ctx context.Context, refs []store.MachineRef) (id, message string, err error)
	Request(ctx context.Context, id string) (store.Request, error)
}

// Cloud tells what a run left in the cloud.
type Cloud interface {
	Instances(ctx context.Context, q cloud.Query) ([]cloud.Instance, error)
	// Remains lists what a placement keeps besides its instances.
	Remains(ctx context.Context, ref, requestID string) ([]string, error)
}

// Run is one smoke run.
type Run struct {
	Broker Broker
	Cloud  Cloud
	Config *config.Config
	Out    io.Writer
	// Poll is the time between polls; Timeout bounds each wait (the launch,
	// the return, the cleanup).
	Poll    time.Duration
	Timeout time.Duration
	// Sleep waits d or until ctx ends; time.Sleep's kind by default.
	Sleep func(ctx context.Context, d time.Duration) error
}

// RCAccount marks the smoke run's requests in the store and the log.
const RCAccount = "ohfp-smoke"

func (r *Run) say(format string, args ...any) {
	fmt.Fprintf(r.Out, format+"\n", args...)
}

func (r *Run) sleep(ctx context.Context) error {
	if r.Sleep != nil {
		return r.Sleep(ctx, r.Poll)
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(r.Poll):
		return nil
	}
}

// transient tells an answer a poll goes on from: none, or the cloud could
// not be asked this time (Status then answers the stored state).
func transient(err error) bool {
	return err == nil || fault.CodeOf(err) == fault.Cloud
}

// Template finds the template a run would launch.
func (r *Run) Template(id string) (config.Template, error) {
	t, ok := r.Config.Template(id)
	if !ok {
		return t, fault.New(fault.TemplateNotFound, "template %s not found; the templates are %s", id, strings.Join(r.Config.TemplateIDs(), ", "))
	}
	return t, nil
}

// Plan says what a run of t launches, and what it costs per hour where
// price knows it (nil or "" when it does not).
func (r *Run) Plan(t config.Template, price string) string {
	api := t.API()
	if f := t.Fleet(); f != "" {
		api += " (" + f + ")"
	}
	lines := []string{
		fmt.Sprintf("ohfp smoke will launch 1 machine of template %s in %s through %s, then return it:", t.ID, r.Config.AWS.Region, api),
		"  instance types: " + orDefault(strings.Join(Types(t), ", "), "from launch template "+t.LaunchTemplateID),
		"  image:          " + orDefault(t.ImageID, "from launch template "+t.LaunchTemplateID),
		"  subnets:        " + orDefault(strings.Join(t.SubnetIDs, ", "), "the default VPC's"),
		"  price type:     " + orDefault(t.PriceType, config.PriceOnDemand),
		"  cost per hour:  " + orDefault(price, "not known to ohfp (EC2 publishes on-demand prices outside its API): see the EC2 pricing page"),
	}
	return strings.Join(lines, "\n")
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Types are the instance types a template names, its vmType alone or its
// vmTypes sorted.
func Types(t config.Template) []string {
	if t.VMType != "" {
		return []string{t.VMType}
	}
	var out []string
	for name := range t.VMTypes {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// Launch runs the cycle for template id. After the launch, every exit
// path returns the run's machines and waits until nothing is left, even
// when ctx is cancelled (Ctrl-C).
func (r *Run) Launch(ctx context.Context, id string) (err error) {
	start := time.Now()
	t, err := r.Template(id)
	if err != nil {
		return err
	}
	g, err := r.Broker.RequestMachines(ctx, broker.MachineRequest{TemplateID: t.ID, Count: 1, RCAccount: RCAccount})
	reqID := g.ID
	if reqID == "" {
		return err
	}
	r.say("requested 1 machine: %s", reqID)
	returned := false
	defer func() {
		if returned && err == nil {
			return
		}
		// Cancelled or failed: clean up with a context of its own.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.Timeout)
		defer cancel()
		why := "the run failed"
		if ctx.Err() != nil {
			why = "the run was interrupted"
			err = fmt.Errorf("smoke interrupted: %w", ctx.Err())
		}
		r.say("%s: returning the machines of %s", why, reqID)
		err = errors.Join(err, r.cleanup(cctx, reqID))
	}()
	if err != nil {
		return err
	}

	st, err := r.wait(ctx, reqID)
	if err != nil {
		return err
	}
	m, err := r.checkMachine(ctx, t, st)
	if err != nil {
		return err
	}
	retID, _, err := r.Broker.ReturnMachines(ctx, []store.MachineRef{{Name: m.Name, InstanceID: m.InstanceID}})
	if err != nil {
		return err
	}
	r.say("returned %s: %s", m.InstanceID, retID)
	ret, err := r.wait(ctx, retID)
	if err != nil {
		return err
	}
	if ret.Status != store.StateComplete {
		return fault.New(fault.Cloud, "smoke: return %s ended %s: %s", retID, ret.Status, ret.Message)
	}
	returned = true
	if err := r.waitClean(ctx, reqID); err != nil {
		return err
	}
	r.say("smoke test of template %s passed in %v", t.ID, time.Since(start).Round(time.Second))
	return nil
}

// wait polls a request until it is no longer running.
func (r *Run) wait(ctx context.Context, id string) (broker.RequestStatus, error) {
	deadline := time.Now().Add(r.Timeout)
	last := ""
	for {
		sts, err := r.Broker.Status(ctx, []string{id})
		if !transient(err) {
			return broker.RequestStatus{}, err
		}
		if len(sts) == 1 {
			st := sts[0]
			line := fmt.Sprintf("%s %s", id, st.Status)
			for _, m := range st.Machines {
				line += fmt.Sprintf(", %s %s (%s)", m.InstanceID, m.Result, m.State)
			}
			if line != last {
				r.say("%s", line)
				last = line
			}
			if st.Status != store.StateRunning {
				return st, nil
			}
		}
		if time.Now().After(deadline) {
			return broker.RequestStatus{}, fault.New(fault.Cloud, "smoke: %s still running after %v", id, r.Timeout)
		}
		if err := r.sleep(ctx); err != nil {
			return broker.RequestStatus{}, err
		}
	}
}

// checkMachine checks that the request got its one machine, with a host
// name, a private address and ohfp's tags.
func (r *Run) checkMachine(ctx context.Context, t config.Template, st broker.RequestStatus) (store.Machine, error) {
	if st.Status != store.StateComplete || len(st.Machines) != 1 || st.Machines[0].Result != store.ResultSucceed {
		return store.Machine{}, fault.New(fault.Cloud, "smoke: request %s ended %s with %d machines: %s", st.ID, st.Status, len(st.Machines), st.Message)
	}
	m := st.Machines[0].Machine
	var problems []string
	if m.Name == "" {
		problems = append(problems, "no host name")
	}
	if m.PrivateIP == "" {
		problems = append(problems, "no private IP address")
	}
	insts, err := r.Cloud.Instances(ctx, cloud.Query{InstanceIDs: []string{m.InstanceID}})
	if err != nil {
		return m, err
	}
	if len(insts) != 1 {
		return m, fault.New(fault.Cloud, "smoke: instance %s is not found", m.InstanceID)
	}
	want := map[string]string{cloud.TagRequestID: st.ID, cloud.TagTemplateID: t.ID, cloud.TagProvider: r.Config.ProviderName}
	for _, tag := range t.InstanceTags {
		want[tag.Key] = tag.Value
	}
	for k, v := range want {
		if got := insts[0].Tags[k]; got != v {
			problems = append(problems, fmt.Sprintf("tag %s is %q, want %q", k, got, v))
		}
	}
	slices.Sort(problems)
	r.say("machine %s: name %s, private IP %s, public IP %s, %d tags", m.InstanceID, m.Name, m.PrivateIP, orDefault(m.PublicIP, "none"), len(insts[0].Tags))
	if len(problems) > 0 {
		return m, fault.New(fault.Cloud, "smoke: machine %s: %s", m.InstanceID, strings.Join(problems, "; "))
	}
	return m, nil
}

// cleanup returns every machine of the request not returned yet, then
// waits until nothing of it is left.
func (r *Run) cleanup(ctx context.Context, reqID string) error {
	sts, err := r.Broker.Status(ctx, []string{reqID})
	if !transient(err) {
		return err
	}
	var refs []store.MachineRef
	for _, st := range sts {
		for _, m := range st.Machines {
			if m.ReturnID == "" && m.InstanceID != "" {
				refs = append(refs, store.MachineRef{Name: m.Name, InstanceID: m.InstanceID})
			}
		}
	}
	if len(refs) > 0 {
		retID, _, err := r.Broker.ReturnMachines(ctx, refs)
		if err != nil {
			return err
		}
		r.say("returned %d machines: %s", len(refs), retID)
		if _, err := r.wait(ctx, retID); err != nil {
			return err
		}
	}
	return r.waitClean(ctx, reqID)
}

// waitClean polls until no instance of the request is alive and its
// placement keeps nothing in the cloud. Each poll of the request lets the
// broker retire what its placement kept.
func (r *Run) waitClean(ctx context.Context, reqID string) error {
	deadline := time.Now().Add(r.Timeout)
	for {
		left, err := r.left(ctx, reqID)
		if err != nil {
			return err
		}
		if len(left) == 0 {
			r.say("nothing of %s is left: no live instance, fleet, group or launch template", reqID)
			return nil
		}
		if time.Now().After(deadline) {
			return fault.New(fault.Cloud, "smoke: after %v, %s left: %s", r.Timeout, reqID, strings.Join(left, "; "))
		}
		if err := r.sleep(ctx); err != nil {
			return fmt.Errorf("%w; left: %s", err, strings.Join(left, "; "))
		}
		if _, err := r.Broker.Status(ctx, []string{reqID}); !transient(err) {
			return err
		}
	}
}

// left lists what of the request is still in the cloud.
func (r *Run) left(ctx context.Context, reqID string) ([]string, error) {
	insts, err := r.Cloud.Instances(ctx, cloud.Query{RequestIDs: []string{reqID}})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, in := range insts {
		if in.State.Live() {
			out = append(out, fmt.Sprintf("instance %s (%s)", in.ID, in.State))
		}
	}
	req, err := r.Broker.Request(ctx, reqID)
	if err != nil {
		return nil, err
	}
	rem, err := r.Cloud.Remains(ctx, req.CloudRef, reqID)
	return append(out, rem...), err
}
