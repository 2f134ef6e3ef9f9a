// Package app assembles ohfp from its parts for one provider instance:
// configuration, log, store, cloud and broker. Commands call it; it holds
// no business logic.
package app

import (
	"context"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/ohfp/ohfp/internal/access"
	"github.com/ohfp/ohfp/internal/broker"
	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/fault"
	"github.com/ohfp/ohfp/internal/installation"
	"github.com/ohfp/ohfp/internal/logging"
	"github.com/ohfp/ohfp/internal/store"
)

// App is an assembled provider instance.
type App struct {
	Config *config.Config
	Log    *slog.Logger
	Store  store.Store
	Broker *broker.Broker

	logCloser io.Closer
	principal access.Principal
	actor     string
}

// Open assembles the broker for cfg; opts adjust the broker (its actor).
// The installation id is read, or made on first use, before the store is
// opened: nothing may act on the cloud without knowing what is its own.
func Open(ctx context.Context, cfg *config.Config, log *slog.Logger, opts ...broker.Option) (*App, error) {
	id, err := installation.Ensure(cfg.ConfDir)
	if err != nil {
		return nil, err
	}
	cfg.InstallationID = id
	st, err := OpenStore(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	if err := serves(ctx, st, cfg); err != nil {
		st.Close()
		return nil, err
	}
	cl := &lazyCloud{cfg: cfg.AWS, log: log, cache: store.NewFacts(st, cfg.Caching)}
	return &App{
		Config: cfg,
		Log:    log,
		Store:  st,
		Broker: broker.New(cfg, st, cl, append([]broker.Option{broker.WithLogger(log)}, opts...)...),
	}, nil
}

// OpenAs is Open for principal p, named actor in the audit trail.
func OpenAs(ctx context.Context, cfg *config.Config, log *slog.Logger, actor string, p access.Principal) (*App, error) {
	if p.Source == "token" {
		actor += " for " + p.String()
	}
	a, err := Open(ctx, cfg, log, broker.WithActor(actor), broker.WithPrincipal(p))
	if err != nil {
		return nil, err
	}
	a.principal, a.actor = p, actor
	return a, nil
}

// serves checks that st is the store of cfg's installation, recording it
// in a store that names none yet. A store copied from, or shared with,
// another installation would have this one act on that one's instances.
func serves(ctx context.Context, st store.Store, cfg *config.Config) error {
	ident, err := store.Identify(ctx, st, cfg.InstallationID, time.Now())
	if err != nil {
		return fault.Wrap(fault.Internal, err, "the state store's identity")
	}
	if ident.Installation != cfg.InstallationID {
		return fault.New(fault.Configuration,
			"the %s serves installation %s, but %s holds installation %s: on a host that shares that installation's store, copy its %s here; a store copied from another installation needs a store of its own",
			StoreName(cfg), ident.Installation, installation.Path(cfg.ConfDir), cfg.InstallationID, installation.FileName).
			With("file", installation.Path(cfg.ConfDir))
	}
	return nil
}

// Principal is who this App acts for.
func (a *App) Principal() access.Principal { return a.principal }

// Deny records in the audit trail that the App's principal was refused
// err, and returns err.
func (a *App) Deny(ctx context.Context, err error) error {
	RecordDenial(ctx, a.Store, a.actor, err)
	return err
}

// RecordDenial appends the audit event of a refusal to st; the trail is a
// record, so a failure to write it is only logged.
func RecordDenial(ctx context.Context, st store.Store, actor string, err error) {
	ev := store.Event{Time: time.Now(), Action: broker.ActionAccessDenied, Actor: actor, Detail: err.Error()}
	if werr := st.AppendEvents(context.WithoutCancel(ctx), []store.Event{ev}); werr != nil {
		slog.Default().Error("recording a denial", "err", werr)
	}
}

// Close releases the store and the log.
func (a *App) Close() error {
	err := a.Store.Close()
	if a.logCloser != nil {
		a.logCloser.Close()
	}
	return err
}

// FromEnv loads the configuration env describes, opens its log and
// assembles the provider instance: what every command other than the
// HostFactory operations starts with.
func FromEnv(ctx context.Context, env func(string) string) (*App, error) {
	cfg, err := config.Load(env)
	if err != nil {
		return nil, err
	}
	log, closer, err := OpenLog(cfg)
	if err != nil {
		return nil, fault.Wrap(fault.Configuration, err, "log folder %s", cfg.LogDir)
	}
	p, err := access.Current(cfg.AccessFile, cfg.ConfigFile)
	if err != nil {
		closer.Close()
		return nil, err
	}
	a, err := OpenAs(ctx, cfg, log, Actor(command(os.Args)), p)
	if err != nil {
		closer.Close()
		return nil, err
	}
	a.logCloser = closer
	return a, nil
}

// OpenLog opens the log of a loaded configuration, and warns in it of
// every setting the files give that ohfp does not use: a key that does
// nothing is said so on every load, not only by doctor.
func OpenLog(cfg *config.Config) (*slog.Logger, io.Closer, error) {
	log, closer, err := logging.Open(cfg.Logging)
	if err != nil {
		return nil, nil, err
	}
	for _, s := range cfg.Ignored {
		log.Warn("configuration setting not used", "setting", s)
	}
	return log, closer, nil
}
