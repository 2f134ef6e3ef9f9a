package broker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/fault"
	"github.com/ohfp/ohfp/internal/store"
)

// ReturnMachines stores a return request for the hosts HostFactory gives
// back, terminates them and returns the request's id. Only instances this
// provider instance launched are terminated.
func (b *Broker) ReturnMachines(ctx context.Context, refs []store.MachineRef) (id, message string, err error) {
	defer b.flushEvents(ctx)
	b.recoverPending(ctx)
	r := store.Request{
		ID:        "ret-" + uuid.NewString(),
		Kind:      store.KindReturn,
		Machines:  refs,
		State:     store.StatePending,
		CreatedAt: b.now(),
	}
	if err := b.store.CreateRequest(ctx, &r, nil); err != nil {
		return "", "", fault.Wrap(fault.Internal, err, "storing return request")
	}
	if err := b.retire(ctx, &r); err != nil {
		return "", "", err
	}
	return r.ID, r.Message, nil
}

// retire carries out a stored return request: it marks the machines as
// returned and terminates those still alive.
func (b *Broker) retire(ctx context.Context, r *store.Request) error {
	known, err := b.returnedMachines(ctx, r)
	if err != nil {
		return err
	}
	var ids []string
	for i := range known {
		m := &known[i]
		m.ReturnID = r.ID
		if m.State.Live() {
			ids = append(ids, m.InstanceID)
		}
	}
	if len(ids) == 0 {
		r.Message = "No Active VM."
	}
	ids = b.leaveToReclaim(ctx, known, ids)
	if len(ids) > 0 {
		if err := b.release(ctx, known); err != nil {
			// A shrink refused never keeps returned machines running: at
			// worst their fleet or group replaces them, and reconcile
			// terminates the replacements.
			b.log.Error("shrinking the placements of returned machines failed; terminating them all the same", "return_id", r.ID, "err", err)
		}
		if err := b.cloud.Terminate(ctx, ids); err != nil {
			return fault.Wrap("", err, "terminating the machines of return request %s", r.ID)
		}
		for i := range known {
			if slices.Contains(ids, known[i].InstanceID) {
				known[i].State = cloud.ShuttingDown
			}
		}
	}
	r.State = store.StateRunning
	if err := b.store.UpdateRequest(ctx, r, known...); err != nil {
		return fault.Wrap(fault.Internal, err, "recording return request %s", r.ID)
	}
	b.log.Info("machines returned", "request_id", r.ID, "machine_count", len(r.Machines), "terminating", len(ids))
	b.note(r.ID, "", ActionMachinesReturned, fmt.Sprintf("%s; terminating %s", refNames(r.Machines), orNone(ids)))
	// Each create request's trail shows its machines going back too.
	byOrigin := map[string][]string{}
	for _, m := range known {
		byOrigin[m.RequestID] = append(byOrigin[m.RequestID], m.InstanceID)
	}
	for _, origin := range slices.Sorted(maps.Keys(byOrigin)) {
		b.note(origin, "", ActionMachinesReturned, fmt.Sprintf("%s by return request %s", orNone(byOrigin[origin]), r.ID))
	}
	return nil
}

// refNames lists hosts by instance id, or by name when given without one.
func refNames(refs []store.MachineRef) string {
	names := make([]string, len(refs))
	for i, ref := range refs {
		names[i] = cmp.Or(ref.InstanceID, ref.Name)
	}
	return orNone(names)
}

func orNone(ids []string) string {
	if len(ids) == 0 {
		return "none"
	}
	return strings.Join(ids, " ")
}

// leaveToReclaim drops from ids the spot instances AWS has already marked
// for reclaim, unless AWS_SPOT_TERMINATE_ON_RECLAIM asks to terminate them
// anyway: AWS takes them within two minutes. If the marks cannot be read,
// everything is terminated, as HostFactory asked.
func (b *Broker) leaveToReclaim(ctx context.Context, ms []store.Machine, ids []string) []string {
	if b.cfg.AWS.SpotTerminateOnReclaim {
		return ids
	}
	var spot []string
	for _, m := range ms {
		if m.PriceType == config.PriceSpot && slices.Contains(ids, m.InstanceID) {
			spot = append(spot, m.InstanceID)
		}
	}
	if len(spot) == 0 {
		return ids
	}
	marks, err := b.cloud.Interruptions(ctx, spot)
	if err != nil {
		b.log.Warn("reading spot reclaim marks; terminating all returned machines", "err", err)
		return ids
	}
	return slices.DeleteFunc(ids, func(id string) bool {
		if _, marked := marks[id]; marked {
			b.log.Info("returned spot machine left for AWS to reclaim", "instance_id", id)
			return true
		}
		return false
	})
}

// release shrinks the fleets and groups the returned machines came from, so
// that none replaces them once they are terminated.
func (b *Broker) release(ctx context.Context, ms []store.Machine) error {
	byReq := map[string][]string{}
	for _, m := range ms {
		if m.State.Live() {
			byReq[m.RequestID] = append(byReq[m.RequestID], m.InstanceID)
		}
	}
	reqs, err := b.store.GetRequests(ctx, slices.Collect(maps.Keys(byReq)))
	if err != nil {
		return fault.Wrap(fault.Internal, err, "reading the requests of returned machines")
	}
	var errs []error
	for _, req := range reqs {
		if req.CloudRef == "" {
			continue
		}
		if err := b.cloud.Release(ctx, req.CloudRef, byReq[req.ID]); err != nil {
			errs = append(errs, fault.Wrap("", err, "shrinking the placement of request %s", req.ID))
		}
	}
	return errors.Join(errs...)
}

// retireEmptied retires the placements of the given requests that no
// longer hold a live machine.
func (b *Broker) retireEmptied(ctx context.Context, requestIDs []string) {
	if len(requestIDs) == 0 {
		return
	}
	reqs, err := b.store.GetRequests(ctx, requestIDs)
	if err != nil {
		b.log.Warn("looking for emptied placements", "err", err)
		return
	}
	alive, err := b.store.Machines(ctx, store.MachineQuery{RequestIDs: requestIDs, AliveOnly: true})
	if err != nil {
		b.log.Warn("looking for emptied placements", "err", err)
		return
	}
	holding := map[string]bool{}
	for _, m := range alive {
		holding[m.RequestID] = true
	}
	for i := range reqs {
		if r := &reqs[i]; r.CloudRef != "" && r.State.Finished() && !holding[r.ID] {
			b.retirePlacement(ctx, r)
		}
	}
}

// returnedMachines finds the stored machines a return request names, by
// instance id or, for hosts given by name only, by name.
func (b *Broker) returnedMachines(ctx context.Context, r *store.Request) ([]store.Machine, error) {
	var ids []string
	for _, ref := range r.Machines {
		if ref.InstanceID != "" {
			ids = append(ids, ref.InstanceID)
		}
	}
	var names []string
	for _, ref := range r.Machines {
		if ref.InstanceID == "" {
			names = append(names, ref.Name)
		}
	}
	var out []store.Machine
	for _, q := range []store.MachineQuery{{InstanceIDs: ids}, {Names: names}} {
		if len(q.InstanceIDs)+len(q.Names) == 0 {
			continue
		}
		ms, err := b.store.Machines(ctx, q)
		if err != nil {
			return nil, fault.Wrap(fault.Internal, err, "reading returned machines")
		}
		out = append(out, ms...)
	}
	return out, nil
}

// returnStatus computes a return request's status: a machine is returned
// once its instance is stopped, terminated or gone.
func (b *Broker) returnStatus(ctx context.Context, p *poll, r *store.Request) RequestStatus {
	st := RequestStatus{ID: r.ID, Status: store.StateRunning, Message: r.Message}
	if r.State == store.StatePending {
		return st
	}
	byName := map[string]*store.Machine{}
	for _, m := range p.byReturn[r.ID] {
		byName[m.Name] = m
	}
	var again []string
	executing := 0
	for _, ref := range r.Machines {
		m, ok := p.machines[ref.InstanceID]
		if ref.InstanceID == "" {
			m, ok = byName[ref.Name]
		}
		if !ok {
			m = &store.Machine{InstanceID: ref.InstanceID, Name: ref.Name, State: cloud.Terminated}
		}
		ms := MachineStatus{Machine: *m, Result: store.ResultSucceed}
		if r.State == store.StateRunning {
			ms = b.judgeReturn(p, ref, m, &again)
		}
		if ms.Result == store.ResultExecuting {
			executing++
		}
		st.Machines = append(st.Machines, ms)
	}
	if len(again) > 0 {
		// The instance is still up although it was returned: the earlier
		// termination was lost or refused. Terminating is idempotent.
		returned := make([]store.Machine, 0, len(again))
		for _, id := range again {
			if m, ok := p.machines[id]; ok {
				returned = append(returned, *m)
			}
		}
		again = b.leaveToReclaim(ctx, returned, again)
	}
	if len(again) > 0 {
		if err := b.cloud.Terminate(ctx, again); err != nil {
			b.log.Warn("terminating returned machines again", "request_id", r.ID, "err", err)
		}
	}
	if r.State.Finished() {
		st.Status = r.State
		return st
	}
	if executing > 0 || p.cloudErr != nil {
		return st
	}
	r.State = store.StateComplete
	b.finish(ctx, p, r)
	var origins []string
	for _, m := range p.byReturn[r.ID] {
		if m.RequestID != "" && !slices.Contains(origins, m.RequestID) {
			origins = append(origins, m.RequestID)
		}
	}
	b.retireEmptied(ctx, origins)
	st.Status = r.State
	return st
}

// judgeReturn gives a returned machine's result from the cloud's view.
func (b *Broker) judgeReturn(p *poll, ref store.MachineRef, m *store.Machine, again *[]string) MachineStatus {
	if p.cloudErr != nil {
		return MachineStatus{Machine: *m, Result: store.ResultExecuting}
	}
	inst, found := p.seen[m.InstanceID]
	if !found {
		if m.State != cloud.Terminated && m.RequestID != "" {
			m.State = cloud.Terminated
			p.changed[m.InstanceID] = true
		}
		return MachineStatus{Machine: *m, Result: store.ResultSucceed}
	}
	if m.RequestID == "" && inst.Tags[cloud.TagProvider] != b.cfg.ProviderName {
		mm := *m
		mm.State = inst.State
		mm.Message = fmt.Sprintf("Instance %s was not launched by provider %s; left alone.", ref.InstanceID, b.cfg.ProviderName)
		return MachineStatus{Machine: mm, Result: store.ResultFail}
	}
	before := *m
	observe(m, inst)
	if m.RequestID != "" && *m != before {
		p.changed[m.InstanceID] = true
	}
	switch inst.State {
	case cloud.Terminated, cloud.Stopped:
		return MachineStatus{Machine: *m, Result: store.ResultSucceed}
	case cloud.Running, cloud.Pending:
		*again = append(*again, m.InstanceID)
	}
	return MachineStatus{Machine: *m, Result: store.ResultExecuting}
}
