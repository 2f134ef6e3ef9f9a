// Package cloud holds the vocabulary the broker and the cloud providers
// share: what to launch, what an instance looks like, what a type offers.
// It knows no AWS types.
package cloud

import (
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/lsf"
)

// Tag keys ohfp puts on every resource it creates.
const (
	TagRequestID  = "ohfp:request-id"
	TagTemplateID = "ohfp:template-id"
	TagProvider   = "ohfp:provider"
	// TagInstallation tells one installation's resources from another's
	// with the same provider name; ohfp acts only on its own.
	TagInstallation = "ohfp:installation-id"
)

// LaunchSpec is one request to the cloud for machines.
type LaunchSpec struct {
	RequestID      string
	ProviderName   string
	InstallationID string
	ClientToken    string // the same token never launches twice
	Count          int
	Template       config.Template
	// RCAccount is LSF's rc_account of the request, tagged as RC_ACCOUNT
	// on every instance and volume.
	RCAccount string
	// Tags are the request's own tags (the OHFP guides' request
	// attributes), on every instance and volume with the template's
	// instanceTags; see config.MergeTags.
	Tags []config.Tag
	// Exports are shell variables the user data exports after the
	// template's userData pairs (what LSF's user_data.sh reads).
	Exports []lsf.Export
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
	ID           string
	Name         string // private DNS name
	PrivateIP    string
	PublicIP     string
	PublicDNS    string
	State        State
	StateReason  string
	InstanceType string
	// Cores and ThreadsPerCore are the CPU options the instance runs with
	// (0 when the cloud did not say).
	Cores          int
	ThreadsPerCore int
	Spot           bool
	SpotRequestID  string
	LaunchTime     time.Time
	Zone           string
	Tags           map[string]string
}

// Query selects instances to describe: those tagged with any of RequestIDs,
// plus those with any of InstanceIDs or Settling. Unknown ids are simply
// absent from the answer; they never fail the call. Instances known by id
// are named by id (AWS answers those even while an Availability Zone is
// disrupted); tags only find instances not known yet.
type Query struct {
	RequestIDs  []string
	InstanceIDs []string
	// Settling are instances known by id of which only those that have
	// left pending are wanted: a poll of a large launch then reads only the
	// instances whose state moved, not the whole request every time.
	Settling []string
	// Provider adds every live (not terminated or shutting down) instance
	// tagged with this provider instance name: what reconciliation checks.
	Provider string
}

// State is an EC2 instance state, spelt as DescribeInstances names it.
type State string

// Instance states. Unknown is no state at all: an instance a launch answer
// named without describing it, taken as still on its way.
const (
	Unknown      State = ""
	Pending      State = "pending"
	Running      State = "running"
	ShuttingDown State = "shutting-down"
	Terminated   State = "terminated"
	Stopping     State = "stopping"
	Stopped      State = "stopped"
)

// States lists every state an instance can be described in.
var States = []State{Pending, Running, ShuttingDown, Terminated, Stopping, Stopped}

// Live reports whether an instance in state s still exists and may cost
// money: it has not begun terminating.
func (s State) Live() bool { return s != ShuttingDown && s != Terminated }

// Settled reports whether an instance in state s has left pending, so a
// poll must read it.
func (s State) Settled() bool { return s != Pending && s != Unknown }

// Up reports whether an instance in state s is, or is becoming, a usable
// host: pending or running (or not described yet). A stopped instance is
// live but not up.
func (s State) Up() bool { return s == Unknown || s == Pending || s == Running }

// StatesWhere lists the states for which keep holds, in the order of
// States: what filters and queries spell out.
func StatesWhere(keep func(State) bool) []State {
	return slices.DeleteFunc(slices.Clone(States), func(s State) bool { return !keep(s) })
}

// TypeFacts is what HostFactory needs to know about an instance type.
type TypeFacts struct {
	Name      string `json:"name"`
	VCPUs     int    `json:"vcpus"`
	Cores     int    `json:"cores"`
	MemoryMiB int64  `json:"memoryMiB"`
	Arch      string `json:"arch"` // x86_64 or arm64
}

// Known reports whether the facts say something: no vCPUs or no memory is
// no fact, and published as ncpus or nram 0 it would make HostFactory
// mis-schedule.
func (f TypeFacts) Known() bool { return f.VCPUs > 0 && f.MemoryMiB > 0 }

// Owner says whose an instance tagged with this provider name is.
type Owner int

// Owners.
const (
	// OwnedHere: tagged with this installation's id.
	OwnedHere Owner = iota
	// OwnedElsewhere: tagged with another installation's id; never touched.
	OwnedElsewhere
	// OwnerUnknown: no installation id, launched before ids existed (or by
	// another installation of that time); never touched until the one-time
	// adoption step claims it.
	OwnerUnknown
)

// OwnerFor says whose in is, seen from the installation installationID.
func (in Instance) OwnerFor(installationID string) Owner {
	switch id := in.Tags[TagInstallation]; {
	case id == "":
		return OwnerUnknown
	case id == installationID:
		return OwnedHere
	}
	return OwnedElsewhere
}

// SharedNameWarning is what doctor and the log say when another
// installation's instances carry the provider name.
func SharedNameWarning(provider string) string {
	return "another installation uses the provider name " + provider + " in this account and region"
}

// IPName is the host name of an instance known only by its address ip:
// EC2's IP-based form ip-10-0-0-1 for an IPv4 address, else the address
// itself; "" when ip is no address.
func IPName(ip string) string {
	a, err := netip.ParseAddr(ip)
	switch {
	case err != nil:
		return ""
	case a.Is4():
		return "ip-" + strings.ReplaceAll(a.String(), ".", "-")
	}
	return a.String()
}
