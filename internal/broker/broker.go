// Package broker holds ohfp's use cases: templates, requesting machines,
// following requests, returning machines and reporting reclaimed hosts. It
// keeps the state machine of requests and machines; it knows no JSON and no
// AWS types.
package broker

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/ohfp/ohfp/internal/access"
	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/store"
)

// Cloud is what the broker needs from a cloud provider.
type Cloud interface {
	// Launch places a request for machines; the same ClientToken never
	// launches twice.
	Launch(ctx context.Context, spec cloud.LaunchSpec) (cloud.Placement, error)
	// Instances describes instances in batches; unknown ids are absent.
	Instances(ctx context.Context, q cloud.Query) ([]cloud.Instance, error)
	// Terminate terminates instances; ids already gone are not an error.
	Terminate(ctx context.Context, ids []string) error
	// InstanceTypes returns what it knows of the named instance types.
	InstanceTypes(ctx context.Context, names []string) (map[string]cloud.TypeFacts, error)
	// Fulfilment reports on ongoing placements, by Placement.Ref.
	Fulfilment(ctx context.Context, refs []string) (map[string]cloud.Fulfilment, error)
	// Release shrinks a placement by instances about to be terminated, so
	// that nothing replaces them; a placement that launches nothing on its
	// own ignores it.
	Release(ctx context.Context, ref string, ids []string) error
	// Retire deletes what a placement keeps in the cloud (fleet, group,
	// launch template) once none of its instances is alive.
	Retire(ctx context.Context, ref string) error
	// Interruptions says when AWS marked each of the spot instances among
	// ids for reclaim; unmarked and non-spot instances are absent.
	Interruptions(ctx context.Context, ids []string) (map[string]time.Time, error)
	// Tag adds tags to instances: how the one-time adoption step claims
	// instances launched before installation ids existed.
	Tag(ctx context.Context, ids []string, tags map[string]string) error
}

// Broker carries out HostFactory's operations for one provider instance.
type Broker struct {
	cfg   *config.Config
	store store.Store
	facts store.Facts // the cloud facts the store caches, as cfg.Caching says
	cloud Cloud
	now   func() time.Time
	log   *slog.Logger
	actor string
	// principal is who the operations are carried out for: the user a
	// policy's Consumer.user names, and whose grants requests and returns
	// need.
	principal access.Principal

	mu     sync.Mutex
	events []store.Event // noted during the current operation; see audit.go
}

// Option adjusts a Broker.
type Option func(*Broker)

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(b *Broker) { b.log = l } }

// WithClock sets the clock every time rule reads (default time.Now), so
// that tests move time instead of waiting for it.
func WithClock(now func() time.Time) Option { return func(b *Broker) { b.now = now } }

// WithPrincipal names who the operations are carried out for: a Unix user,
// or the principal of a REST token (default: anyone, with every right).
func WithPrincipal(p access.Principal) Option { return func(b *Broker) { b.principal = p } }

// New makes a Broker.
func New(cfg *config.Config, st store.Store, cl Cloud, opts ...Option) *Broker {
	b := &Broker{cfg: cfg, store: st, facts: store.NewFacts(st, cfg.Caching), cloud: cl, now: time.Now, log: slog.New(slog.DiscardHandler), principal: access.Everyone("")}
	for _, o := range opts {
		o(b)
	}
	return b
}

// visibilityGrace is how long a freshly launched instance may stay invisible
// to Describe calls (EC2 is eventually consistent) before it counts as gone.
const visibilityGrace = 2 * time.Minute

// nameGrace is how long a running instance may go without a private DNS
// name before it is named after its IP address.
const nameGrace = time.Minute

// saveMachines stores machines as seen now: their UpdatedAt is the time
// their recorded state was last seen (the listings' seen_at).
func (b *Broker) saveMachines(ctx context.Context, ms []store.Machine) error {
	b.seen(ms)
	return b.store.SaveMachines(ctx, ms)
}

// updateRequest stores r and, as seen now, machines.
func (b *Broker) updateRequest(ctx context.Context, r *store.Request, ms ...store.Machine) error {
	b.seen(ms)
	return b.store.UpdateRequest(ctx, r, ms...)
}

func (b *Broker) seen(ms []store.Machine) {
	now := b.now().UTC()
	for i := range ms {
		ms[i].UpdatedAt = now
	}
}
