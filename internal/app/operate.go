package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"slices"
	"time"

	"github.com/ohfp/ohfp/internal/access"
	"github.com/ohfp/ohfp/internal/broker"
	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/fault"
	"github.com/ohfp/ohfp/internal/hf"
	"github.com/ohfp/ohfp/internal/logging"
	"github.com/ohfp/ohfp/internal/lsf"
	"github.com/ohfp/ohfp/internal/metrics"
	"github.com/ohfp/ohfp/internal/store"
)

// answerBy leaves room, within an operation's budget, to record the outcome
// and print the answer before HostFactory's timeout kills the process.
func answerBy(budget time.Duration) time.Duration {
	return budget - min(budget/10, 2*time.Second)
}

// RunHF carries out one HostFactory operation with the configuration env
// describes, on the input read gives, and returns the JSON answer and exit
// status. Every failure, an unreadable input and the configuration's
// included, is answered in the contract's envelope.
func RunHF(ctx context.Context, op string, read func() ([]byte, error), env func(string) string) ([]byte, int) {
	res, cfg, err := operation(ctx, op, read, env)
	exit := hf.Exit(err)
	lsfMode := lsf.Present(env)
	if cfg != nil {
		lsfMode = cfg.LSF()
	}
	if exit != 0 && lsfMode {
		// LSF documents 0 for success and 1 for failure; the error's code
		// stays in the answer.
		exit = 1
	}
	return hf.Encode(op, res, err), exit
}

// Operate carries out one HostFactory operation: it decodes the input,
// assembles the provider instance env describes, calls the broker within
// the operation's budget, and logs one line for the operation. A bad input
// is refused before the configuration's own errors, and without touching
// store or cloud. The result may come with its error (see hf.Encode).
func Operate(ctx context.Context, op string, input []byte, env func(string) string) (hf.Result, error) {
	res, _, err := operation(ctx, op, func() ([]byte, error) { return input, nil }, env)
	return res, err
}

// operation is Operate, also giving the configuration when it loaded. A
// panic is answered as an internal error, with its stack in the log: the
// contract's one JSON document and exit status hold for every failure.
func operation(ctx context.Context, op string, read func() ([]byte, error), env func(string) string) (res hf.Result, loaded *config.Config, err error) {
	start := time.Now()
	in := hf.Input{Op: op}
	log := logging.NewJSON(os.Stderr, "")
	var cfg *config.Config
	var cfgErr error
	var logFile io.Closer
	var alive []store.Machine
	defer func() {
		// Closed last, so that a panic is logged to it.
		if logFile != nil {
			defer logFile.Close()
		}
		if p := recover(); p != nil {
			res, err = hf.Result{}, fault.New(fault.Internal, "internal error: %v", p)
			if cfg != nil && cfgErr == nil {
				loaded = cfg
			}
			log.Error("panic", "operation", op, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			logOperation(ctx, log, in, res, err, time.Since(start))
		}
	}()
	cfg, cfgErr = config.Load(env)
	log = logging.NewJSON(os.Stderr, env("HF_LOG_LEVEL"))
	if cfgErr == nil {
		l, closer, err := OpenLog(cfg)
		if err != nil {
			cfgErr = fault.Wrap(fault.Configuration, err, "log folder %s", cfg.LogDir)
		} else {
			log, logFile = l, closer
		}
	}
	input, err := read()
	if err == nil {
		in, err = hf.Decode(op, input)
	}
	switch {
	case err != nil:
	case cfgErr != nil:
		err = cfgErr
	default:
		ctx, cancel := context.WithTimeout(ctx, answerBy(cfg.OperationBudget()))
		defer cancel()
		res, alive, err = operate(ctx, cfg, log, in)
		if errors.Is(err, context.DeadlineExceeded) && fault.CodeOf(err) == fault.Internal {
			err = fault.Wrap(fault.Cloud, err, "operation timed out")
		}
	}
	took := time.Since(start)
	logOperation(ctx, log, in, res, err, took)
	if cfgErr != nil {
		cfg = nil
	} else {
		countOperation(ctx, cfg, log, op, err, took, alive)
	}
	return res, cfg, err
}

// OperationActions are what each HostFactory operation does, for access
// control; the broker checks the template grants of requests and returns.
var OperationActions = map[string]access.Action{
	hf.OpGetAvailableTemplates: access.Read,
	hf.OpRequestMachines:       access.Request,
	hf.OpGetRequestStatus:      access.Follow,
	hf.OpRequestReturnMachines: access.Return,
	hf.OpGetReturnRequests:     access.Follow,
}

// operate opens the provider instance and calls the broker for in, as the
// principal ctx carries, else as the Unix user running it.
// With monitoring on, it also gives the machines alive after the
// operation, for the resource gauges.
func operate(ctx context.Context, cfg *config.Config, log *slog.Logger, in hf.Input) (hf.Result, []store.Machine, error) {
	p, ok := access.FromContext(ctx)
	if !ok {
		var err error
		if p, err = access.Current(cfg.AccessFile, cfg.ConfigFile); err != nil {
			return hf.Result{}, nil, err
		}
	}
	a, err := OpenAs(ctx, cfg, log, Actor(in.Op), p)
	if err != nil {
		return hf.Result{}, nil, err
	}
	defer a.Close()
	if err := p.Allow(OperationActions[in.Op]); err != nil {
		return hf.Result{}, nil, a.Deny(ctx, err)
	}
	b := a.Broker
	var res hf.Result
	switch in.Op {
	case hf.OpGetAvailableTemplates:
		res.Templates, err = b.Templates(ctx)
	case hf.OpRequestMachines:
		var g broker.Granted
		g, err = b.RequestMachines(ctx, in.Machines)
		res.RequestID, res.Message = g.ID, g.Note
	case hf.OpGetRequestStatus:
		res.Statuses, err = b.Status(ctx, in.RequestIDs)
	case hf.OpRequestReturnMachines:
		if in.ReturnOf != "" {
			res.RequestID, res.Message, err = b.ReturnRequest(ctx, in.ReturnOf)
		} else {
			res.RequestID, res.Message, err = b.ReturnMachines(ctx, in.Hosts)
		}
	case hf.OpGetReturnRequests:
		res.Reclaims, err = b.Reclaims(ctx, in.Hosts)
		if err != nil && fault.CodeOf(err) == fault.Cloud {
			// Reporting nothing is the safe answer when the cloud cannot be asked.
			res.Reclaims = []broker.Reclaim{}
		}
	}
	var alive []store.Machine
	if cfg.Monitoring.Enabled {
		var lerr error
		if alive, lerr = b.Machines(ctx, store.MachineQuery{AliveOnly: true}); lerr != nil {
			log.Warn("metrics: listing the machines alive", "err", lerr)
		}
	}
	return res, alive, err
}

// pushTimeout bounds a push to the Pushgateway, which happens while the
// counts file is locked: an unreachable gateway must not hold up the
// operations of other processes for long.
const pushTimeout = time.Second

// countOperation counts the operation in the work folder's counts file
// (metrics.File), whatever the log level, and with monitoring on pushes
// the counts and the resource gauges of alive to the Pushgateway. Neither
// changes the operation's answer: a failure is a WARN line.
func countOperation(ctx context.Context, cfg *config.Config, log *slog.Logger, op string, err error, took time.Duration, alive []store.Machine) {
	if cfg.Storage.Guessed {
		return // no work folder to count in
	}
	outcome := "success"
	if err != nil {
		outcome = string(fault.CodeOf(err))
	}
	if !slices.Contains(hf.Operations, op) {
		// A mistyped operation name must not grow a new series.
		op = "other"
	}
	var push func(metrics.Counts)
	if cfg.Monitoring.Enabled {
		endpoint := cmp.Or(cfg.Monitoring.MetricsEndpoint, metrics.DefaultGateway)
		push = func(c metrics.Counts) {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), pushTimeout)
			defer cancel()
			host, _ := os.Hostname()
			if err := metrics.Push(ctx, endpoint, cfg.ProviderName, host, append(c.Metrics(), metrics.Resources(alive)...)); err != nil {
				log.Warn("metrics: pushing to the Pushgateway", "endpoint", endpoint, "err", err)
			}
		}
	}
	if err := metrics.CountsFile(cfg.WorkDir, cfg.ProviderName).Add(op, outcome, took, push); err != nil {
		log.Warn("metrics: counting the operation", "err", err)
	}
}

// logOperation writes the operation's one log line.
func logOperation(ctx context.Context, log *slog.Logger, in hf.Input, res hf.Result, err error, took time.Duration) {
	level, status := slog.LevelInfo, "success"
	if err != nil {
		level, status = slog.LevelError, string(fault.CodeOf(err))
	}
	attrs := []slog.Attr{
		slog.String("operation", in.Op),
		slog.Int64("duration_ms", took.Milliseconds()),
		slog.String("status", status),
	}
	requestID := res.RequestID
	if len(in.RequestIDs) == 1 {
		requestID = in.RequestIDs[0]
	}
	if requestID != "" {
		attrs = append(attrs, slog.String("request_id", requestID))
	}
	if in.Machines.TemplateID != "" {
		attrs = append(attrs, slog.String("template_id", in.Machines.TemplateID))
	}
	machines := in.Machines.Count + len(in.Hosts)
	for _, st := range res.Statuses {
		machines += len(st.Machines)
	}
	if machines > 0 {
		attrs = append(attrs, slog.Int("machine_count", machines))
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	log.LogAttrs(ctx, level, "operation", attrs...)
}
