package app

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/ohfp/ohfp/internal/cloud"
	awscloud "github.com/ohfp/ohfp/internal/cloud/aws"
	"github.com/ohfp/ohfp/internal/config"
)

// lazyCloud sets up the AWS clients on first use. Loading the AWS
// configuration is a tenth of a templates call, and an operation answered
// from the store alone (templates with cached facts, finished requests)
// needs no client at all.
type lazyCloud struct {
	cfg   config.AWS
	log   *slog.Logger
	cache awscloud.Cache

	once sync.Once
	p    *awscloud.Provider
	err  error
}

func (l *lazyCloud) provider(ctx context.Context) (*awscloud.Provider, error) {
	l.once.Do(func() { l.p, l.err = awscloud.New(ctx, l.cfg, l.log, l.cache) })
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

func (l *lazyCloud) Fulfilment(ctx context.Context, refs []string) (map[string]cloud.Fulfilment, error) {
	p, err := l.provider(ctx)
	if err != nil {
		return nil, err
	}
	return p.Fulfilment(ctx, refs)
}

func (l *lazyCloud) Release(ctx context.Context, ref string, ids []string) error {
	p, err := l.provider(ctx)
	if err != nil {
		return err
	}
	return p.Release(ctx, ref, ids)
}

func (l *lazyCloud) Retire(ctx context.Context, ref string) error {
	p, err := l.provider(ctx)
	if err != nil {
		return err
	}
	return p.Retire(ctx, ref)
}

func (l *lazyCloud) Tag(ctx context.Context, ids []string, tags map[string]string) error {
	p, err := l.provider(ctx)
	if err != nil {
		return err
	}
	return p.Tag(ctx, ids, tags)
}

func (l *lazyCloud) Interruptions(ctx context.Context, ids []string) (map[string]time.Time, error) {
	p, err := l.provider(ctx)
	if err != nil {
		return nil, err
	}
	return p.Interruptions(ctx, ids)
}
