package broker

import (
	"context"
	"time"

	"github.com/ohfp/ohfp/internal/access"
	"github.com/ohfp/ohfp/internal/fault"
	"github.com/ohfp/ohfp/internal/store"
)

// Actions of the audit trail.
const (
	ActionRequestStored     = "request.stored"
	ActionRequestRefused    = "request.refused" // a policy or maxNumber left no room
	ActionRequestTrimmed    = "request.trimmed" // the policies granted fewer machines than asked
	ActionRequestPlaced     = "request.placed"
	ActionRequestFailed     = "request.failed"
	ActionRequestFinished   = "request.finished"
	ActionMachinesReturned  = "machines.returned"
	ActionMachineAdopted    = "machine.adopted"
	ActionMachineTerminated = "machine.terminated"
	ActionPlacementRetired  = "placement.retired"
	ActionReclaim           = "reclaim"
	ActionCounterDrift      = "counter.drift"
	ActionRequestRestored   = "request.restored"
	ActionMachineClaimed    = "machine.claimed"
	ActionReconcileStopped  = "reconcile.stopped"
	ActionAccessDenied      = "access.denied" // the principal lacked a role or a template grant
)

// eventsTimeout bounds the write of an operation's events, which happens
// after its work is done and must not hold its answer for long.
const eventsTimeout = 2 * time.Second

// WithActor names who the operations are carried out for, in the audit
// trail: "<operation> by <os user>@<host> pid <n>".
func WithActor(actor string) Option { return func(b *Broker) { b.actor = actor } }

// note records a state change for the audit trail; the operation's
// flushEvents writes it.
func (b *Broker) note(requestID, instanceID, action, detail string) {
	e := b.event(requestID, instanceID, action, detail)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.events = append(b.events, e)
}

// event is one entry of the audit trail, now, by this broker's actor.
func (b *Broker) event(requestID, instanceID, action, detail string) store.Event {
	return store.Event{Time: b.now(), RequestID: requestID, InstanceID: instanceID, Action: action, Actor: b.actor, Detail: detail}
}

// recordFirst writes events at once, before the change they announce is
// made, and fails when they cannot be written: nothing is terminated
// unless it can be recorded first (a full disk must not leave the store
// blind to what was done in the cloud).
func (b *Broker) recordFirst(ctx context.Context, events []store.Event) error {
	if err := b.store.AppendEvents(ctx, events); err != nil {
		b.log.Error("the state store cannot be written; nothing is terminated", "err", err)
		return fault.Wrap(fault.Internal, err, "recording before terminating; nothing was terminated")
	}
	return nil
}

// flushEvents writes the events noted so far in one call, at the end of an
// operation, so that a poll that changes nothing writes nothing. The trail
// is a record, not the state: failing to write it is logged, and the
// operation's answer stands.
func (b *Broker) flushEvents(ctx context.Context) {
	b.mu.Lock()
	events := b.events
	b.events = nil
	b.mu.Unlock()
	if len(events) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), eventsTimeout)
	defer cancel()
	if err := b.store.AppendEvents(ctx, events); err != nil {
		b.log.Error("recording the audit trail", "events", len(events), "err", err)
	}
}

// allow lets the principal do a on templates, or records the denial and
// returns its PERMISSION_DENIED.
func (b *Broker) allow(a access.Action, templates ...string) error {
	if err := b.principal.Allow(a, templates...); err != nil {
		b.note("", "", ActionAccessDenied, err.Error())
		return err
	}
	return nil
}

// Events lists the audit trail, newest first.
func (b *Broker) Events(ctx context.Context, q store.EventQuery) ([]store.Event, error) {
	es, err := b.store.Events(ctx, q)
	if err != nil {
		return nil, fault.Wrap(fault.Internal, err, "listing events")
	}
	return es, nil
}
