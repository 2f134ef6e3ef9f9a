package app

import (
	"context"
	"log/slog"
	"sync"

	"github.com/ohfp/ohfp/internal/cloud"
	awscloud "github.com/ohfp/ohfp/internal/cloud/aws"
	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/fault"
)

// lazyCloud sets up the AWS clients on first use: an operation answered
// from the store alone (templates with cached facts, finished requests)
// does not pay for reading the AWS configuration.
type lazyCloud struct {
	cfg   config.AWS
	log   *slog.Logger
	cache awscloud.Cache

	once sync.Once
	p    *awscloud.Provider
	err  error
}

func (l *lazyCloud) provider(ctx context.Context) (*awscloud.Provider, error) {
	l.once.Do(func() {
		l.p, l.err = awscloud.New(ctx, l.cfg, l.log, l.cache)
		if l.err != nil {
			l.err = fault.Wrap(fault.Configuration, l.err, "setting up the AWS clients")
		}
	})
	return l.p, l.err
}

func (l *lazyCloud) Launch(ctx context.Context, spec cloud.LaunchSpec) (cloud.Placement, error) {
	p, err := l.provider(ctx)
	if err != nil {
		return cloud.Placement{}, err
	}
	return p.Launch(ctx, spec)
}

func (l *lazyCloud) Instances(ctx context.Context, q cloud.Query) ([]cloud.Instance, error) {
	p, err := l.provider(ctx)
	if err != nil {
		return nil, err
	}
	return p.Instances(ctx, q)
}

func (l *lazyCloud) Terminate(ctx context.Context, ids []string) error {
	p, err := l.provider(ctx)
	if err != nil {
		return err
	}
	return p.Terminate(ctx, ids)
}

func (l *lazyCloud) InstanceTypes(ctx context.Context, names []string) (map[string]cloud.TypeFacts, error) {
	p, err := l.provider(ctx)
	if err != nil {
		return nil, err
	}
	return p.InstanceTypes(ctx, names)
}
