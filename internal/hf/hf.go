// Package hf speaks HostFactory's wire protocol: it decodes and validates
// the JSON an operation receives, calls the broker, and encodes the answer
// or the error envelope with the exit status HostFactory expects.
package hf

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/ohfp/ohfp/internal/broker"
	"github.com/ohfp/ohfp/internal/fault"
	"github.com/ohfp/ohfp/internal/store"
)

// The operations, named as HostFactory's scripts are.
const (
	OpGetAvailableTemplates = "getAvailableTemplates"
	OpRequestMachines       = "requestMachines"
	OpGetRequestStatus      = "getRequestStatus"
	OpRequestReturnMachines = "requestReturnMachines"
	OpGetReturnRequests     = "getReturnRequests"
)

// Operations lists every operation, in HostFactory's order.
var Operations = []string{OpGetAvailableTemplates, OpRequestMachines, OpGetRequestStatus, OpRequestReturnMachines, OpGetReturnRequests}

// Service is what the operations need from the broker.
type Service interface {
	Templates(ctx context.Context) ([]broker.TemplateInfo, error)
	RequestMachines(ctx context.Context, in broker.MachineRequest) (string, error)
	Status(ctx context.Context, ids []string) ([]broker.RequestStatus, error)
	ReturnMachines(ctx context.Context, refs []store.MachineRef) (id, message string, err error)
	Reclaims(ctx context.Context, hosts []store.MachineRef) ([]broker.Reclaim, error)
}

// Opener builds the service; it runs after the input is validated, so a bad
// input is answered without touching configuration, store or cloud.
type Opener func(ctx context.Context) (Service, error)

// outcome is what the operation's log line says.
type outcome struct {
	requestID    string
	templateID   string
	machineCount int
}

// Run carries out one operation and returns the JSON document to print and
// the exit status. It logs one line for the operation.
func Run(ctx context.Context, log *slog.Logger, op string, input []byte, open Opener) ([]byte, int) {
	start := time.Now()
	var o outcome
	answer, err := run(ctx, op, input, open, &o)
	exit := 0
	status := "success"
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && fault.CodeOf(err) == fault.Internal {
			err = fault.Wrap(fault.Cloud, err, "operation timed out")
		}
		// An answer that came with its error (statuses as last seen, no
		// reclaims) is printed as it is; the error is inside it.
		if answer == nil {
			answer = encodeError(err)
		}
		exit, status = fault.CodeOf(err).ExitCode(), string(fault.CodeOf(err))
	}
	level := slog.LevelInfo
	if exit != 0 {
		level = slog.LevelError
	}
	attrs := []slog.Attr{
		slog.String("operation", op),
		slog.Int64("duration_ms", time.Since(start).Milliseconds()),
		slog.String("status", status),
	}
	if o.requestID != "" {
		attrs = append(attrs, slog.String("request_id", o.requestID))
	}
	if o.templateID != "" {
		attrs = append(attrs, slog.String("template_id", o.templateID))
	}
	if o.machineCount > 0 {
		attrs = append(attrs, slog.Int("machine_count", o.machineCount))
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	log.LogAttrs(ctx, level, "operation", attrs...)
	return marshal(answer), exit
}

// Failure is the answer and exit status for an operation that could not
// even start, such as an unreadable input file.
func Failure(err error) ([]byte, int) {
	return marshal(encodeError(err)), fault.CodeOf(err).ExitCode()
}

func run(ctx context.Context, op string, input []byte, open Opener, o *outcome) (any, error) {
	switch op {
	case OpGetAvailableTemplates:
		if err := decode(input, &struct{}{}, keys{}); err != nil {
			return nil, err
		}
		svc, err := open(ctx)
		if err != nil {
			return nil, err
		}
		ts, err := svc.Templates(ctx)
		if err != nil {
			return nil, err
		}
		return encodeTemplates(ts), nil

	case OpRequestMachines:
		in, err := DecodeRequestMachines(input)
		if err != nil {
			return nil, err
		}
		o.templateID, o.machineCount = in.Template.TemplateID, in.Template.MachineCount
		svc, err := open(ctx)
		if err != nil {
			return nil, err
		}
		id, err := svc.RequestMachines(ctx, broker.MachineRequest{
			TemplateID: in.Template.TemplateID,
			Count:      in.Template.MachineCount,
			RCAccount:  in.RCAccount,
			UserData:   in.UserData,
		})
		if err != nil {
			return nil, err
		}
		o.requestID = id
		return requestIDOut{Message: "Request VM success from AWS.", RequestID: id}, nil

	case OpGetRequestStatus:
		ids, err := DecodeRequestIDs(input)
		if err != nil {
			return nil, err
		}
		if len(ids) == 1 {
			o.requestID = ids[0]
		}
		svc, err := open(ctx)
		if err != nil {
			return nil, err
		}
		rs, err := svc.Status(ctx, ids)
		if rs == nil {
			return nil, err
		}
		for _, r := range rs {
			o.machineCount += len(r.Machines)
		}
		out := encodeStatus(rs)
		if err != nil {
			out.Message, out.Error = err.Error(), errorOf(err)
		}
		return out, err

	case OpRequestReturnMachines:
		refs, err := DecodeMachines(input, true)
		if err != nil {
			return nil, err
		}
		o.machineCount = len(refs)
		svc, err := open(ctx)
		if err != nil {
			return nil, err
		}
		id, msg, err := svc.ReturnMachines(ctx, refs)
		if err != nil {
			return nil, err
		}
		o.requestID = id
		if msg == "" {
			msg = "Delete VM success."
		}
		return requestIDOut{Message: msg, RequestID: id}, nil

	case OpGetReturnRequests:
		hosts, err := DecodeMachines(input, false)
		if err != nil {
			return nil, err
		}
		o.machineCount = len(hosts)
		svc, err := open(ctx)
		if err != nil {
			return nil, err
		}
		rs, err := svc.Reclaims(ctx, hosts)
		if err != nil && fault.CodeOf(err) == fault.Cloud {
			// Reporting nothing is the safe answer when the cloud cannot be asked.
			out := encodeReclaims(nil, err.Error())
			out.Error = errorOf(err)
			return out, err
		}
		if err != nil {
			return nil, err
		}
		return encodeReclaims(rs, "Instances marked for termination retrieved successfully."), nil
	}
	return nil, fault.New(fault.InvalidRequest, "unknown operation %q", op).With("operations", Operations)
}
