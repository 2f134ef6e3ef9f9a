// Package cloud holds the vocabulary the broker and the cloud providers
// share: what to launch, what an instance looks like, what a type offers.
// It knows no AWS types.
package cloud

import (
	"time"

	"github.com/ohfp/ohfp/internal/config"
)

// Tag keys ohfp puts on every resource it creates.
const (
	TagRequestID  = "ohfp:request-id"
	TagTemplateID = "ohfp:template-id"
	TagProvider   = "ohfp:provider"
)

// LaunchSpec is one request to the cloud for machines.
type LaunchSpec struct {
	RequestID    string
	ProviderName string
	ClientToken  string // the same token never launches twice
	Count        int
	Template     config.Template
}

// Placement is the cloud's answer to a launch.
type Placement struct {
	Ref       string     // reservation, fleet or group id
	Instances []Instance // the instances known at once (may be fewer than asked)
	// Ongoing says the cloud keeps launching toward the count after Launch
	// returned (fleets of type request or maintain, Auto Scaling groups);
	// the rest of the instances are found later by their request tag.
	Ongoing bool
}

// RequestRef stands for whatever a request launched through api (a
// template's providerApi) may have left in the cloud when its placement's
// own Ref was never recorded, because the invocation died during the
// launch: Retire of it finds and deletes those by the request's id.
func RequestRef(api, requestID string) string { return "request:" + api + ":" + requestID }

// Fulfilment is how far the cloud got with an ongoing placement.
type Fulfilment struct {
	Done   bool     // the cloud will launch nothing more for it
	Errors []string // why it fell short, as the cloud says it
}

// Instance is one cloud instance as the broker sees it.
type Instance struct {
	ID            string
	Name          string // private DNS name
	PrivateIP     string
	PublicIP      string
	State         string // pending, running, shutting-down, terminated, stopping, stopped
	StateReason   string
	InstanceType  string
	Spot          bool
	SpotRequestID string
	LaunchTime    time.Time
	Zone          string
	Tags          map[string]string
}

// Query selects instances to describe: those tagged with any of RequestIDs,
// plus those with any of InstanceIDs. Unknown ids are simply absent from the
// answer; they never fail the call.
type Query struct {
	RequestIDs  []string
	InstanceIDs []string
	// SettledOnly leaves out the instances found by RequestIDs that are
	// still pending: a poll of a large launch then reads only the instances
	// whose state moved, not the whole request every time.
	SettledOnly bool
	// Provider adds every live (not terminated or shutting down) instance
	// tagged with this provider instance name: what reconciliation checks.
	Provider string
}

// LiveStates are the states of instances that still cost money.
var LiveStates = []string{"pending", "running", "stopping", "stopped"}

// SettledStates are the instance states other than pending.
var SettledStates = []string{"running", "shutting-down", "terminated", "stopping", "stopped"}

// TypeFacts is what HostFactory needs to know about an instance type.
type TypeFacts struct {
	Name      string `json:"name"`
	VCPUs     int    `json:"vcpus"`
	Cores     int    `json:"cores"`
	MemoryMiB int64  `json:"memoryMiB"`
	Arch      string `json:"arch"` // x86_64 or arm64
}
