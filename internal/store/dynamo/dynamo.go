package dynamo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/logging"
	"github.com/aws/smithy-go/middleware"

	"github.com/ohfp/ohfp/internal/fault"
	"github.com/ohfp/ohfp/internal/store"
)

// DefaultRetention is how long finished requests, dead machines and events are kept
// when Options.Retention is zero.
const DefaultRetention = 30 * 24 * time.Hour

// Options says where the tables are.
type Options struct {
	TablePrefix string // tables are <prefix>-requests, -machines, -facts, -events
	Region      string // empty: the default chain's region
	EndpointURL string // overrides the DynamoDB endpoint (DynamoDB Local)
	Retention   time.Duration
	Logger      *slog.Logger
	// AWSConfig, when set, is the SDK configuration to use (the provider's
	// profile, credential file, proxy, retries) instead of the default chain.
	AWSConfig *aws.Config
	// AutoCreate creates the tables (as Init does) when an item operation
	// finds one missing, and retries the operation once.
	AutoCreate bool
	// Backup turns on point-in-time recovery in Init and checks it.
	Backup bool
	// InitCommand is the command that creates the tables for this
	// provider instance, named in the error a missing table gives.
	InitCommand string
}

// Store is a store.Store kept in DynamoDB tables.
type Store struct {
	db        *dynamodb.Client
	requests  string
	machines  string
	facts     string
	events    string
	retention time.Duration
	log       *slog.Logger
	calls     atomic.Int64
	opts      Options
	created   sync.Mutex // held while tables are created on first use
	noTTL     bool       // the endpoint cannot turn TTL on (ensure)
}

var _ store.Store = (*Store)(nil)

// Open connects to the tables named by o with the default credential chain.
// It does not check that they exist (Init does); a missing table surfaces as
// a fault.Configuration error on first use.
func Open(ctx context.Context, o Options) (*Store, error) {
	if o.TablePrefix == "" {
		return nil, fault.New(fault.Configuration, "dynamodb table prefix is empty")
	}
	cfg, err := sdkConfig(ctx, o)
	if err != nil {
		return nil, err
	}
	if cfg.Region == "" {
		return nil, fault.New(fault.Configuration, "dynamodb: no region configured")
	}
	if o.Retention <= 0 {
		o.Retention = DefaultRetention
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &Store{
		requests:  o.TablePrefix + "-requests",
		machines:  o.TablePrefix + "-machines",
		facts:     o.TablePrefix + "-facts",
		events:    o.TablePrefix + "-events",
		retention: o.Retention,
		log:       o.Logger,
		opts:      o,
	}
	if s.opts.InitCommand == "" {
		s.opts.InitCommand = "ohfp store init"
	}
	s.db = dynamodb.NewFromConfig(cfg, func(c *dynamodb.Options) {
		if o.EndpointURL != "" {
			c.BaseEndpoint = aws.String(o.EndpointURL)
		}
		c.APIOptions = append(c.APIOptions, s.countCalls, s.missingTables)
		// The SDK warns of things like unread error bodies: detail for
		// debugging, not news for HostFactory's administrators.
		c.Logger = logging.LoggerFunc(func(_ logging.Classification, format string, v ...any) {
			s.log.Debug("aws sdk: " + fmt.Sprintf(format, v...))
		})
	})
	return s, nil
}

// sdkConfig is o.AWSConfig or the default chain's, in o.Region if set.
func sdkConfig(ctx context.Context, o Options) (aws.Config, error) {
	if o.AWSConfig != nil {
		cfg := o.AWSConfig.Copy()
		if o.Region != "" {
			cfg.Region = o.Region
		}
		return cfg, nil
	}
	var loads []func(*config.LoadOptions) error
	if o.Region != "" {
		loads = append(loads, config.WithRegion(o.Region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loads...)
	if err != nil {
		return cfg, fault.Wrap(fault.Configuration, err, "dynamodb: load AWS configuration")
	}
	return cfg, nil
}

// Calls is how many DynamoDB operations the store has called so far.
func (s *Store) Calls() int64 { return s.calls.Load() }

// Close releases the store; the client holds nothing to release.
func (s *Store) Close() error { return nil }

// countCalls adds a middleware counting every operation the client runs.
func (s *Store) countCalls(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("ohfpCountCalls",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			s.calls.Add(1)
			return next.HandleInitialize(ctx, in)
		}), middleware.Before)
}

// failure wraps an unexpected DynamoDB error for HostFactory: a missing
// table is a configuration problem (missingTables says what to run),
// anything else an internal one.
func failure(err error, format string, args ...any) error {
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return fault.Wrap(fault.Configuration, err, "dynamodb: %s", fmt.Sprintf(format, args...))
	}
	return fault.Wrap(fault.Internal, err, "dynamodb: %s", fmt.Sprintf(format, args...))
}

// tableOperations manage tables; every other operation reads or writes
// items, and a missing table there means the tables were never made.
var tableOperations = map[string]bool{
	"CreateTable": true, "DescribeTable": true, "UpdateTable": true, "DeleteTable": true,
	"DescribeTimeToLive": true, "UpdateTimeToLive": true,
	"DescribeContinuousBackups": true, "UpdateContinuousBackups": true,
}

// missingTables adds, to item operations, what a missing table calls for:
// with AutoCreate, create the tables (once per process) and run the
// operation again; without, say which command creates them.
func (s *Store) missingTables(stack *middleware.Stack) error {
	if tableOperations[stack.ID()] {
		return nil
	}
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("ohfpMissingTables",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleInitialize(ctx, in)
			var nf *types.ResourceNotFoundException
			if !errors.As(err, &nf) || ctx.Value(settingUp{}) != nil {
				return out, md, err
			}
			if !s.opts.AutoCreate {
				return out, md, fmt.Errorf("table %s* missing (storage.dynamodb.auto_create is off); create the tables with `%s`: %w",
					s.opts.TablePrefix+"-", s.opts.InitCommand, err)
			}
			if cerr := s.createOnFirstUse(ctx); cerr != nil {
				return out, md, fmt.Errorf("tables %s* missing and not created (%v); create them with `%s` where CreateTable is allowed: %w",
					s.opts.TablePrefix+"-", cerr, s.opts.InitCommand, err)
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
}

// settingUp marks the context of ensure's calls, which find tables missing
// on purpose and must not create them on their own.
type settingUp struct{}

// createOnFirstUse creates what is missing of the tables, as `ohfp store
// init` would; concurrent operations of one process wait for one another.
func (s *Store) createOnFirstUse(ctx context.Context) error {
	s.created.Lock()
	defer s.created.Unlock()
	report, err := s.ensure(ctx, true)
	if err == nil && !slices.ContainsFunc(report, func(l string) bool { return strings.HasSuffix(l, " is ready") }) {
		s.log.InfoContext(ctx, "dynamodb: tables created on first use", "prefix", s.opts.TablePrefix, "report", report)
	}
	return err
}
