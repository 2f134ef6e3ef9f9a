package broker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ohfp/ohfp/internal/access"
	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/fault"
	"github.com/ohfp/ohfp/internal/store"
)

// RequestStatus is where one request stands, as getRequestStatus reports it.
type RequestStatus struct {
	ID       string
	Status   store.State // running, complete or complete_with_error; placed only to Refresh
	Message  string
	Machines []MachineStatus
}

// MachineStatus is one machine of a request.
type MachineStatus struct {
	store.Machine
	// Result is the machine's result for the request asked about: a machine
	// a return request is terminating is "executing" for that request.
	Result store.Result
	// LSF is what LSF's resource connector reads of a machine besides
	// HostFactory's fields; nil unless LSF asks.
	LSF *LSFMachine
}

// LSFMachine is what IBM's LSF plugins answer of each machine beyond
// HostFactory's fields (docs/lsf.md).
type LSFMachine struct {
	RCAccount string // the rc_account of the request that launched it
	Cores     int    // 0 when the cloud has not said
	Threads   int
	PublicDNS string
	LifeCycle string // onDemand or spot, IBM's HostAllocationType
}

// IBM's names of the two life cycles.
const (
	LifeCycleOnDemand = "onDemand"
	LifeCycleSpot     = "spot"
)

// forLSF adds what LSF reads to the machines of st; account is the
// request's rc_account, "" for a return request.
func (st *RequestStatus) forLSF(account string) {
	for i := range st.Machines {
		m := &st.Machines[i]
		life := LifeCycleOnDemand
		if m.PriceType == config.PriceSpot {
			life = LifeCycleSpot
		}
		m.LSF = &LSFMachine{RCAccount: account, Cores: m.Cores, Threads: m.Threads, PublicDNS: m.PublicDNS, LifeCycle: life}
	}
}

// Status reports on requests to HostFactory (getRequestStatus). The
// instances of every unfinished request are described in one batched pass;
// an unknown id gets complete_with_error without failing the others.
// When the cloud cannot be asked, the statuses as last stored are returned
// together with a CLOUD_ERROR.
//
// Only Status claims: a placed request it is asked about becomes running,
// since HostFactory, which asks, has its id.
func (b *Broker) Status(ctx context.Context, ids []string) ([]RequestStatus, error) {
	return b.status(ctx, ids, true)
}

// Refresh reports on requests as Status does, for people and dashboards:
// it reads the cloud and records what it says, but leaves a placed request
// placed, neither claimed nor finished, so that one HostFactory never got
// is still recovered.
func (b *Broker) Refresh(ctx context.Context, ids []string) ([]RequestStatus, error) {
	return b.status(ctx, ids, false)
}

func (b *Broker) status(ctx context.Context, ids []string, claim bool) (_ []RequestStatus, err error) {
	defer b.flushEvents(ctx)
	b.recoverPending(ctx)
	reqs, err := b.store.GetRequests(ctx, ids)
	if err != nil {
		return nil, fault.Wrap(fault.Internal, err, "reading requests")
	}
	p, err := b.loadPoll(ctx, reqs)
	if err != nil {
		return nil, err
	}
	if claim {
		if err := b.allowFollow(p, reqs); err != nil {
			return nil, err
		}
	}
	p.describe(ctx, b)
	byID := make(map[string]RequestStatus, len(reqs))
	for i := range reqs {
		r := &reqs[i]
		var st RequestStatus
		account := ""
		if r.Kind == store.KindReturn {
			st = b.returnStatus(ctx, p, r)
		} else {
			st = b.createStatus(ctx, p, r, claim)
			account = r.RCAccount
		}
		if b.cfg.LSF() {
			st.forLSF(account)
		}
		byID[r.ID] = st
	}
	b.save(ctx, p)
	out := make([]RequestStatus, 0, len(ids))
	defer func() {
		if p.cloudErr != nil {
			// The answer stands as last seen; the error says it is stale.
			err = fault.Wrap(fault.Cloud, p.cloudErr, "the cloud could not be asked; requests are reported as last seen")
		}
	}()
	for _, id := range ids {
		st, ok := byID[id]
		if !ok {
			st = RequestStatus{ID: id, Status: store.StateCompleteWithError, Message: fmt.Sprintf("Request %s not found.", id)}
		}
		out = append(out, st)
	}
	return out, nil
}

// allowFollow lets the principal claim reqs only if it could have made
// them: a grant on the template of each create request, and on the
// templates of the known machines of each return request, as returning
// them needs. A claim stops recovery from terminating what a request
// HostFactory never got launched, so one request refused refuses the
// whole call, before anything is claimed.
func (b *Broker) allowFollow(p *poll, reqs []store.Request) error {
	var templates []string
	add := func(t string) {
		if !slices.Contains(templates, t) {
			templates = append(templates, t)
		}
	}
	for _, r := range reqs {
		if r.Kind != store.KindReturn {
			add(r.TemplateID)
			continue
		}
		for _, m := range p.byReturn[r.ID] {
			add(m.TemplateID)
		}
	}
	slices.Sort(templates)
	return b.allow(access.Follow, templates...)
}

// poll is one status pass: the stored machines of the requests asked
// about, and what the cloud says of them.
type poll struct {
	machines  map[string]*store.Machine // by instance id
	byRequest map[string][]*store.Machine
	byReturn  map[string][]*store.Machine
	seen      map[string]cloud.Instance
	progress  map[string]cloud.Fulfilment // by CloudRef, for ongoing placements
	ongoing   []string
	cloudErr  error
	changed   map[string]bool // instance ids whose machine changed
	query     cloud.Query
}

func (b *Broker) loadPoll(ctx context.Context, reqs []store.Request) (*poll, error) {
	p := &poll{
		machines:  map[string]*store.Machine{},
		byRequest: map[string][]*store.Machine{},
		byReturn:  map[string][]*store.Machine{},
		changed:   map[string]bool{},
	}
	var createIDs, returnIDs []string
	for _, r := range reqs {
		if r.Kind == store.KindReturn {
			returnIDs = append(returnIDs, r.ID)
			if r.State == store.StateRunning {
				for _, ref := range r.Machines {
					if ref.InstanceID != "" {
						p.query.InstanceIDs = append(p.query.InstanceIDs, ref.InstanceID)
					}
				}
			}
			continue
		}
		createIDs = append(createIDs, r.ID)
		if r.State.Placed() && r.Outstanding > 0 {
			// Its placement still launches (a fleet, a group): the instances
			// not known yet are found by the request's tag, pending ones
			// too, since once the cloud says it is done the request
			// completes on what was found.
			p.query.RequestIDs = append(p.query.RequestIDs, r.ID)
			if r.CloudRef != "" {
				p.ongoing = append(p.ongoing, r.CloudRef)
			}
		}
	}
	for _, q := range []store.MachineQuery{{RequestIDs: createIDs}, {ReturnIDs: returnIDs}} {
		if len(q.RequestIDs)+len(q.ReturnIDs) == 0 {
			continue
		}
		ms, err := b.store.Machines(ctx, q)
		if err != nil {
			return nil, fault.Wrap(fault.Internal, err, "reading machines")
		}
		for i := range ms {
			p.add(&ms[i])
		}
	}
	// The machines of placed requests are described by id, as AWS advises;
	// only those that left pending are read, since a pending one stays as
	// it is. A failed machine stays failed and is not asked about.
	for _, r := range reqs {
		if r.Kind != store.KindCreate || !r.State.Placed() {
			continue
		}
		for _, m := range p.byRequest[r.ID] {
			if m.Result != store.ResultFail {
				p.query.Settling = append(p.query.Settling, m.InstanceID)
			}
		}
	}
	// Hosts returned by name alone are described by the instance id the
	// store knows them by.
	asked := make(map[string]bool, len(p.query.InstanceIDs))
	for _, id := range p.query.InstanceIDs {
		asked[id] = true
	}
	for _, r := range reqs {
		if r.Kind != store.KindReturn || r.State != store.StateRunning {
			continue
		}
		for _, m := range p.byReturn[r.ID] {
			if !asked[m.InstanceID] {
				asked[m.InstanceID] = true
				p.query.InstanceIDs = append(p.query.InstanceIDs, m.InstanceID)
			}
		}
	}
	return p, nil
}

// add files m, which the poll then owns, unless a machine of its
// instance is there already; it returns the one filed.
func (p *poll) add(m *store.Machine) *store.Machine {
	if have, ok := p.machines[m.InstanceID]; ok {
		return have
	}
	p.machines[m.InstanceID] = m
	p.byRequest[m.RequestID] = append(p.byRequest[m.RequestID], m)
	if m.ReturnID != "" {
		p.byReturn[m.ReturnID] = append(p.byReturn[m.ReturnID], m)
	}
	return m
}

// describe asks the cloud about every instance of the poll in one batched call.
func (p *poll) describe(ctx context.Context, b *Broker) {
	if len(p.query.RequestIDs)+len(p.query.InstanceIDs)+len(p.query.Settling) == 0 {
		return
	}
	if len(p.ongoing) > 0 {
		progress, err := b.cloud.Fulfilment(ctx, p.ongoing)
		if err != nil {
			p.cloudErr = err
			b.log.Warn("reading fulfilment; answering from stored state", "err", err)
			return
		}
		p.progress = progress
	}
	insts, err := b.cloud.Instances(ctx, p.query)
	if err != nil {
		p.cloudErr = err
		b.log.Warn("describing instances; answering from stored state", "err", err)
		return
	}
	p.seen = make(map[string]cloud.Instance, len(insts))
	for _, inst := range insts {
		p.seen[inst.ID] = inst
	}
}

// createStatus computes a create request's status and its machines'
// results; with claim, a placed request becomes running.
func (b *Broker) createStatus(ctx context.Context, p *poll, r *store.Request, claim bool) RequestStatus {
	st := RequestStatus{ID: r.ID, Status: store.StateRunning}
	switch r.State {
	case store.StatePending:
		return st
	case store.StateFailed:
		st.Status, st.Message = store.StateCompleteWithError, r.Message
		return st
	}
	if r.State == store.StatePlaced && claim {
		// HostFactory asks about it: it got the id.
		r.State = store.StateRunning
		if err := b.updateRequest(ctx, r); err != nil && !errors.Is(err, store.ErrConflict) {
			b.log.Error("recording that HostFactory follows a request", "request_id", r.ID, "err", err)
		}
	}
	if r.State.Placed() && p.cloudErr == nil {
		b.adopt(p, r)
		b.judgeCreate(ctx, p, r)
		b.follow(ctx, p, r)
	}
	executing, succeeded := 0, 0
	if n := len(p.byRequest[r.ID]); n > 0 {
		st.Machines = make([]MachineStatus, 0, n)
	}
	for _, m := range p.byRequest[r.ID] {
		st.Machines = append(st.Machines, MachineStatus{Machine: *m, Result: m.Result})
		switch m.Result {
		case store.ResultExecuting:
			executing++
		case store.ResultSucceed:
			succeeded++
		}
	}
	if r.State.Finished() {
		st.Status, st.Message = r.State, r.Message
		return st
	}
	if r.State == store.StatePlaced {
		// Until HostFactory follows it, only recovery may finish it.
		st.Status = store.StatePlaced
		return st
	}
	if executing > 0 || r.Outstanding > 0 || p.cloudErr != nil {
		return st
	}
	reasons := r.Message
	r.State, r.Message = store.StateComplete, ""
	if succeeded < r.MachineCount {
		r.State = store.StateCompleteWithError
		r.Message = strings.TrimSpace(fmt.Sprintf("%d of %d machines obtained. %s", succeeded, r.MachineCount, reasons))
	}
	b.finish(ctx, p, r)
	if r.CloudRef != "" && !slices.ContainsFunc(p.byRequest[r.ID], func(m *store.Machine) bool { return m.Alive() }) {
		b.retirePlacement(ctx, r)
	}
	st.Status, st.Message = r.State, r.Message
	return st
}

// adopt records instances carrying the request's tag that the store does
// not know (launched by a call whose answer was lost).
func (b *Broker) adopt(p *poll, r *store.Request) {
	for id, inst := range p.seen {
		if inst.Tags[cloud.TagRequestID] != r.ID {
			continue
		}
		if _, known := p.machines[id]; known {
			continue
		}
		t, _ := templateOf(r.Template)
		m := newMachine(r, t, inst)
		p.add(&m)
		p.changed[id] = true
		b.log.Info("adopted instance", "request_id", r.ID, "instance_id", id)
		b.note(r.ID, id, ActionMachineAdopted, "found in the cloud by its request tag")
	}
}

// follow counts down what an ongoing placement still owes: the machines
// not yet found, or nothing once the cloud says it is done. The cloud's
// reasons for falling short are kept as the request's message.
func (b *Broker) follow(ctx context.Context, p *poll, r *store.Request) {
	if r.Outstanding == 0 {
		return
	}
	f := p.progress[r.CloudRef]
	outstanding := max(r.MachineCount-len(p.byRequest[r.ID]), 0)
	if f.Done {
		outstanding = 0
	}
	message := strings.Join(f.Errors, "; ")
	if outstanding == r.Outstanding && message == r.Message {
		return
	}
	r.Outstanding, r.Message = outstanding, message
	if err := b.updateRequest(ctx, r); err != nil && !errors.Is(err, store.ErrConflict) {
		b.log.Error("recording fulfilment", "request_id", r.ID, "err", err)
	}
}

// retirePlacement deletes what a finished request's placement keeps in the
// cloud once none of its machines is alive.
func (b *Broker) retirePlacement(ctx context.Context, r *store.Request) {
	if err := b.cloud.Retire(ctx, r.CloudRef); err != nil {
		b.log.Warn("retiring placement", "request_id", r.ID, "cloud_ref", r.CloudRef, "err", err)
		return
	}
	b.log.Info("placement retired", "request_id", r.ID, "cloud_ref", r.CloudRef)
	b.note(r.ID, "", ActionPlacementRetired, r.CloudRef)
}

// judgeCreate updates the result of each machine of a running create request
// from what the cloud said; a failed machine stays failed.
func (b *Broker) judgeCreate(ctx context.Context, p *poll, r *store.Request) {
	now := b.now()
	var stuck []string
	for _, m := range p.byRequest[r.ID] {
		if m.Result == store.ResultFail {
			continue
		}
		before := *m
		inst, found := p.seen[m.InstanceID]
		if !found && !m.State.Settled() {
			// Polls leave pending instances out, and a new instance may not
			// be visible yet: either way it is still on its way.
			inst, found = cloud.Instance{ID: m.InstanceID, State: cloud.Pending}, true
		}
		switch {
		case !found && now.Sub(m.LaunchTime) < visibilityGrace:
			m.Result = store.ResultExecuting
		case !found:
			m.Result, m.State, m.Message = store.ResultFail, cloud.Terminated, "Instance no longer exists."
		case inst.State == cloud.Pending:
			m.State, m.Result = inst.State, store.ResultExecuting
			if timeout := b.cfg.AWS.PendingTimeout; timeout > 0 && now.Sub(m.LaunchTime) > timeout {
				stuck = append(stuck, m.InstanceID)
				m.Result = store.ResultFail
				m.Message = fmt.Sprintf("Instance stayed pending for more than %s; terminated.", timeout)
			}
		default:
			observe(m, inst)
			switch inst.State {
			case cloud.Running:
				b.succeedRunning(r, m, now)
			default:
				m.Result = store.ResultFail
				m.Message = stateMessage(inst)
			}
		}
		if *m != before {
			p.changed[m.InstanceID] = true
		}
	}
	if len(stuck) > 0 {
		events := make([]store.Event, len(stuck))
		for i, id := range stuck {
			events[i] = b.event(r.ID, id, ActionMachineTerminated, p.machines[id].Message)
		}
		err := b.recordFirst(ctx, events)
		if err == nil {
			err = b.cloud.Terminate(ctx, stuck)
		}
		if err != nil {
			// Not failed yet: the next poll tries again, so none is left running unreported.
			for _, id := range stuck {
				p.machines[id].Result, p.machines[id].Message = store.ResultExecuting, ""
			}
			b.log.Error("terminating instances stuck pending", "request_id", r.ID, "instances", stuck, "err", err)
			return
		}
		for _, id := range stuck {
			p.machines[id].State = cloud.ShuttingDown
		}
		b.log.Warn("terminated instances stuck pending", "request_id", r.ID, "instances", stuck)
	}
}

// succeedRunning settles a running machine: it succeeds once it has a name
// HostFactory can use. One still without a private DNS name past
// nameGrace (some VPC settings, IPv6-only subnets, other EC2 endpoints)
// is named after its IP, with a log line that says why; until then, and
// while it has no address at all, it is still executing.
func (b *Broker) succeedRunning(r *store.Request, m *store.Machine, now time.Time) {
	if m.Name == "" {
		name := cloud.IPName(cmp.Or(m.PrivateIP, m.PublicIP))
		if name == "" || now.Sub(m.LaunchTime) < nameGrace {
			m.Result = store.ResultExecuting
			return
		}
		m.Name = name
		b.log.Warn("running instance has no private DNS name; HostFactory is given a name made from its IP address",
			"request_id", r.ID, "instance_id", m.InstanceID, "name", name)
	}
	m.Result, m.Message = store.ResultSucceed, ""
}

func stateMessage(inst cloud.Instance) string {
	if inst.StateReason != "" {
		return fmt.Sprintf("Instance is %s: %s", inst.State, inst.StateReason)
	}
	return fmt.Sprintf("Instance is %s.", inst.State)
}

// finish stores a request's final state; its machines' results are frozen
// with it, so later polls need no cloud call.
func (b *Broker) finish(ctx context.Context, p *poll, r *store.Request) {
	ms := make([]store.Machine, 0, min(len(p.changed), len(p.byRequest[r.ID])+len(p.byReturn[r.ID])))
	for _, m := range p.byRequest[r.ID] {
		if p.changed[m.InstanceID] {
			ms = append(ms, *m)
			delete(p.changed, m.InstanceID)
		}
	}
	if r.Kind == store.KindReturn {
		for _, m := range p.byReturn[r.ID] {
			if p.changed[m.InstanceID] {
				ms = append(ms, *m)
				delete(p.changed, m.InstanceID)
			}
		}
	}
	err := b.updateRequest(ctx, r, ms...)
	switch {
	case errors.Is(err, store.ErrConflict):
		// Another invocation finished it first, from the same cloud facts.
		b.log.Debug("request finished concurrently", "request_id", r.ID)
	case err != nil:
		b.log.Error("recording a finished request", "request_id", r.ID, "err", err)
	default:
		b.log.Info("request finished", "request_id", r.ID, "status", string(r.State), "message", r.Message)
		b.note(r.ID, "", ActionRequestFinished, strings.TrimSuffix(string(r.State)+": "+r.Message, ": "))
	}
}

// save writes the machines the poll changed and no finish wrote.
func (b *Broker) save(ctx context.Context, p *poll) {
	if len(p.changed) == 0 {
		return
	}
	ms := make([]store.Machine, 0, len(p.changed))
	for id := range p.changed {
		ms = append(ms, *p.machines[id])
	}
	if err := b.saveMachines(ctx, ms); err != nil {
		b.log.Error("recording machine states", "err", err)
	}
}
