// Package aws places and inspects ohfp's capacity on Amazon EC2. It turns
// the broker's cloud vocabulary (package cloud) into aws-sdk-go-v2 calls:
// one handler per launch API shares a launch spec builder, and every
// describe call is batched.
package aws

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/fault"
)

// Cache keeps cloud facts between invocations (store.Store satisfies it).
// It is best effort: a failing cache only costs an extra AWS call.
type Cache interface {
	Fact(ctx context.Context, key string) (value []byte, ok bool, err error)
	PutFact(ctx context.Context, key string, value []byte) error
}

// Provider is the AWS cloud of one provider instance.
type Provider struct {
	ec2   EC2API
	ssm   SSMAPI
	asg   AutoScalingAPI
	cache Cache
	log   *slog.Logger
	// now is the clock of the time rules below (time.Now; tests give the
	// sandbox's).
	now func() time.Time
	// creationTimeout is how long a fleet or group may keep trying for
	// missing capacity before its request is settled short
	// (INSTANCE_CREATION_TIMEOUT).
	creationTimeout time.Duration
	// describeOpts tune the retries of read-only calls
	// (AWS_DESCRIBE_REQUEST_RETRY_ATTEMPTS, AWS_DESCRIBE_REQUEST_INTERVAL).
	describeOpts    []func(*ec2.Options)
	asgDescribeOpts []func(*autoscaling.Options)
}

// New builds a Provider from the AWS settings. It makes no AWS call and
// resolves credentials lazily, so a short-lived process pays nothing for
// what it does not use. cache and logger may be nil.
func New(ctx context.Context, cfg config.AWS, logger *slog.Logger, cache Cache) (*Provider, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	awsCfg, err := SDKConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	awsCfg.APIOptions = append(awsCfg.APIOptions, logCalls(logger))
	// The endpoint is set on our clients only, not on the shared config,
	// where it would also redirect the STS calls of assume-role profiles.
	endpoint := Endpoint(cfg)
	p := &Provider{
		ec2: ec2.NewFromConfig(awsCfg, func(o *ec2.Options) {
			if endpoint != nil {
				o.BaseEndpoint = endpoint
			}
		}),
		ssm: ssm.NewFromConfig(awsCfg, func(o *ssm.Options) {
			if endpoint != nil {
				o.BaseEndpoint = endpoint
			}
		}),
		asg: autoscaling.NewFromConfig(awsCfg, func(o *autoscaling.Options) {
			if endpoint != nil {
				o.BaseEndpoint = endpoint
			}
		}),
		cache:           cache,
		log:             logger,
		now:             time.Now,
		creationTimeout: cfg.CreationTimeout,
	}
	p.describeOpts = describeTuning(cfg, func(o *ec2.Options) (*int, *awssdk.Retryer) { return &o.RetryMaxAttempts, &o.Retryer })
	p.asgDescribeOpts = describeTuning(cfg, func(o *autoscaling.Options) (*int, *awssdk.Retryer) {
		return &o.RetryMaxAttempts, &o.Retryer
	})
	return p, nil
}

// describeTuning is the client option that applies the retries of
// read-only calls to a client whose options expose attempts and retryer
// through fields; nil when the config leaves them at the defaults.
func describeTuning[O any](cfg config.AWS, fields func(*O) (*int, *awssdk.Retryer)) []func(*O) {
	if cfg.DescribeRetryAttempts == 0 && cfg.DescribeInterval == 0 {
		return nil
	}
	return []func(*O){func(o *O) {
		attempts, retryer := fields(o)
		if cfg.DescribeRetryAttempts > 0 {
			*attempts = cfg.DescribeRetryAttempts + 1
		}
		if cfg.DescribeInterval > 0 {
			*retryer = retry.AddWithMaxBackoffDelay(*retryer, cfg.DescribeInterval)
		}
	}}
}

// newHTTPClient applies the connect timeout and the proxy of the config.
func newHTTPClient(cfg config.AWS) (*awshttp.BuildableClient, error) {
	c := awshttp.NewBuildableClient()
	if cfg.ConnectionTimeout > 0 {
		c = c.WithDialerOptions(func(d *net.Dialer) { d.Timeout = cfg.ConnectionTimeout }).
			WithTransportOptions(func(t *http.Transport) { t.TLSHandshakeTimeout = cfg.ConnectionTimeout })
	}
	if cfg.ProxyHost != "" {
		raw := cfg.ProxyHost
		if !strings.Contains(raw, "://") {
			raw = "http://" + raw
		}
		u, err := url.Parse(raw)
		if err != nil {
			return nil, fault.Wrap(fault.Configuration, err, "AWS_PROXY_HOST %q", cfg.ProxyHost)
		}
		if cfg.ProxyPort > 0 {
			u.Host = net.JoinHostPort(u.Hostname(), strconv.Itoa(cfg.ProxyPort))
		}
		c = c.WithTransportOptions(func(t *http.Transport) { t.Proxy = http.ProxyURL(u) })
	}
	return c, nil
}

// bodyGuard works around a race between smithy-go and net/http: the SDK
// closes a request's body as soon as the response headers arrive, and the
// body's WriteTo then answers io.EOF as an error to the transport, which
// is still finishing the request and drops the connection under a response
// body being read. A fast endpoint (the sandbox) hits it on large answers.
// Hiding WriteTo makes a closed body read as a plain EOF.
type bodyGuard struct{ next awsconfig.HTTPClient }

func (c bodyGuard) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.Body != http.NoBody {
		req.Body = readOnlyBody{req.Body}
	}
	return c.next.Do(req)
}

// readOnlyBody exposes only Read and Close of a request body.
type readOnlyBody struct{ io.ReadCloser }

// Launch places spec on the API its template names.
func (p *Provider) Launch(ctx context.Context, spec cloud.LaunchSpec) (cloud.Placement, error) {
	t := spec.Template
	// The launch spec as decided, without user data, which may hold secrets.
	p.log.Debug("launch spec", "request_id", spec.RequestID, "template_id", t.ID, "api", t.API(), "count", spec.Count,
		"price_type", t.PriceType, "vm_type", t.VMType, "vm_types", t.VMTypes, "image_id", t.ImageID, "subnet_ids", t.SubnetIDs,
		"security_group_ids", t.SecurityGroupIDs, "launch_template", t.LaunchTemplateID, "tags", len(config.MergeTags(t.InstanceTags, spec.Tags)))
	switch api := spec.Template.API(); api {
	case config.APIRunInstances:
		return p.runInstances(ctx, spec)
	case config.APIEC2Fleet:
		return p.ec2Fleet(ctx, spec)
	case config.APISpotFleet:
		return p.spotFleet(ctx, spec)
	case config.APIASG:
		return p.autoScalingGroup(ctx, spec)
	default:
		return cloud.Placement{}, fault.New(fault.Configuration,
			"template %s: unknown providerApi %s", spec.Template.ID, api)
	}
}

// fact reads a cached fact into v; a miss or a broken cache is just false.
func (p *Provider) fact(ctx context.Context, key string, v any) bool {
	if p.cache == nil {
		return false
	}
	raw, ok, err := p.cache.Fact(ctx, key)
	if err != nil {
		p.log.Warn("fact cache read failed", "key", key, "err", err)
		return false
	}
	if !ok {
		return false
	}
	if err := json.Unmarshal(raw, v); err != nil {
		p.log.Warn("fact cache holds an unreadable value", "key", key, "err", err)
		return false
	}
	return true
}

// putFact caches v under key, logging instead of failing.
func (p *Provider) putFact(ctx context.Context, key string, v any) {
	if p.cache == nil {
		return
	}
	raw, err := json.Marshal(v)
	if err == nil {
		err = p.cache.PutFact(ctx, key, raw)
	}
	if err != nil {
		p.log.Warn("fact cache write failed", "key", key, "err", err)
	}
}
