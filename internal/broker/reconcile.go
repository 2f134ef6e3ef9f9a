package broker

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/fault"
	"github.com/ohfp/ohfp/internal/policy"
	"github.com/ohfp/ohfp/internal/store"
)

// Reconciliation is what a reconcile pass found and did.
type Reconciliation struct {
	Checked    int      // live instances of this installation in the cloud
	Adopted    []string // recorded into the request that launched them
	Terminated []string // paid for but unknown to HostFactory, or (LSF) never joined
	Waiting    []string // unknown, but young enough to still be claimed
	// Budget is the most one pass may terminate; OverBudget lists what
	// would have gone past it: then nothing was terminated.
	Budget     int
	OverBudget []string
	// Elsewhere counts the live instances with this provider name that
	// other installations (Installations) launched: never touched.
	Elsewhere     int
	Installations []string
	// Untagged lists live instances with this provider name and no
	// installation id (launched before ids existed): never touched until
	// the one-time adoption step claims them (Claimed).
	Untagged []string
	Claimed  []string
	DryRun   bool    // nothing was changed
	Strays   []Stray // every unknown instance of this installation, with its reason
}

// Stray is one instance the store did not know, or under LSF a host that
// never joined the cluster, and what reconcile did with it (or would, in a
// dry run).
type Stray struct {
	InstanceID string
	RequestID  string // from its ohfp:request-id tag
	Action     StrayAction
	Reason     string
	// TerminateIn is, for a waiting instance, how long until a reconcile
	// would terminate it if it is still unknown; 0 when that depends on
	// its request's invocation, which is still running.
	TerminateIn time.Duration
}

// StrayAction is what reconcile did with a stray, or would in a dry run.
type StrayAction string

// Stray actions.
const (
	StrayAdopted    StrayAction = "adopted"
	StrayTerminated StrayAction = "terminated"
	StrayWaiting    StrayAction = "waiting"
	// StrayKept: left running and reported: more would go than the budget
	// allows, or nothing proves which request launched it.
	StrayKept StrayAction = "kept"
)

// ReconcileOptions say how far a reconcile pass may go.
type ReconcileOptions struct {
	DryRun bool // only report
	// Force terminates past the budget.
	Force bool
	// Confirmed are instances a person saw in the plan and agreed to
	// terminate: they go even past the budget, and nothing else does.
	Confirmed []string
	// AdoptUntagged is the one-time step after an upgrade: live instances
	// without an installation id that this store launched (their request
	// or machine is stored) are tagged as this installation's.
	AdoptUntagged bool
}

// ErrOverBudget says that a reconcile pass stopped short of terminating
// more instances than its budget allows, and terminated none.
var ErrOverBudget = errors.New("more instances would be terminated than the budget allows")

// storeSkew is how much earlier than its store an instance must have been
// launched to count as older than the store: clocks differ.
const storeSkew = 5 * time.Minute

// Reconcile compares the live instances of this installation (tagged with
// its provider name and installation id) against the store. An unknown
// instance whose request is still being followed is adopted into it. One
// older than the store, or any when the store is empty, is adopted too,
// with its request rebuilt from its tags: the store is new, not the
// instance. One whose request failed, is finished or does not exist is
// terminated once it is older than INSTANCE_CREATION_TIMEOUT (at once when
// its request failed: HostFactory never got that id), unless more would go
// than the budget allows: then none goes, and the error wraps
// ErrOverBudget. Under LSF, a host ohfp launched and reported up that LSF
// never named among its hosts, although it named them more than
// INSTANCE_CREATION_TIMEOUT after the launch, never joined the cluster: it
// is terminated the same way, as IBM's LSF plugin terminates it.
// Instances of other installations, and those without an installation id,
// are never touched.
func (b *Broker) Reconcile(ctx context.Context, opts ReconcileOptions) (Reconciliation, error) {
	defer b.flushEvents(ctx)
	return b.reconcile(ctx, opts)
}

// reconcile is Reconcile without writing the events it notes, for
// operations that run it as a part.
func (b *Broker) reconcile(ctx context.Context, opts ReconcileOptions) (Reconciliation, error) {
	rec := Reconciliation{DryRun: opts.DryRun}
	if !opts.DryRun {
		b.recoverPending(ctx)
	}
	ident, err := store.Identify(ctx, b.store, b.cfg.InstallationID, b.now())
	if err != nil {
		return rec, fault.Wrap(fault.Internal, err, "reading the store's identity")
	}
	all, err := b.cloud.Instances(ctx, cloud.Query{Provider: b.cfg.ProviderName})
	if err != nil {
		return rec, fault.Wrap("", err, "listing the instances of provider %s", b.cfg.ProviderName)
	}
	ids := make([]string, len(all))
	for i, inst := range all {
		ids[i] = inst.ID
	}
	known, err := b.store.Machines(ctx, store.MachineQuery{InstanceIDs: ids})
	if err != nil {
		return rec, fault.Wrap(fault.Internal, err, "reading machines")
	}
	isKnown := make(map[string]bool, len(known))
	for _, m := range known {
		isKnown[m.InstanceID] = true
	}
	insts, err := b.sortOwners(ctx, &rec, all, isKnown, opts)
	if err != nil {
		return rec, err
	}
	rec.Checked = len(insts)
	rec.Budget = b.budget(len(insts))
	// Under LSF, hosts that never joined go the way of strays: within the
	// same budget, recorded first.
	var terminate []cloud.Instance
	var reqIDs, unjoinedIDs []string
	why := map[string]string{}
	if b.cfg.LSF() {
		live := make(map[string]cloud.Instance, len(insts))
		for _, inst := range insts {
			live[inst.ID] = inst
		}
		for _, m := range unjoined(known, live, b.lastListed(ctx), b.cfg.AWS.CreationTimeout) {
			terminate = append(terminate, live[m.InstanceID])
			unjoinedIDs = append(unjoinedIDs, m.InstanceID)
			why[m.InstanceID] = unjoinedReason
			reqIDs = append(reqIDs, m.RequestID)
			rec.Strays = append(rec.Strays, Stray{InstanceID: m.InstanceID, RequestID: m.RequestID, Action: StrayTerminated, Reason: unjoinedReason})
		}
	}
	var strays []cloud.Instance
	for _, inst := range insts {
		if isKnown[inst.ID] {
			continue
		}
		strays = append(strays, inst)
		if id := inst.Tags[cloud.TagRequestID]; id != "" && !slices.Contains(reqIDs, id) {
			reqIDs = append(reqIDs, id)
		}
	}
	if len(strays) == 0 && len(terminate) == 0 {
		return rec, nil
	}
	reqs, err := b.store.GetRequests(ctx, reqIDs)
	if err != nil {
		return rec, fault.Wrap(fault.Internal, err, "reading requests")
	}
	byID := make(map[string]*store.Request, len(reqs))
	for i := range reqs {
		byID[reqs[i].ID] = &reqs[i]
	}
	empty, err := b.storeEmpty(ctx, reqs)
	if err != nil {
		return rec, err
	}
	now := b.now()
	var adopt []store.Machine
	restore := map[string][]cloud.Instance{} // by request id: requests the store lost
	for _, inst := range strays {
		reqID := inst.Tags[cloud.TagRequestID]
		r := byID[reqID]
		st := Stray{InstanceID: inst.ID, RequestID: reqID}
		switch age := now.Sub(inst.LaunchTime); {
		case r != nil && r.State.Placed():
			t, _ := templateOf(r.Template)
			adopt = append(adopt, newMachine(r, t, inst))
			rec.Adopted = append(rec.Adopted, inst.ID)
			st.Action, st.Reason = StrayAdopted, "its request is followed"
		case r != nil && r.State == store.StatePending:
			rec.Waiting = append(rec.Waiting, inst.ID) // recoverPending decides once its invocation is over
			st.Action, st.Reason = StrayWaiting, "its request is still being placed"
		case r == nil && reqID != "" && (empty || inst.LaunchTime.Before(ident.Created.Add(-storeSkew))):
			// Launched before this store existed, or the store holds
			// nothing: the store lost it, HostFactory may well hold it.
			restore[reqID] = append(restore[reqID], inst)
			rec.Adopted = append(rec.Adopted, inst.ID)
			st.Action, st.Reason = StrayAdopted, "older than the state store, or the store is empty: its request is rebuilt from its tags"
		case r != nil && r.State == store.StateFailed:
			terminate = append(terminate, inst)
			st.Action, st.Reason = StrayTerminated, "its request failed: HostFactory never got its id"
		case reqID == "":
			// Its installation id alone does not prove which request, if
			// any, launched it: every launch tags both. Reported, never
			// terminated.
			st.Action, st.Reason = StrayKept, "it carries this installation's id but no request tag: nothing proves ohfp launched it for a request"
		case age > b.cfg.AWS.CreationTimeout:
			terminate = append(terminate, inst)
			st.Action, st.Reason = StrayTerminated, "unknown to HostFactory and older than INSTANCE_CREATION_TIMEOUT"
		default:
			rec.Waiting = append(rec.Waiting, inst.ID)
			st.Action, st.Reason = StrayWaiting, "unknown, but younger than INSTANCE_CREATION_TIMEOUT"
			st.TerminateIn = b.cfg.AWS.CreationTimeout - age
		}
		rec.Strays = append(rec.Strays, st)
	}
	terminate = b.withinBudget(&rec, terminate, opts)
	if opts.DryRun {
		return rec, b.overBudget(ctx, rec)
	}
	if err := b.restore(ctx, restore, ident); err != nil {
		return rec, err
	}
	if len(adopt) > 0 {
		if err := b.saveMachines(ctx, adopt); err != nil {
			return rec, fault.Wrap(fault.Internal, err, "recording adopted instances")
		}
	}
	for _, m := range adopt {
		b.log.Info("reconciled", "instance_id", m.InstanceID, "action", StrayAdopted)
		b.note(m.RequestID, m.InstanceID, ActionMachineAdopted, "found in the cloud by reconcile")
	}
	if err := b.terminateStrays(ctx, terminate, byID, why); err != nil {
		return rec, err
	}
	var gone []string
	for _, id := range unjoinedIDs {
		if slices.Contains(rec.Terminated, id) {
			gone = append(gone, id)
		}
	}
	b.markTerminating(ctx, gone)
	return rec, b.overBudget(ctx, rec)
}

// sortOwners keeps, of the live instances with this provider name, those
// of this installation. The others are counted in rec and never touched;
// with opts.AdoptUntagged, untagged ones this store launched are first
// claimed as this installation's.
func (b *Broker) sortOwners(ctx context.Context, rec *Reconciliation, all []cloud.Instance, isKnown map[string]bool, opts ReconcileOptions) ([]cloud.Instance, error) {
	var mine, untagged []cloud.Instance
	for _, inst := range all {
		switch inst.OwnerFor(b.cfg.InstallationID) {
		case cloud.OwnedHere:
			mine = append(mine, inst)
		case cloud.OwnedElsewhere:
			rec.Elsewhere++
			if id := inst.Tags[cloud.TagInstallation]; !slices.Contains(rec.Installations, id) {
				rec.Installations = append(rec.Installations, id)
			}
		case cloud.OwnerUnknown:
			untagged = append(untagged, inst)
		}
	}
	if rec.Elsewhere > 0 {
		b.log.Warn(cloud.SharedNameWarning(b.cfg.ProviderName), "installations", rec.Installations, "instances", rec.Elsewhere,
			"installation_id", b.cfg.InstallationID)
	}
	if opts.AdoptUntagged && len(untagged) > 0 {
		claimed, err := b.claimUntagged(ctx, untagged, isKnown, opts.DryRun)
		if err != nil {
			return nil, err
		}
		rec.Claimed = claimed
		untagged = slices.DeleteFunc(untagged, func(inst cloud.Instance) bool {
			if slices.Contains(claimed, inst.ID) {
				inst.Tags[cloud.TagInstallation] = b.cfg.InstallationID
				mine = append(mine, inst)
				return true
			}
			return false
		})
	}
	for _, inst := range untagged {
		rec.Untagged = append(rec.Untagged, inst.ID)
	}
	if len(rec.Untagged) > 0 {
		b.log.Warn("instances with this provider name carry no installation id; they are left alone",
			"instances", rec.Untagged, "hint", "claim those this store launched once with `ohfp reconcile --adopt-untagged`")
	}
	return mine, nil
}

// claimUntagged tags as this installation's the untagged instances this
// store launched: those it knows, or whose request it holds (a request id
// is unique, so another installation cannot hold it).
func (b *Broker) claimUntagged(ctx context.Context, untagged []cloud.Instance, isKnown map[string]bool, dryRun bool) ([]string, error) {
	var reqIDs []string
	for _, inst := range untagged {
		if id := inst.Tags[cloud.TagRequestID]; id != "" && !slices.Contains(reqIDs, id) {
			reqIDs = append(reqIDs, id)
		}
	}
	reqs, err := b.store.GetRequests(ctx, reqIDs)
	if err != nil {
		return nil, fault.Wrap(fault.Internal, err, "reading requests")
	}
	var ours []string
	for _, inst := range untagged {
		if isKnown[inst.ID] || slices.ContainsFunc(reqs, func(r store.Request) bool { return r.ID == inst.Tags[cloud.TagRequestID] }) {
			ours = append(ours, inst.ID)
		}
	}
	if dryRun || len(ours) == 0 {
		return ours, nil
	}
	if err := b.cloud.Tag(ctx, ours, map[string]string{cloud.TagInstallation: b.cfg.InstallationID}); err != nil {
		return nil, fault.Wrap("", err, "tagging the instances this store launched with installation %s", b.cfg.InstallationID)
	}
	for _, id := range ours {
		b.log.Info("reconciled", "instance_id", id, "action", "claimed")
		b.note("", id, ActionMachineClaimed, "launched before installation ids; tagged with installation "+b.cfg.InstallationID)
	}
	return ours, nil
}

// budget is the most one pass may terminate of live instances.
func (b *Broker) budget(live int) int {
	r := b.cfg.Reconcile
	return max((live*r.BudgetPercent+99)/100, r.BudgetMin)
}

// withinBudget is what of terminate may go: all of it within the budget or
// with opts.Force; only what a person confirmed otherwise, and then the
// rest is reported in rec.OverBudget.
func (b *Broker) withinBudget(rec *Reconciliation, terminate []cloud.Instance, opts ReconcileOptions) []cloud.Instance {
	if len(terminate) <= rec.Budget || opts.Force {
		for _, inst := range terminate {
			rec.Terminated = append(rec.Terminated, inst.ID)
		}
		return terminate
	}
	var kept []cloud.Instance
	for _, inst := range terminate {
		if slices.Contains(opts.Confirmed, inst.ID) {
			kept = append(kept, inst)
			rec.Terminated = append(rec.Terminated, inst.ID)
			continue
		}
		rec.OverBudget = append(rec.OverBudget, inst.ID)
		for i := range rec.Strays {
			if st := &rec.Strays[i]; st.InstanceID == inst.ID {
				st.Action = StrayKept
				st.Reason += fmt.Sprintf("; kept: %d would go, more than the budget of %d", len(terminate), rec.Budget)
			}
		}
	}
	return kept
}

// overBudget logs and records a pass that stopped at the budget, and
// returns the error that says so.
func (b *Broker) overBudget(ctx context.Context, rec Reconciliation) error {
	if len(rec.OverBudget) == 0 {
		return nil
	}
	err := fault.Wrap(fault.Internal, ErrOverBudget,
		"reconcile stopped: %d unknown instances would be terminated, more than the budget of %d (of %d live); nothing was terminated. Check the state store, then run `ohfp reconcile --force` to terminate them",
		len(rec.OverBudget), rec.Budget, rec.Checked)
	if rec.DryRun {
		return err
	}
	b.log.Error("reconcile stopped at the termination budget", "instances", rec.OverBudget, "budget", rec.Budget, "live", rec.Checked)
	b.note("", "", ActionReconcileStopped, fmt.Sprintf("%d unknown instances would be terminated, budget %d of %d live: %s; none terminated",
		len(rec.OverBudget), rec.Budget, rec.Checked, strings.Join(rec.OverBudget, " ")))
	return err
}

// storeEmpty reports whether the store holds no request at all: then
// every instance it does not know was lost with its contents. reqs are
// requests already found, which settle it without a query.
func (b *Broker) storeEmpty(ctx context.Context, reqs []store.Request) (bool, error) {
	if len(reqs) > 0 {
		return false, nil
	}
	rs, err := b.store.ListRequests(ctx, store.RequestQuery{Limit: 1})
	if err != nil {
		return false, fault.Wrap(fault.Internal, err, "reading requests")
	}
	return len(rs) == 0, nil
}

// restore rebuilds, from their instances' tags, the create requests a lost
// store held, so that their hosts count against maxNumber again, answer
// HostFactory's polls and can be returned. A rebuilt request is running:
// HostFactory may well follow it.
func (b *Broker) restore(ctx context.Context, lost map[string][]cloud.Instance, ident store.Identity) error {
	for _, reqID := range slices.Sorted(maps.Keys(lost)) {
		insts := lost[reqID]
		tid := insts[0].Tags[cloud.TagTemplateID]
		t, ok := b.cfg.Template(tid)
		if !ok {
			t = config.Template{ID: tid, MaxNumber: -1}
		}
		snapshot, err := json.Marshal(t.AtRest())
		if err != nil {
			return fault.Wrap(fault.Internal, err, "recording template %s", tid)
		}
		why := fmt.Sprintf("rebuilt by reconcile from the tags of %d instances: the state store (%s, created %s) is newer than they are, or was empty",
			len(insts), ident.ID, ident.Created.Format(time.RFC3339))
		r := store.Request{ID: reqID, Kind: store.KindCreate, TemplateID: tid, Template: snapshot, MachineCount: len(insts),
			ClientToken: reqID, State: store.StateRunning, Message: why}
		// Counted against maxNumber, never refused: the hosts run already.
		err = b.store.CreateRequest(ctx, &r, []store.Limit{store.TemplateLimit(tid, -1)})
		if err != nil && !errors.Is(err, store.ErrExists) {
			return fault.Wrap(fault.Internal, err, "rebuilding request %s", reqID)
		}
		ms := make([]store.Machine, len(insts))
		for i, inst := range insts {
			ms[i] = newMachine(&r, t, inst)
		}
		if err := b.saveMachines(ctx, ms); err != nil {
			return fault.Wrap(fault.Internal, err, "recording the instances of request %s", reqID)
		}
		b.log.Warn("request rebuilt from the cloud", "request_id", reqID, "template_id", tid, "machine_count", len(insts), "store_created", ident.Created)
		b.note(reqID, "", ActionRequestRestored, why)
		for _, m := range ms {
			b.log.Info("reconciled", "instance_id", m.InstanceID, "action", StrayAdopted)
			b.note(reqID, m.InstanceID, ActionMachineAdopted, "older than the state store; adopted, never terminated")
		}
	}
	return nil
}

// terminateStrays terminates the unknown instances reconcile gave up on,
// once the events that say so are written: what cannot be recorded is not
// done. Their fleets or groups are shrunk first, or they would replace them.
func (b *Broker) terminateStrays(ctx context.Context, strays []cloud.Instance, byID map[string]*store.Request, why map[string]string) error {
	if len(strays) == 0 {
		return nil
	}
	ids := make([]string, len(strays))
	events := make([]store.Event, len(strays))
	byReq := map[string][]string{}
	for i, inst := range strays {
		ids[i] = inst.ID
		reqID := inst.Tags[cloud.TagRequestID]
		byReq[reqID] = append(byReq[reqID], inst.ID)
		events[i] = b.event(reqID, inst.ID, ActionMachineTerminated, cmp.Or(why[inst.ID], "unknown to HostFactory")+"; terminated by reconcile")
	}
	if err := b.recordFirst(ctx, events); err != nil {
		return err
	}
	for _, id := range slices.Sorted(maps.Keys(byReq)) {
		if r := byID[id]; r != nil && r.CloudRef != "" {
			if err := b.cloud.Release(ctx, r.CloudRef, byReq[id]); err != nil {
				// Never a reason to keep strays running (see release).
				b.log.Error("shrinking a placement before terminating its strays failed; terminating them all the same", "request_id", id, "err", err)
			}
		}
	}
	if err := b.cloud.Terminate(ctx, ids); err != nil {
		return fault.Wrap("", err, "terminating unknown instances")
	}
	for _, id := range ids {
		b.log.Warn("reconciled", "instance_id", id, "action", StrayTerminated)
	}
	return nil
}

// recount checks the limit counters of the configured templates and
// policies against
// the requests and machines they count (see store.Store.Recount), and
// logs and records every difference found.
func (b *Broker) recount(ctx context.Context) {
	keys := make([]string, len(b.cfg.Templates))
	for i, t := range b.cfg.Templates {
		keys[i] = store.TemplateKey(t.ID)
	}
	keys = append(keys, policy.HeldKeys(b.cfg.Policies)...)
	drifts, err := b.store.Recount(ctx, keys)
	if err != nil {
		b.log.Warn("recounting the limit counters", "err", err)
		return
	}
	for _, d := range drifts {
		what := "left as it is until no change can be in flight"
		if d.Corrected {
			what = fmt.Sprintf("set to %d", d.Counted)
		}
		b.log.Warn("limit counter differs from its requests and machines",
			"key", d.Key, "counter", d.Counter, "counted", d.Counted, "corrected", d.Corrected)
		b.note("", "", ActionCounterDrift, fmt.Sprintf("counter %s said %d, its requests and machines hold %d: %s", d.Key, d.Counter, d.Counted, what))
	}
}

// reconcileEvery is how often getReturnRequests, which HostFactory calls
// periodically, also runs a reconcile pass.
const reconcileEvery = 5 * time.Minute

const lastReconcileFact = "reconcile:last"

// reconcileNow runs a reconcile pass when the last one is older than
// reconcileEvery, so that leaks are caught without an operator cron job,
// and purges the requests finished longer ago than the retention.
func (b *Broker) reconcileNow(ctx context.Context) {
	now := b.now()
	if raw, ok, err := b.store.Fact(ctx, lastReconcileFact); err == nil && ok {
		var last time.Time
		if json.Unmarshal(raw, &last) == nil && now.Sub(last) < reconcileEvery {
			return
		}
	}
	raw, _ := json.Marshal(now)
	if err := b.store.PutFact(ctx, lastReconcileFact, raw); err != nil {
		b.log.Warn("recording the reconcile time", "err", err)
	}
	if _, err := b.reconcile(ctx, ReconcileOptions{}); err != nil && !errors.Is(err, ErrOverBudget) {
		b.log.Warn("periodic reconcile", "err", err)
	}
	b.recount(ctx)
	if retention := b.cfg.Storage.Retention; retention > 0 {
		n, err := b.store.Purge(ctx, now.Add(-retention))
		if err != nil {
			b.log.Warn("purging finished requests", "err", err)
		} else if n > 0 {
			b.log.Info("purged finished requests", "count", n, "older_than", retention)
		}
	}
}
