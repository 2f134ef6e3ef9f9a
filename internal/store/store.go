// Package store defines ohfp's durable state: requests, their machines and
// cached cloud facts, and the Store that every backend implements.
package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/config"
)

// Kind tells a create request from a return request.
type Kind string

// Request kinds.
const (
	KindCreate Kind = "create"
	KindReturn Kind = "return"
)

// State is where a request stands.
type State string

// Request states. A request is stored Pending before the cloud is called,
// so a crash between the call and the answer can be repaired.
const (
	StatePending State = "pending" // stored; the cloud call has not been answered yet
	// StatePlaced: the cloud accepted it, but HostFactory has not asked
	// about it yet. HostFactory polls every request it knows, so one that
	// stays placed was never seen by it (its invocation died before
	// exiting cleanly) and its machines must not be left running.
	StatePlaced            State = "placed"
	StateRunning           State = "running"  // HostFactory follows it; machines are on their way
	StateComplete          State = "complete" // finished, all good
	StateCompleteWithError State = "complete_with_error"
	StateFailed            State = "failed" // the cloud refused it, or HostFactory never got its id
)

// States lists every request state.
var States = []State{StatePending, StatePlaced, StateRunning, StateComplete, StateCompleteWithError, StateFailed}

// UnfinishedStates are the states a request can still leave.
var UnfinishedStates = slices.DeleteFunc(slices.Clone(States), State.Finished)

// Finished reports whether nothing about a request in state s will change.
func (s State) Finished() bool {
	return s == StateComplete || s == StateCompleteWithError || s == StateFailed
}

// Placed reports whether the cloud accepted the request (placed or running).
func (s State) Placed() bool { return s == StatePlaced || s == StateRunning }

// Request is one HostFactory request, to create or to return machines.
type Request struct {
	ID           string
	Kind         Kind
	TemplateID   string // create requests
	Template     []byte // JSON snapshot of the template when the request was made
	MachineCount int    // machines asked for (create requests)
	// Outstanding is how many machines the request still expects beyond
	// those stored; together with the alive machines it is what the request
	// holds of its limits (Holds).
	Outstanding int
	// LimitKeys are the keys of the limits the request and its machines
	// count against, recorded by CreateRequest and never changed after.
	LimitKeys []string
	// LimitWeights are the keys among LimitKeys that each machine counts
	// more than once against, with its weight (Limit.Weight).
	LimitWeights map[string]int
	RCAccount    string
	// Tags are the request's own instance tags (the OHFP guides'
	// request attributes), on top of its template's instanceTags.
	Tags        []config.Tag
	UserData    []byte       // LSF's userData object at rest: its keys, without values
	ClientToken string       // idempotency token the cloud call carries
	CloudRef    string       // what the cloud calls it: reservation, fleet id, group name
	Machines    []MachineRef // return requests: the hosts HostFactory gave back
	State       State
	Message     string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	Version     int64 // optimistic concurrency: bumped by every update
}

// Holds is how many slots r holds by itself: its Outstanding while it is an
// unfinished create request, else none. Each of its alive machines holds
// one more.
func (r *Request) Holds() int {
	if r.Kind != KindCreate || r.State.Finished() {
		return 0
	}
	return r.Outstanding
}

// Limit caps what the requests counted against one key hold, with their
// alive machines. Every limit is a counter of its own, kept by the store
// and moved in the same atomic step as every change that moves it, so
// admission reads one value instead of adding up requests and machines.
// A template's maxNumber is one (TemplateKey); other limits, such as
// per-account or per-policy ones, are further keys on the same request.
type Limit struct {
	Key string
	Max int // the most the key may hold; < 0 counts without refusing
	// Weight is what one machine counts against the key: 0 or 1 counts
	// machines; a policy's maxVCPUs counts each machine's vCPUs.
	Weight int
	// Until, when set, makes the limit a window (a policy's StepValue):
	// its counter adds up the machines requests were admitted for while
	// the window lasts and never goes down, and the store may forget it
	// once Until has passed. Key names the window, so a new window starts
	// at zero. Machines do not record windows.
	Until time.Time
}

// Window reports whether l is a window.
func (l Limit) Window() bool { return !l.Until.IsZero() }

// weight is what one machine counts against l.
func (l Limit) weight() int { return max(l.Weight, 1) }

// Need is what a request holding holds adds to l's counter.
func (l Limit) Need(holds int) int { return holds * l.weight() }

// LimitKeys are the keys of limits other than windows, each once, in
// order: what a request created with limits records.
func LimitKeys(limits []Limit) []string {
	var keys []string
	for _, l := range limits {
		if !l.Window() && !slices.Contains(keys, l.Key) {
			keys = append(keys, l.Key)
		}
	}
	return keys
}

// LimitWeights are the weights other than one of the keys of LimitKeys:
// what a request created with limits records (nil when none).
func LimitWeights(limits []Limit) map[string]int {
	var out map[string]int
	for _, l := range limits {
		if !l.Window() && l.weight() != 1 {
			if out == nil {
				out = map[string]int{}
			}
			out[l.Key] = l.weight()
		}
	}
	return out
}

// TemplateKey is the limit key of a template's maxNumber.
func TemplateKey(templateID string) string { return "template:" + templateID }

// TemplateLimit is the limit of a template's maxNumber (-1: unlimited).
func TemplateLimit(templateID string, maxNumber int) Limit {
	return Limit{Key: TemplateKey(templateID), Max: maxNumber}
}

// CapacityError is the ErrCapacity that names the limit a request would
// overshoot.
type CapacityError struct {
	Key  string
	Held int // what the key held when the request was refused
	Max  int
	Need int // what the request would have added
}

func (e *CapacityError) Error() string {
	return fmt.Sprintf("%v: %s holds %d of %d, the request needs %d", ErrCapacity, e.Key, e.Held, e.Max, e.Need)
}

// Is makes errors.Is(err, ErrCapacity) true.
func (e *CapacityError) Is(target error) bool { return target == ErrCapacity }

// Drift is a counter found to differ from what the requests and machines
// counted against its key hold.
type Drift struct {
	Key       string
	Counter   int  // what the counter said
	Counted   int  // what its requests and machines hold
	Corrected bool // the counter was set to Counted; see Store.Recount
}

// MachineRef names a host as HostFactory does.
type MachineRef struct {
	Name       string `json:"name"`
	InstanceID string `json:"machineId,omitempty"`
	// Refused says why a return request left this host alone (its name
	// and id name different hosts, or the instance is not this
	// installation's); empty when the host is returned.
	Refused string `json:"refused,omitempty"`
}

// Machine is one cloud instance that a create request obtained.
type Machine struct {
	InstanceID   string
	RequestID    string // the create request that launched it
	ReturnID     string // the return request that gave it back, if any
	TemplateID   string
	Name         string // private DNS name: HostFactory's host name
	PrivateIP    string
	PublicIP     string
	PublicDNS    string      // public DNS name, when it has one
	State        cloud.State // last cloud state seen
	Result       Result      // for the create request
	Message      string
	InstanceType string
	PriceType    string // ondemand or spot
	Cores        int    // CPU cores of the instance as launched (LSF's ncores)
	Threads      int    // its hardware threads, cores × threads per core (LSF's nthreads)
	// ListedAt is when LSF first named the host among its own (the input
	// of getReturnRequests); zero while it never has.
	ListedAt   time.Time
	LaunchTime time.Time
	UpdatedAt  time.Time
}

// Result is a machine's result as HostFactory knows it.
type Result string

// Machine results.
const (
	ResultExecuting Result = "executing"
	ResultSucceed   Result = "succeed"
	ResultFail      Result = "fail"
)

// Alive reports whether m still holds a slot of its template's maxNumber:
// its instance is up and it has not failed.
func (m Machine) Alive() bool { return m.State.Up() && m.Result != ResultFail }

// MachineQuery selects machines; the non-empty fields are ANDed, the values
// inside one field are ORed. An empty query selects nothing.
type MachineQuery struct {
	RequestIDs  []string
	ReturnIDs   []string
	InstanceIDs []string
	Names       []string // host names (private DNS names)
	TemplateID  string
	AliveOnly   bool
}

// RequestQuery selects requests for listings; the zero value lists all.
// Listings are newest first, ties broken by id, and never scan a table.
type RequestQuery struct {
	Kind       Kind
	States     []State
	TemplateID string
	Limit      int    // 0 = no limit
	After      string // a PageToken: only requests listed after that one
}

// PageToken is the token of r in listings: a query with After set to it
// continues with the requests listed after r. It is opaque to callers.
func PageToken(r Request) string {
	var n int64
	if !r.CreatedAt.IsZero() {
		n = r.CreatedAt.UnixNano()
	}
	return fmt.Sprintf("%020d#%s", n, r.ID)
}

// ParsePageToken reads back a PageToken: the creation time and id of the
// request it names.
func ParsePageToken(token string) (created time.Time, id string, err error) {
	n, id, ok := strings.Cut(token, "#")
	nanos, perr := strconv.ParseInt(n, 10, 64)
	if !ok || perr != nil || len(n) != 20 || id == "" {
		return time.Time{}, "", fmt.Errorf("page token %q: not one this store gave", token)
	}
	if nanos != 0 {
		created = time.Unix(0, nanos).UTC()
	}
	return created, id, nil
}

// Event is one entry of the audit trail: a state change, who asked for it
// and what happened.
type Event struct {
	Time       time.Time
	RequestID  string // the request it concerns, if any
	InstanceID string // the machine it concerns, if any
	Action     string // what kind of change, such as "request.placed"; see the broker
	Actor      string // who asked: "<operation> by <os user>@<host> pid <n>"
	Detail     string // what happened, for people
}

// EventQuery selects events, newest first; the zero value lists all.
type EventQuery struct {
	RequestID string    // only events of this request
	Since     time.Time // only events at or after this time
	Limit     int       // 0 = no limit
}

// Errors a Store returns that callers act on.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("changed by someone else")
	ErrCapacity = errors.New("template capacity exhausted")
	ErrExists   = errors.New("already exists")
)

// Store keeps ohfp's state. Every method is safe for concurrent use by many
// goroutines and many processes sharing the same backing store.
type Store interface {
	// CreateRequest stores a new request counted against the keys of
	// limits (recorded as r.LimitKeys and r.LimitWeights). In the same
	// atomic step it checks, for every limit with Max >= 0, that what the
	// key holds plus l.Need(r.Holds()) stays within Max, else it returns a
	// *CapacityError; and it adds r.Holds() to the counter of every window
	// among limits. An id already stored gives ErrExists. It sets
	// CreatedAt (unless given: the caller's clock decides when a request is
	// old), UpdatedAt and Version.
	CreateRequest(ctx context.Context, r *Request, limits []Limit) error
	// UpdateRequest writes r, and upserts machines with it atomically, if
	// r.Version is still the stored version (else ErrConflict, nothing
	// written). On success r.Version and r.UpdatedAt are advanced. An id
	// not stored gives ErrNotFound.
	UpdateRequest(ctx context.Context, r *Request, machines ...Machine) error
	// GetRequests returns the stored requests among ids, in the order of
	// ids; unknown ids are absent.
	GetRequests(ctx context.Context, ids []string) ([]Request, error)
	// ListRequests lists requests, newest first.
	ListRequests(ctx context.Context, q RequestQuery) ([]Request, error)
	// SaveMachines upserts machines (keyed by InstanceID).
	SaveMachines(ctx context.Context, machines []Machine) error
	// MarkListed sets ListedAt to at on the stored machines among
	// instanceIDs that have none, leaving every other field as it is.
	MarkListed(ctx context.Context, instanceIDs []string, at time.Time) error
	// Machines returns the machines matching q, ordered by request then launch.
	Machines(ctx context.Context, q MachineQuery) ([]Machine, error)
	// Held returns what each limit key holds: the Holds of the requests
	// counted against it plus their alive machines, read from its counter
	// (strongly consistent). Keys holding nothing read as 0.
	Held(ctx context.Context, keys []string) (map[string]int, error)
	// Launched returns what the window counters of keys (Limit.Until)
	// count, strongly consistent; windows not seen count 0.
	Launched(ctx context.Context, keys []string) (map[string]int, error)
	// Recount compares the counters of keys with the requests and machines
	// they count, and returns the differences. A counter below what its
	// items hold is raised at once; one above is lowered only when no
	// change to it can still be in flight, so it never admits more than a
	// limit allows.
	Recount(ctx context.Context, keys []string) ([]Drift, error)
	// Fact returns a cached cloud fact (such as an instance type's size).
	Fact(ctx context.Context, key string) (value []byte, ok bool, err error)
	// PutFact caches a fact; facts never expire by themselves.
	PutFact(ctx context.Context, key string, value []byte) error
	// Purge deletes the finished requests last updated before olderThan,
	// with their machines, and returns how many requests it deleted. A
	// request is kept while one of its machines is alive or is also tied to
	// a request that is kept, so nothing kept loses a machine. It also
	// deletes the events older than olderThan.
	Purge(ctx context.Context, olderThan time.Time) (int, error)
	// AppendEvents adds events to the audit trail. Events are kept as long
	// as finished requests: Purge deletes those older than its olderThan.
	AppendEvents(ctx context.Context, events []Event) error
	// Events lists the audit trail, newest first; events of one
	// AppendEvents call with the same time come in the reverse of their
	// order in the call.
	Events(ctx context.Context, q EventQuery) ([]Event, error)
	// Close releases the store.
	Close() error
}
