// Package hf is HostFactory's wire codec: it decodes and validates the JSON
// an operation receives, and encodes its result or the error envelope with
// the exit status HostFactory expects. It carries nothing out itself; see
// app.Operate.
package hf

import (
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

// Input is an operation's input, decoded and validated.
type Input struct {
	Op         string
	Machines   broker.MachineRequest // requestMachines
	RequestIDs []string              // getRequestStatus
	Hosts      []store.MachineRef    // requestReturnMachines, getReturnRequests
	// ReturnOf is requestReturnMachines in the OHFP guides' form: return
	// every live machine of this create request (Hosts is then nil).
	ReturnOf string
}

// Decode decodes and validates the input of op; an unknown op or a bad
// input is an INVALID_REQUEST naming the field.
func Decode(op string, input []byte) (Input, error) {
	in := Input{Op: op}
	var err error
	switch op {
	case OpGetAvailableTemplates:
		err = decode(input, &struct{}{}, keys{})
	case OpRequestMachines:
		in.Machines, err = DecodeRequestMachines(input)
	case OpGetRequestStatus:
		in.RequestIDs, err = DecodeRequestIDs(input)
	case OpRequestReturnMachines:
		in.Hosts, in.ReturnOf, err = DecodeReturn(input)
	case OpGetReturnRequests:
		in.Hosts, err = DecodeMachines(input, false)
	default:
		err = fault.New(fault.InvalidRequest, "unknown operation %q", op).With("operations", Operations)
	}
	return in, err
}

// Result is what an operation produced.
type Result struct {
	Templates []broker.TemplateInfo  // getAvailableTemplates
	RequestID string                 // requestMachines, requestReturnMachines
	Message   string                 // what the broker had to say: why fewer machines were granted, why none returned
	Statuses  []broker.RequestStatus // getRequestStatus
	Reclaims  []broker.Reclaim       // getReturnRequests
}

// Encode is the answer to op: its result, or the error envelope. A result
// that comes with its error is answered with the error inside: the
// statuses as last seen when the cloud could not be asked (non-nil
// Statuses), or no reclaimed host for the same reason (non-nil Reclaims).
func Encode(op string, res Result, err error) []byte {
	if err != nil {
		switch {
		case op == OpGetRequestStatus && res.Statuses != nil:
			out := encodeStatus(res.Statuses)
			out.Message, out.Error = err.Error(), errorOf(err)
			return marshal(out)
		case op == OpGetReturnRequests && res.Reclaims != nil:
			out := encodeReclaims(res.Reclaims, err.Error())
			out.Error = errorOf(err)
			return marshal(out)
		}
		return marshal(encodeError(err))
	}
	switch op {
	case OpGetAvailableTemplates:
		return marshal(encodeTemplates(res.Templates))
	case OpRequestMachines:
		msg := "Request VM success from AWS."
		if res.Message != "" {
			msg = "Request VM success from AWS: " + res.Message + "."
		}
		return marshal(requestIDOut{Message: msg, RequestID: res.RequestID})
	case OpGetRequestStatus:
		return marshal(encodeStatus(res.Statuses))
	case OpRequestReturnMachines:
		msg := res.Message
		if msg == "" {
			msg = "Delete VM success."
		}
		return marshal(requestIDOut{Message: msg, RequestID: res.RequestID})
	case OpGetReturnRequests:
		return marshal(encodeReclaims(res.Reclaims, "Instances marked for termination retrieved successfully."))
	}
	return marshal(encodeError(fault.New(fault.Internal, "no answer for operation %q", op)))
}

// Exit is the exit status HostFactory expects for err: 0 for none, else
// its fault code's.
func Exit(err error) int {
	if err == nil {
		return 0
	}
	return fault.CodeOf(err).ExitCode()
}
