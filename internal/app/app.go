// Package app assembles ohfp from its parts for one provider instance:
// configuration, log, store, cloud and broker. Commands call it; it holds
// no business logic.
package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/ohfp/ohfp/internal/broker"
	awscloud "github.com/ohfp/ohfp/internal/cloud/aws"
	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/fault"
	"github.com/ohfp/ohfp/internal/installation"
	"github.com/ohfp/ohfp/internal/logging"
	"github.com/ohfp/ohfp/internal/store"
	"github.com/ohfp/ohfp/internal/store/dynamo"
	"github.com/ohfp/ohfp/internal/store/sqlite"
)

// App is an assembled provider instance.
type App struct {
	Config *config.Config
	Log    *slog.Logger
	Store  store.Store
	Broker *broker.Broker

	logCloser io.Closer
}

// OpenStore opens the store the configuration selects.
func OpenStore(ctx context.Context, cfg *config.Config, log *slog.Logger) (store.Store, error) {
	switch cfg.Storage.Type {
	case "", "sqlite":
		path, err := SQLitePath(cfg)
		if err != nil {
			return nil, err
		}
		st, err := sqlite.Open(ctx, path)
		if err != nil {
			return nil, fault.Wrap(fault.Configuration, err, "opening the state store %s", cfg.Storage.Path)
		}
		return st, nil
	case "dynamodb":
		o, err := DynamoOptions(ctx, cfg, log)
		if err != nil {
			return nil, err
		}
		st, err := dynamo.Open(ctx, o)
		if err != nil {
			return nil, fault.Wrap(fault.Configuration, err, "opening the DynamoDB store %s", o.TablePrefix)
		}
		return st, nil
	}
	return nil, fault.New(fault.Configuration, "%s: storage type %q is not sqlite or dynamodb", cfg.ConfigFile, cfg.Storage.Type)
}

// SQLitePath is the SQLite store's file, unless it would only be a guess:
// then it refuses, naming what to set, rather than make an empty store in
// the conf folder beside a grid whose real store is elsewhere.
func SQLitePath(cfg *config.Config) (string, error) {
	if cfg.Storage.Guessed {
		return "", fault.New(fault.Configuration,
			"no work folder for the state store: set HF_PROVIDER_WORKDIR (or HF_WORKDIR) as HostFactory does, or an absolute OHFP_SQLITE_PATH (storage.sqlite.path) in %s; ohfp does not make a store in the conf folder %s",
			cfg.ConfigFile, cfg.ConfDir).With("field", "HF_PROVIDER_WORKDIR")
	}
	return cfg.Storage.Path, nil
}

// DynamoOptions are the options of the DynamoDB store cfg configures: its
// tables, with the site's profile, credentials, proxy and retries, in the
// tables' region.
func DynamoOptions(ctx context.Context, cfg *config.Config, log *slog.Logger) (dynamo.Options, error) {
	d := cfg.Storage.DynamoDB
	site := cfg.AWS
	if d.Region != "" {
		site.Region = d.Region
	}
	awsCfg, err := awscloud.SDKConfig(ctx, site)
	if err != nil {
		return dynamo.Options{}, fault.Wrap(fault.Configuration, err, "the AWS configuration of the DynamoDB store %s", d.TablePrefix)
	}
	return dynamo.Options{
		TablePrefix: d.TablePrefix,
		EndpointURL: d.EndpointURL,
		Retention:   cfg.Storage.Retention,
		Logger:      log,
		AWSConfig:   &awsCfg,
	}, nil
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
	cl := &lazyCloud{cfg: cfg.AWS, log: log, cache: st}
	return &App{
		Config: cfg,
		Log:    log,
		Store:  st,
		Broker: broker.New(cfg, st, cl, append([]broker.Option{broker.WithLogger(log)}, opts...)...),
	}, nil
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

// StoreName says which store cfg selects, the same words for the same store.
func StoreName(cfg *config.Config) string {
	if cfg.Storage.Type != "dynamodb" {
		return "SQLite store " + cfg.Storage.Path
	}
	d := cfg.Storage.DynamoDB
	name := fmt.Sprintf("DynamoDB tables %s-* in %s", d.TablePrefix, d.Region)
	if d.EndpointURL != "" {
		name += " at " + d.EndpointURL
	}
	return name
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
	a, err := Open(ctx, cfg, log, broker.WithActor(Actor(command(os.Args))), broker.WithPrincipal(User()))
	if err != nil {
		closer.Close()
		return nil, err
	}
	a.logCloser = closer
	return a, nil
}

// OpenLog opens the log of a loaded configuration.
func OpenLog(cfg *config.Config) (*slog.Logger, io.Closer, error) {
	return logging.Open(cfg.Logging)
}
