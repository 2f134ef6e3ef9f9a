package sandbox

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// apiError is an AWS error answer; each service renders it in its protocol.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func apiErrorf(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// badParam is the client error most validation failures use.
func badParam(format string, args ...any) *apiError {
	return apiErrorf(http.StatusBadRequest, "InvalidParameterValue", format, args...)
}

func asAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	return apiErrorf(http.StatusInternalServerError, "InternalError", "%v", err)
}

func unknownAction(service, action string) *apiError {
	if service == "ec2" {
		return apiErrorf(http.StatusBadRequest, "InvalidAction", "The action %s is not valid for this web service.", action)
	}
	return apiErrorf(http.StatusBadRequest, "UnknownOperationException", "Unknown operation %s", action)
}

// knownErrors gives injected errors EC2's real status and message when the
// fault names only a code.
var knownErrors = map[string]apiError{
	"InsufficientInstanceCapacity": {http.StatusInternalServerError, "", "We currently do not have sufficient capacity in the Availability Zone you requested. Our system will be working on provisioning additional capacity."},
	"UnfulfillableCapacity":        {http.StatusInternalServerError, "", "At this time there isn't enough spare capacity to fulfill your request for Spot Instances."},
	"InstanceLimitExceeded":        {http.StatusBadRequest, "", "You have requested more instances than your current instance limit allows for the specified instance type. Please visit http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit."},
	"VcpuLimitExceeded":            {http.StatusBadRequest, "", "You have requested more vCPU capacity than your current vCPU limit allows for the instance bucket that the specified instance type belongs to. Please visit http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit."},
	"RequestLimitExceeded":         {http.StatusServiceUnavailable, "", "Request limit exceeded."},
	"UnauthorizedOperation":        {http.StatusForbidden, "", "You are not authorized to perform this operation. Encoded authorization failure message: c2FuZGJveDogbm8gaWRlbnRpdHktYmFzZWQgcG9saWN5IGFsbG93cyB0aGlzIGFjdGlvbg"},
	"InternalError":                {http.StatusInternalServerError, "", "An internal error has occurred."},
	"Unavailable":                  {http.StatusServiceUnavailable, "", "The service is unavailable. Please try again shortly."},
	"ThrottlingException":          {http.StatusBadRequest, "", "Rate exceeded"},
}

// Fault makes calls of one action misbehave.
type Fault struct {
	// Action is "service:Action", e.g. "ec2:RunInstances" (as in Calls).
	Action string `json:"action"`
	// Code is the AWS error code to answer (e.g. InsufficientInstanceCapacity,
	// RequestLimitExceeded). Known codes get EC2's status and message.
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"` // default: the code's usual message
	// Status is the HTTP status; with no Code, 500 answers InternalError and
	// 503 Unavailable.
	Status int `json:"status,omitempty"`
	// Rate is the chance in [0,1] that a call is hit; 0 means every call.
	Rate float64 `json:"rate,omitempty"`
	// Count limits how many calls are hit; 0 means no limit.
	Count int `json:"count,omitempty"`
	// Delay is waited before answering a hit call. A fault with a Delay and
	// neither Code nor Status only slows calls down.
	Delay time.Duration `json:"-"`
	// Drop closes the connection without an answer, as a network failure
	// would; the call is not carried out.
	Drop bool `json:"drop,omitempty"`
}

// errDrop tells ServeHTTP to close the connection unanswered.
var errDrop = errors.New("sandbox: connection dropped")

// err is the error f answers, or nil for a delay-only fault.
func (f Fault) err() *apiError {
	if f.Code == "" && f.Status == 0 {
		return nil
	}
	e := apiError{Status: f.Status, Code: f.Code, Message: f.Message}
	if e.Code == "" {
		e.Code = "InternalError"
		if e.Status == http.StatusServiceUnavailable {
			e.Code = "Unavailable"
		}
	}
	known, ok := knownErrors[e.Code]
	if e.Status == 0 {
		e.Status = http.StatusBadRequest
		if ok {
			e.Status = known.Status
		}
	}
	if e.Message == "" {
		e.Message = e.Code
		if ok {
			e.Message = known.Message
		}
	}
	return &e
}

// PausePoint is where a paused call blocks.
type PausePoint string

const (
	// PauseBefore blocks a call before it changes anything.
	PauseBefore PausePoint = "before"
	// PauseAfter blocks a call after the cloud applied it, before it answers.
	PauseAfter PausePoint = "after"
)

type pauseKey struct {
	action string
	at     PausePoint
}

// gate holds paused calls until released.
type gate struct {
	release chan struct{}
	waiting int
}

// faults holds injected faults and pauses.
type faults struct {
	mu     sync.Mutex
	list   []*armed
	pauses map[pauseKey]*gate
}

type armed struct {
	Fault
	hits int
}

// apply waits and fails as the first fault of action that hits says.
func (f *faults) apply(ctx context.Context, action string) error {
	f.mu.Lock()
	var hit *Fault
	for i, a := range f.list {
		if a.Action != action || (a.Rate > 0 && rand.Float64() >= a.Rate) {
			continue
		}
		a.hits++
		fault := a.Fault
		hit = &fault
		if a.Count > 0 && a.hits >= a.Count {
			f.list = append(f.list[:i:i], f.list[i+1:]...)
		}
		break
	}
	f.mu.Unlock()
	if hit == nil {
		return nil
	}
	if hit.Delay > 0 {
		t := time.NewTimer(hit.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if hit.Drop {
		return errDrop
	}
	if e := hit.err(); e != nil {
		return e
	}
	return nil
}

// wait blocks while action is paused at point, or until ctx is done.
func (f *faults) wait(ctx context.Context, action string, at PausePoint) {
	f.mu.Lock()
	g := f.pauses[pauseKey{action, at}]
	if g == nil {
		f.mu.Unlock()
		return
	}
	g.waiting++
	f.mu.Unlock()
	select {
	case <-g.release:
	case <-ctx.Done():
	}
	f.mu.Lock()
	g.waiting--
	f.mu.Unlock()
}

func (s *Sandbox) checkAction(action string) error {
	if _, ok := s.calls[action]; !ok {
		return fmt.Errorf("sandbox: unknown action %q (want e.g. \"ec2:RunInstances\")", action)
	}
	return nil
}

// AddFault arms f. Faults of one action are tried in the order added.
func (s *Sandbox) AddFault(f Fault) error {
	if err := s.checkAction(f.Action); err != nil {
		return err
	}
	if f.Rate < 0 || f.Rate > 1 {
		return fmt.Errorf("sandbox: fault rate %v not in [0,1]", f.Rate)
	}
	if f.Count < 0 || f.Delay < 0 {
		return fmt.Errorf("sandbox: negative fault count or delay")
	}
	s.faults.mu.Lock()
	s.faults.list = append(s.faults.list, &armed{Fault: f})
	s.faults.mu.Unlock()
	return nil
}

// Faults lists the armed faults.
func (s *Sandbox) Faults() []Fault {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	out := make([]Fault, len(s.faults.list))
	for i, a := range s.faults.list {
		out[i] = a.Fault
	}
	return out
}

// ClearFaults disarms the faults of action, or all faults for "".
func (s *Sandbox) ClearFaults(action string) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	kept := s.faults.list[:0]
	for _, a := range s.faults.list {
		if action != "" && a.Action != action {
			kept = append(kept, a)
		}
	}
	clear(s.faults.list[len(kept):])
	s.faults.list = kept
}

// Pause makes later calls of action block at point until Release.
func (s *Sandbox) Pause(action string, at PausePoint) error {
	if err := s.checkAction(action); err != nil {
		return err
	}
	if at != PauseBefore && at != PauseAfter {
		return fmt.Errorf("sandbox: pause point %q is neither %q nor %q", at, PauseBefore, PauseAfter)
	}
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	if s.faults.pauses == nil {
		s.faults.pauses = map[pauseKey]*gate{}
	}
	k := pauseKey{action, at}
	if s.faults.pauses[k] == nil {
		s.faults.pauses[k] = &gate{release: make(chan struct{})}
	}
	return nil
}

// Paused is the number of calls of action blocked right now at any point.
func (s *Sandbox) Paused(action string) int {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	n := 0
	for k, g := range s.faults.pauses {
		if k.action == action {
			n += g.waiting
		}
	}
	return n
}

// Release lets the blocked calls of action go on and stops pausing it;
// "" releases every action.
func (s *Sandbox) Release(action string) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	for k, g := range s.faults.pauses {
		if action == "" || k.action == action {
			close(g.release)
			delete(s.faults.pauses, k)
		}
	}
}
