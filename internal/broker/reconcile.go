package broker

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/fault"
	"github.com/ohfp/ohfp/internal/policy"
	"github.com/ohfp/ohfp/internal/store"
)

// Reconciliation is what a reconcile pass found and did.
type Reconciliation struct {
	Checked    int      // live instances of this provider instance in the cloud
	Adopted    []string // recorded into the request that launched them
	Terminated []string // paid for but unknown to HostFactory
	Waiting    []string // unknown, but young enough to still be claimed
	DryRun     bool     // nothing was changed
	Strays     []Stray  // every instance above, with its reason
}

// Stray is one instance the store did not know, and what reconcile did
// with it (or would, in a dry run).
type Stray struct {
	InstanceID string
	RequestID  string // from its ohfp:request-id tag
	Action     string // adopted, terminated or waiting
	Reason     string
	// TerminateIn is, for a waiting instance, how long until a reconcile
	// would terminate it if it is still unknown; 0 when that depends on
	// its request's invocation, which is still running.
	TerminateIn time.Duration
}

// Stray actions.
const (
	StrayAdopted    = "adopted"
	StrayTerminated = "terminated"
	StrayWaiting    = "waiting"
)

// Reconcile compares the live instances tagged with this provider instance
// against the store. An unknown instance whose request is still being
// followed is adopted into it; one whose request failed, is finished or
// does not exist is terminated once it is older than
// INSTANCE_CREATION_TIMEOUT (at once when its request failed: HostFactory
// never got that id). With dryRun it only reports.
func (b *Broker) Reconcile(ctx context.Context, dryRun bool) (Reconciliation, error) {
	defer b.flushEvents(ctx)
	return b.reconcile(ctx, dryRun)
}

// reconcile is Reconcile without writing the events it notes, for
// operations that run it as a part.
func (b *Broker) reconcile(ctx context.Context, dryRun bool) (Reconciliation, error) {
	rec := Reconciliation{DryRun: dryRun}
	if !dryRun {
		b.recoverPending(ctx)
	}
	insts, err := b.cloud.Instances(ctx, cloud.Query{Provider: b.cfg.ProviderName})
	if err != nil {
		return rec, fault.Wrap("", err, "listing the instances of provider %s", b.cfg.ProviderName)
	}
	rec.Checked = len(insts)
	ids := make([]string, len(insts))
	for i, inst := range insts {
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
	var strays []cloud.Instance
	var reqIDs []string
	for _, inst := range insts {
		if isKnown[inst.ID] {
			continue
		}
		strays = append(strays, inst)
		if id := inst.Tags[cloud.TagRequestID]; id != "" && !slices.Contains(reqIDs, id) {
			reqIDs = append(reqIDs, id)
		}
	}
	if len(strays) == 0 {
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
	now := b.now()
	var adopt []store.Machine
	for _, inst := range strays {
		r := byID[inst.Tags[cloud.TagRequestID]]
		st := Stray{InstanceID: inst.ID, RequestID: inst.Tags[cloud.TagRequestID]}
		switch age := now.Sub(inst.LaunchTime); {
		case r != nil && r.State.Placed():
			t, _ := templateOf(r.Template)
			adopt = append(adopt, newMachine(r, t, inst))
			rec.Adopted = append(rec.Adopted, inst.ID)
			st.Action, st.Reason = StrayAdopted, "its request is followed"
		case r != nil && r.State == store.StatePending:
			rec.Waiting = append(rec.Waiting, inst.ID) // recoverPending decides once its invocation is over
			st.Action, st.Reason = StrayWaiting, "its request is still being placed"
		case r != nil && r.State == store.StateFailed:
			rec.Terminated = append(rec.Terminated, inst.ID)
			st.Action, st.Reason = StrayTerminated, "its request failed: HostFactory never got its id"
		case age > b.cfg.AWS.CreationTimeout:
			rec.Terminated = append(rec.Terminated, inst.ID)
			st.Action, st.Reason = StrayTerminated, "unknown to HostFactory and older than INSTANCE_CREATION_TIMEOUT"
		default:
			rec.Waiting = append(rec.Waiting, inst.ID)
			st.Action, st.Reason = StrayWaiting, "unknown, but younger than INSTANCE_CREATION_TIMEOUT"
			st.TerminateIn = b.cfg.AWS.CreationTimeout - age
		}
		rec.Strays = append(rec.Strays, st)
	}
	if dryRun {
		return rec, nil
	}
	if len(adopt) > 0 {
		if err := b.store.SaveMachines(ctx, adopt); err != nil {
			return rec, fault.Wrap(fault.Internal, err, "recording adopted instances")
		}
	}
	if len(rec.Terminated) > 0 {
		// A fleet or group that launched a stray would replace it.
		byReq := map[string][]string{}
		for _, inst := range strays {
			if slices.Contains(rec.Terminated, inst.ID) {
				byReq[inst.Tags[cloud.TagRequestID]] = append(byReq[inst.Tags[cloud.TagRequestID]], inst.ID)
			}
		}
		for id, ids := range byReq {
			if r := byID[id]; r != nil && r.CloudRef != "" {
				if err := b.cloud.Release(ctx, r.CloudRef, ids); err != nil {
					// Never a reason to keep strays running (see release).
					b.log.Error("shrinking a placement before terminating its strays failed; terminating them all the same", "request_id", id, "err", err)
				}
			}
		}
		if err := b.cloud.Terminate(ctx, rec.Terminated); err != nil {
			return rec, fault.Wrap("", err, "terminating unknown instances")
		}
	}
	for _, m := range adopt {
		b.log.Info("reconciled", "instance_id", m.InstanceID, "action", "adopted")
		b.note(m.RequestID, m.InstanceID, ActionMachineAdopted, "found in the cloud by reconcile")
	}
	for _, inst := range strays {
		if slices.Contains(rec.Terminated, inst.ID) {
			b.log.Warn("reconciled", "instance_id", inst.ID, "action", "terminated")
			b.note(inst.Tags[cloud.TagRequestID], inst.ID, ActionMachineTerminated, "unknown to HostFactory; terminated by reconcile")
		}
	}
	return rec, nil
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
	if _, err := b.reconcile(ctx, false); err != nil {
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
