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

	"github.com/ohfp/ohfp/internal/access"
	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/fault"
	"github.com/ohfp/ohfp/internal/store"
)

// ReturnMachines stores a return request for the hosts HostFactory gives
// back, terminates them and returns the request's id. Only instances of
// this installation are terminated, and none for an entry whose name and
// machineId name different hosts: those entries are answered with the
// reason (see returnRefusal).
func (b *Broker) ReturnMachines(ctx context.Context, refs []store.MachineRef) (id, message string, err error) {
	defer b.flushEvents(ctx)
	if err := b.allowReturn(ctx, refs); err != nil {
		return "", "", err
	}
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

// ReturnRequest returns every live machine of the create request
// requestID that is not given back already: requestReturnMachines in the
// OHFP guides' form, {"requestId": ...}.
func (b *Broker) ReturnRequest(ctx context.Context, requestID string) (id, message string, err error) {
	reqs, err := b.store.GetRequests(ctx, []string{requestID})
	if err != nil {
		return "", "", fault.Wrap(fault.Internal, err, "reading request %s", requestID)
	}
	if len(reqs) == 0 || reqs[0].Kind != store.KindCreate {
		return "", "", fault.New(fault.RequestNotFound, "no machine request %s", requestID).With("requestId", requestID)
	}
	alive, err := b.store.Machines(ctx, store.MachineQuery{RequestIDs: []string{requestID}, AliveOnly: true})
	if err != nil {
		return "", "", fault.Wrap(fault.Internal, err, "reading the machines of request %s", requestID)
	}
	var refs []store.MachineRef
	for _, m := range alive {
		if m.ReturnID == "" {
			refs = append(refs, store.MachineRef{Name: m.Name, InstanceID: m.InstanceID})
		}
	}
	if len(refs) == 0 {
		return "", "", fault.New(fault.InvalidRequest, "request %s holds no live machine that is not returned already", requestID).With("requestId", requestID)
	}
	return b.ReturnMachines(ctx, refs)
}

// allowReturn checks the principal's grants on the templates of the
// machines among refs that ohfp knows; hosts it does not know are not
// touched anyway.
func (b *Broker) allowReturn(ctx context.Context, refs []store.MachineRef) error {
	if b.principal.Role == access.Admin {
		return nil
	}
	_, known, err := b.resolveHosts(ctx, refs)
	if err != nil {
		return err
	}
	var templates []string
	for _, m := range known {
		if !slices.Contains(templates, m.TemplateID) {
			templates = append(templates, m.TemplateID)
		}
	}
	slices.Sort(templates)
	return b.allow(access.Return, templates...)
}

// retire carries out a stored return request: it marks the machines as
// returned and terminates those still alive that it may (returnRefusal);
// an entry refused keeps its reason in the request.
func (b *Broker) retire(ctx context.Context, r *store.Request) error {
	known, err := b.returnedMachines(ctx, r)
	if err != nil {
		return err
	}
	byID, byName := map[string]*store.Machine{}, map[string]*store.Machine{}
	for i := range known {
		byID[known[i].InstanceID] = &known[i]
		byName[known[i].Name] = &known[i]
	}
	targets := make([]*store.Machine, len(r.Machines))
	var lookup []string
	for i, ref := range r.Machines {
		m := byID[ref.InstanceID]
		if ref.InstanceID == "" {
			m = byName[ref.Name]
		}
		targets[i] = m
		if id := cmp.Or(ref.InstanceID, idOf(m)); id != "" && !slices.Contains(lookup, id) {
			lookup = append(lookup, id)
		}
	}
	insts, err := b.cloud.Instances(ctx, cloud.Query{InstanceIDs: lookup})
	if err != nil {
		return fault.Wrap("", err, "describing the machines of return request %s", r.ID)
	}
	seen := make(map[string]cloud.Instance, len(insts))
	for _, inst := range insts {
		seen[inst.ID] = inst
	}
	var ids []string
	refused := 0
	var returned []store.Machine
	for i, ref := range r.Machines {
		m := targets[i]
		inst, found := seen[cmp.Or(ref.InstanceID, idOf(m))]
		if why := b.returnRefusal(ref, m, byName[ref.Name], inst, found); why != "" {
			r.Machines[i].Refused = why
			refused++
			b.log.Warn("returned host left alone", "request_id", r.ID, "name", ref.Name, "instance_id", ref.InstanceID, "reason", why)
			continue
		}
		if m == nil {
			continue // not this store's: nothing to do, reported gone
		}
		m.ReturnID = r.ID
		returned = append(returned, *m)
		// One the cloud does not show yet is still terminated: the store
		// recorded it from this installation's own launch.
		if live := (found && inst.State.Live()) || (!found && m.State.Live()); live && !slices.Contains(ids, m.InstanceID) {
			ids = append(ids, m.InstanceID)
		}
	}
	if len(ids) == 0 {
		r.Message = "No Active VM."
	}
	ids = b.leaveToReclaim(ctx, returned, ids)
	if len(ids) > 0 {
		if err := b.release(ctx, returned); err != nil {
			// A shrink refused never keeps returned machines running: at
			// worst their fleet or group replaces them, and reconcile
			// terminates the replacements.
			b.log.Error("shrinking the placements of returned machines failed; terminating them all the same", "return_id", r.ID, "err", err)
		}
		if err := b.cloud.Terminate(ctx, ids); err != nil {
			return fault.Wrap("", err, "terminating the machines of return request %s", r.ID)
		}
		for i := range returned {
			if slices.Contains(ids, returned[i].InstanceID) {
				returned[i].State = cloud.ShuttingDown
			}
		}
	}
	r.State = store.StateRunning
	if err := b.updateRequest(ctx, r, returned...); err != nil {
		return fault.Wrap(fault.Internal, err, "recording return request %s", r.ID)
	}
	b.log.Info("machines returned", "request_id", r.ID, "machine_count", len(r.Machines), "terminating", len(ids), "left_alone", refused)
	b.note(r.ID, "", ActionMachinesReturned, fmt.Sprintf("%s; terminating %s", refNames(r.Machines), orNone(ids)))
	// Each create request's trail shows its machines going back too.
	byOrigin := map[string][]string{}
	for _, m := range returned {
		byOrigin[m.RequestID] = append(byOrigin[m.RequestID], m.InstanceID)
	}
	for _, origin := range slices.Sorted(maps.Keys(byOrigin)) {
		b.note(origin, "", ActionMachinesReturned, fmt.Sprintf("%s by return request %s", orNone(byOrigin[origin]), r.ID))
	}
	return nil
}

func idOf(m *store.Machine) string {
	if m == nil {
		return ""
	}
	return m.InstanceID
}

// returnRefusal says why a host HostFactory returns must be left alone, or
// "" when it may be terminated. ref is the entry, m the stored machine it
// names (nil when none), named the stored machine that has ref's name, and
// inst what the cloud shows of it (found false when nothing). A host is
// left alone when:
//   - the entry's name and machineId name different hosts: HostFactory
//     means one of them, and guessing which could end a busy host;
//   - the instance carries another installation's id;
//   - it carries no installation id and this store did not launch it;
//   - the store does not know it and it is not tagged with this provider
//     instance.
//
// The reason is the entry's answer in the return's status.
func (b *Broker) returnRefusal(ref store.MachineRef, m, named *store.Machine, inst cloud.Instance, found bool) string {
	switch {
	case ref.InstanceID != "" && m != nil && m.Name != "" && m.Name != ref.Name:
		return fmt.Sprintf("name %s and machineId %s name different hosts (%s is %s); nothing was terminated for this entry",
			ref.Name, ref.InstanceID, ref.InstanceID, m.Name)
	case ref.InstanceID != "" && m == nil && named != nil:
		return fmt.Sprintf("name %s and machineId %s name different hosts (%s is %s); nothing was terminated for this entry",
			ref.Name, ref.InstanceID, ref.Name, named.InstanceID)
	case !found:
		return ""
	case m == nil && inst.Tags[cloud.TagProvider] != b.cfg.ProviderName:
		return fmt.Sprintf("Instance %s was not launched by provider %s; left alone.", inst.ID, b.cfg.ProviderName)
	case ref.InstanceID != "" && m == nil && inst.Name != "" && inst.Name != ref.Name:
		return fmt.Sprintf("name %s and machineId %s name different hosts (%s is %s); nothing was terminated for this entry",
			ref.Name, ref.InstanceID, ref.InstanceID, inst.Name)
	}
	switch inst.OwnerFor(b.cfg.InstallationID) {
	case cloud.OwnedElsewhere:
		return fmt.Sprintf("instance %s belongs to another installation (%s) of provider %s; left alone",
			inst.ID, inst.Tags[cloud.TagInstallation], b.cfg.ProviderName)
	case cloud.OwnerUnknown:
		if m == nil || m.RequestID == "" || inst.Tags[cloud.TagRequestID] != m.RequestID {
			return fmt.Sprintf("instance %s carries no installation id and this installation did not launch it; left alone", inst.ID)
		}
	}
	return ""
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
// instance id and by name (each once): a name finds the host of an entry
// without an id, and tells when an entry's name and id disagree.
func (b *Broker) returnedMachines(ctx context.Context, r *store.Request) ([]store.Machine, error) {
	var ids, names []string
	for _, ref := range r.Machines {
		if ref.InstanceID != "" {
			ids = append(ids, ref.InstanceID)
		}
		names = append(names, ref.Name)
	}
	var out []store.Machine
	have := map[string]bool{}
	for _, q := range []store.MachineQuery{{InstanceIDs: ids}, {Names: names}} {
		if len(q.InstanceIDs)+len(q.Names) == 0 {
			continue
		}
		ms, err := b.store.Machines(ctx, q)
		if err != nil {
			return nil, fault.Wrap(fault.Internal, err, "reading returned machines")
		}
		for _, m := range ms {
			if !have[m.InstanceID] {
				have[m.InstanceID] = true
				out = append(out, m)
			}
		}
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
	executing, refused := 0, 0
	for _, ref := range r.Machines {
		if ref.Refused != "" {
			refused++
			st.Machines = append(st.Machines, MachineStatus{
				Machine: store.Machine{InstanceID: ref.InstanceID, Name: ref.Name, Message: ref.Refused},
				Result:  store.ResultFail,
			})
			continue
		}
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
	if refused > 0 {
		// HostFactory must not take a host left alone for returned.
		r.State = store.StateCompleteWithError
	}
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
	var stored *store.Machine
	if m.RequestID != "" {
		stored = m
	}
	if why := b.returnRefusal(store.MachineRef{Name: m.Name, InstanceID: m.InstanceID}, stored, nil, inst, true); why != "" {
		mm := *m
		mm.State = inst.State
		mm.Message = why
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
