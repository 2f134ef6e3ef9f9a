package broker

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/ohfp/ohfp/internal/access"
	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/fault"
	"github.com/ohfp/ohfp/internal/lsf"
	"github.com/ohfp/ohfp/internal/store"
)

// MachineRequest is what requestMachines asks for.
type MachineRequest struct {
	TemplateID string
	Count      int
	RCAccount  string
	// Tags are the request's own instance tags (the OHFP guides' request
	// attributes), checked with config.CheckTag.
	Tags     []config.Tag
	UserData []byte // LSF's userData object; its keys are kept with the request
	User     string // the principal asking: a policy's Consumer.user
}

// RequestMachines stores a request for as many of the machines asked for
// as the policies admit, places it with the cloud and returns its id. The request is written before the cloud is called, with the
// idempotency token the call carries, so a crash in between is repaired by a
// later invocation repeating the same call.
func (b *Broker) RequestMachines(ctx context.Context, in MachineRequest) (Granted, error) {
	defer b.flushEvents(ctx)
	b.recoverPending(ctx)
	t, err := b.template(in.TemplateID)
	if err != nil {
		return Granted{}, err
	}
	b.log.Debug("template chosen", "template_id", t.ID, "api", t.API(), "price_type", t.PriceType,
		"max_number", t.MaxNumber, "count", in.Count, "rc_account", in.RCAccount)
	if err := b.allow(access.Request, t.ID); err != nil {
		return Granted{}, err
	}
	if in.Count <= 0 {
		return Granted{}, fault.New(fault.InvalidRequest, "machineCount must be a positive integer, got %d", in.Count)
	}
	if n := len(config.MergeTags(t.InstanceTags, in.Tags)); n > config.MaxInstanceTags {
		return Granted{}, fault.New(fault.InvalidRequest, "attributes and the instanceTags of template '%s' come to %d tags, more than the %d an instance may take beside ohfp's own", t.ID, n, config.MaxInstanceTags).
			With("field", "attributes")
	}
	if t.MaxNumber >= 0 && in.Count > t.MaxNumber {
		return Granted{}, fault.New(fault.InvalidRequest, "machineCount %d is above maxNumber %d of template '%s'", in.Count, t.MaxNumber, t.ID).
			With("maxNumber", t.MaxNumber)
	}
	snapshot, err := json.Marshal(t.AtRest())
	if err != nil {
		return Granted{}, fault.Wrap(fault.Internal, err, "recording template %s", t.ID)
	}
	id := "req-" + uuid.NewString()
	r := store.Request{
		ID:           id,
		Kind:         store.KindCreate,
		TemplateID:   t.ID,
		Template:     snapshot,
		MachineCount: in.Count,
		Outstanding:  in.Count,
		RCAccount:    in.RCAccount,
		Tags:         in.Tags,
		UserData:     userDataAtRest(in.UserData),
		ClientToken:  id,
		State:        store.StatePending,
		CreatedAt:    b.now(),
	}
	note, err := b.admit(ctx, &r, t, b.caller(in))
	if err != nil {
		return Granted{}, err
	}
	b.log.Info("request stored", "request_id", id, "template_id", t.ID, "machine_count", r.MachineCount, "asked", in.Count)
	b.note(id, "", ActionRequestStored, fmt.Sprintf("%d machines of template %s for %s", r.MachineCount, t.ID, who(b.caller(in))))
	if err := b.place(ctx, &r, t); err != nil {
		return Granted{}, err
	}
	return Granted{ID: id, Machines: r.MachineCount, Note: note}, nil
}

// Granted is what RequestMachines granted.
type Granted struct {
	ID       string
	Machines int    // machines launched: fewer than asked when policies trim it
	Note     string // why fewer, when fewer
}

// place makes the cloud call of a stored request and records its answer.
func (b *Broker) place(ctx context.Context, r *store.Request, t config.Template) error {
	spec := cloud.LaunchSpec{
		RequestID:      r.ID,
		ProviderName:   b.cfg.ProviderName,
		InstallationID: b.cfg.InstallationID,
		ClientToken:    r.ClientToken,
		Count:          r.MachineCount,
		Template:       t,
		RCAccount:      r.RCAccount,
		Tags:           r.Tags,
	}
	if b.cfg.LSF() {
		spec.Exports = lsf.Exports(r.RCAccount, t.ID, b.cfg.ClusterName, b.cfg.ProviderName)
	}
	p, err := b.cloud.Launch(ctx, spec)
	if err != nil {
		b.fail(ctx, r, err)
		return fault.Wrap(fault.CodeOf(err), err, "placing request %s", r.ID)
	}
	return b.record(ctx, r, t, p)
}

// record stores the cloud's answer to a request's launch.
func (b *Broker) record(ctx context.Context, r *store.Request, t config.Template, p cloud.Placement) error {
	machines := make([]store.Machine, len(p.Instances))
	for i, inst := range p.Instances {
		machines[i] = newMachine(r, t, inst)
	}
	r.State = store.StatePlaced
	r.CloudRef = p.Ref
	r.Outstanding = 0
	if p.Ongoing {
		r.Outstanding = max(r.MachineCount-len(machines), 0)
	}
	if err := b.updateRequest(ctx, r, machines...); err != nil {
		return fault.Wrap(fault.Internal, err, "recording the machines of request %s", r.ID)
	}
	b.log.Info("request placed", "request_id", r.ID, "template_id", t.ID, "machine_count", len(machines), "cloud_ref", p.Ref)
	b.note(r.ID, "", ActionRequestPlaced, fmt.Sprintf("%d machines launched, placement %s", len(machines), p.Ref))
	return nil
}

// fail records that a request failed (the cloud refused it, or HostFactory
// never got its id) and frees what it held. Whatever its placement may
// still have started is found by its request tag and terminated first, so
// nothing HostFactory never heard of keeps running; only then is the
// request recorded failed. A process that dies in between leaves it
// pending or placed, and the next recovery tries again: recorded first,
// the known machines of a placed request would be left running with
// nothing to retry them, since reconcile looks only at unknown instances.
func (b *Broker) fail(ctx context.Context, r *store.Request, cause error) {
	ids, err := b.endPlacement(ctx, r)
	if err != nil {
		b.log.Error("terminating the instances of a failed request", "request_id", r.ID, "err", err)
		if r.State.Placed() {
			return // left placed: the next recovery tries again
		}
	}
	r.State = store.StateFailed
	r.Message = cause.Error()
	r.Outstanding = 0
	if err := b.updateRequest(context.WithoutCancel(ctx), r); err != nil {
		b.log.Error("recording a failed request", "request_id", r.ID, "err", err)
	}
	b.note(r.ID, "", ActionRequestFailed, r.Message)
	b.log.Warn("request failed", "request_id", r.ID, "template_id", r.TemplateID, "err", cause, "terminated", len(ids))
}

// endPlacement stops what a request's placement keeps in the cloud (a
// fleet or group first, so that it does not replace what is terminated)
// and terminates the live instances carrying the request's tag; it
// returns their ids.
func (b *Broker) endPlacement(ctx context.Context, r *store.Request) ([]string, error) {
	ref := r.CloudRef
	if ref == "" {
		if t, err := templateOf(r.Template); err == nil {
			ref = cloud.RequestRef(t.ProviderAPI, r.ID)
		}
	}
	if err := b.cloud.Retire(ctx, ref); err != nil {
		b.log.Warn("retiring the placement of a failed request", "request_id", r.ID, "err", err)
	}
	strays, err := b.cloud.Instances(ctx, cloud.Query{RequestIDs: []string{r.ID}})
	if err != nil {
		return nil, fmt.Errorf("looking for its instances: %w", err)
	}
	ids := make([]string, 0, len(strays))
	for _, inst := range strays {
		// The request tag alone is no proof: another installation, or an
		// instance without an installation id, may carry the same one.
		if inst.State.Live() && inst.OwnerFor(b.cfg.InstallationID) == cloud.OwnedHere {
			ids = append(ids, inst.ID)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	events := make([]store.Event, len(ids))
	for i, id := range ids {
		events[i] = b.event(r.ID, id, ActionMachineTerminated, "launched for a failed request")
	}
	if err := b.recordFirst(ctx, events); err != nil {
		return nil, err
	}
	if err := b.cloud.Terminate(ctx, ids); err != nil {
		return nil, fmt.Errorf("terminating %s: %w", strings.Join(ids, " "), err)
	}
	b.markTerminating(ctx, ids)
	return ids, nil
}

// markTerminating records that the stored machines among ids are being
// terminated, so they stop holding their template's slots.
func (b *Broker) markTerminating(ctx context.Context, ids []string) {
	ms, err := b.store.Machines(ctx, store.MachineQuery{InstanceIDs: ids})
	if err == nil && len(ms) > 0 {
		for i := range ms {
			ms[i].State = cloud.ShuttingDown
		}
		err = b.saveMachines(ctx, ms)
	}
	if err != nil {
		b.log.Error("recording terminated machines", "instances", ids, "err", err)
	}
}

func newMachine(r *store.Request, t config.Template, inst cloud.Instance) store.Machine {
	m := store.Machine{
		InstanceID: inst.ID,
		RequestID:  r.ID,
		TemplateID: t.ID,
		Result:     store.ResultExecuting,
	}
	observe(&m, inst)
	return m
}

// observe copies what the cloud says of an instance into its machine.
func observe(m *store.Machine, inst cloud.Instance) {
	m.State = inst.State
	if inst.Name != "" {
		m.Name = inst.Name
	}
	if inst.PrivateIP != "" {
		m.PrivateIP = inst.PrivateIP
	}
	m.PublicIP = inst.PublicIP
	if inst.PublicDNS != "" {
		m.PublicDNS = inst.PublicDNS
	}
	if inst.Cores > 0 {
		// What LSF counts slots by: the cores the instance really runs
		// with, which CPU options can set below its type's.
		m.Cores, m.Threads = inst.Cores, inst.Cores*max(inst.ThreadsPerCore, 1)
	}
	if inst.InstanceType != "" {
		m.InstanceType = inst.InstanceType
	}
	m.PriceType = config.PriceOnDemand
	if inst.Spot {
		m.PriceType = config.PriceSpot
	}
	if !inst.LaunchTime.IsZero() {
		m.LaunchTime = inst.LaunchTime
	}
}

// userDataAtRest is what the store keeps of LSF's userData object: its
// keys, without their values, which may be secrets. Nothing reads the
// values back: they reach the hosts only through the launch.
func userDataAtRest(raw []byte) []byte {
	var obj map[string]json.RawMessage
	if len(raw) == 0 || json.Unmarshal(raw, &obj) != nil || obj == nil {
		return nil
	}
	keys := make(map[string]string, len(obj))
	for k := range obj {
		keys[k] = config.NotStored
	}
	out, _ := json.Marshal(keys)
	return out
}
