package hf

import (
	"encoding/json"

	"github.com/ohfp/ohfp/internal/broker"
	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/fault"
	"github.com/ohfp/ohfp/internal/store"
)

type templatesOut struct {
	Message   string        `json:"message"`
	Templates []templateOut `json:"templates"`
}

// templateOut is a template on the wire: the mandatory fields, then the
// template's own launch fields echoed as IBM's plugin does (never user data).
type templateOut struct {
	TemplateID      string               `json:"templateId"`
	MaxNumber       int                  `json:"maxNumber"`
	AvailableNumber *int                 `json:"availableNumber,omitempty"`
	Attributes      map[string][2]string `json:"attributes"`
	PriceType       string               `json:"priceType,omitempty"`
	VMType          string               `json:"vmType,omitempty"`
	VMTypes         map[string]int       `json:"vmTypes,omitempty"`
	ImageID         string               `json:"imageId,omitempty"`
	ProviderAPI     string               `json:"providerApi,omitempty"`
	Priority        int                  `json:"priority,omitempty"`
	// Echoed as IBM's LSF plugins echo them, only when LSF asks.
	InstanceTags string `json:"instanceTags,omitempty"`
	UserData     string `json:"userData,omitempty"`
}

func encodeTemplates(ts []broker.TemplateInfo) templatesOut {
	out := templatesOut{Message: "Get available templates success.", Templates: make([]templateOut, len(ts))}
	for i, t := range ts {
		attrs := make(map[string][2]string, len(t.Attributes))
		for k, a := range t.Attributes {
			attrs[k] = [2]string{a.Kind, a.Value}
		}
		o := templateOut{
			TemplateID:  t.ID,
			MaxNumber:   t.MaxNumber,
			Attributes:  attrs,
			PriceType:   t.PriceType,
			VMType:      t.VMType,
			VMTypes:     t.VMTypes,
			ImageID:     t.ImageID,
			ProviderAPI: t.ProviderAPI,
			Priority:    t.Priority,
		}
		if t.Available >= 0 {
			o.AvailableNumber = &t.Available
		}
		if t.LSF != nil {
			o.InstanceTags, o.UserData = t.LSF.InstanceTags, t.LSF.UserData
		}
		out.Templates[i] = o
	}
	return out
}

type requestIDOut struct {
	Message   string `json:"message"`
	RequestID string `json:"requestId"`
}

// statusOut is getRequestStatus' answer. When the cloud could not be asked
// it still lists the requests as last seen, with the error beside them.
type statusOut struct {
	Message  string       `json:"message,omitempty"`
	Requests []requestOut `json:"requests"`
	Error    *errorBody   `json:"error,omitempty"`
}

type requestOut struct {
	RequestID string       `json:"requestId"`
	Status    store.State  `json:"status"`
	Message   string       `json:"message"`
	Machines  []machineOut `json:"machines"`
}

type machineOut struct {
	Machine
	*lsfMachineOut
}

// Machine is a machine in getRequestStatus' names: what HostFactory reads
// of each, and what the REST listings show of a stored machine.
type Machine struct {
	MachineID        string       `json:"machineId"`
	Name             string       `json:"name"`
	Result           store.Result `json:"result"`
	Status           cloud.State  `json:"status"`
	PrivateIPAddress string       `json:"privateIpAddress"`
	PublicIPAddress  string       `json:"publicIpAddress"`
	LaunchTime       int64        `json:"launchtime"`
	Message          string       `json:"message"`
	InstanceType     string       `json:"instanceType,omitempty"`
	PriceType        string       `json:"priceType,omitempty"`
}

// MachineOf is m in getRequestStatus' names; result is its result for the
// request asked about (see broker.MachineStatus).
func MachineOf(m store.Machine, result store.Result) Machine {
	out := Machine{
		MachineID:        m.InstanceID,
		Name:             m.Name,
		Result:           result,
		Status:           m.State,
		PrivateIPAddress: m.PrivateIP,
		PublicIPAddress:  m.PublicIP,
		Message:          m.Message,
		InstanceType:     m.InstanceType,
		PriceType:        m.PriceType,
	}
	if !m.LaunchTime.IsZero() {
		out.LaunchTime = m.LaunchTime.Unix()
	}
	return out
}

// lsfMachineOut is what LSF reads of a machine besides HostFactory's
// fields, named as IBM's LSF plugins name them; absent unless LSF asks.
type lsfMachineOut struct {
	RCAccount     string `json:"rcAccount,omitempty"`
	NCores        int    `json:"ncores,omitempty"`
	NThreads      int    `json:"nthreads,omitempty"`
	PublicDNSName string `json:"publicDnsName"`
	LifeCycleType string `json:"lifeCycleType"`
}

func encodeStatus(rs []broker.RequestStatus) statusOut {
	out := statusOut{Requests: make([]requestOut, len(rs))}
	for i, r := range rs {
		ro := requestOut{RequestID: r.ID, Status: r.Status, Message: r.Message, Machines: make([]machineOut, len(r.Machines))}
		for j, m := range r.Machines {
			mo := machineOut{Machine: MachineOf(m.Machine, m.Result)}
			if l := m.LSF; l != nil {
				mo.lsfMachineOut = &lsfMachineOut{RCAccount: l.RCAccount, NCores: l.Cores, NThreads: l.Threads, PublicDNSName: l.PublicDNS, LifeCycleType: l.LifeCycle}
			}
			ro.Machines[j] = mo
		}
		out.Requests[i] = ro
	}
	return out
}

// reclaimsOut is getReturnRequests' answer; when the cloud could not be
// asked it reports no host and carries the error.
type reclaimsOut struct {
	Status   store.State  `json:"status"`
	Message  string       `json:"message"`
	Requests []reclaimOut `json:"requests"`
	Error    *errorBody   `json:"error,omitempty"`
}

type reclaimOut struct {
	Machine     string `json:"machine"`
	MachineID   string `json:"machineId"`
	GracePeriod int    `json:"gracePeriod"`
}

func encodeReclaims(rs []broker.Reclaim, message string) reclaimsOut {
	out := reclaimsOut{Status: store.StateComplete, Message: message, Requests: make([]reclaimOut, len(rs))}
	for i, r := range rs {
		out.Requests[i] = reclaimOut{Machine: r.Name, MachineID: r.InstanceID, GracePeriod: r.GracePeriod}
	}
	return out
}

type errorOut struct {
	Message string    `json:"message"`
	Error   errorBody `json:"error"`
}

type errorBody struct {
	Code    fault.Code     `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details,omitempty"`
}

// encodeError is the envelope of a failed operation: IBM's top-level
// message, and the OHFP integration guide's structured error.
func encodeError(err error) errorOut {
	return errorOut{Message: err.Error(), Error: *errorOf(err)}
}

func errorOf(err error) *errorBody {
	return &errorBody{Code: fault.CodeOf(err), Message: err.Error(), Details: fault.DetailsOf(err)}
}

// marshal writes one JSON document on one line: HostFactory parses it,
// and indenting thousands of machines costs more than the rest of a poll.
func marshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(encodeError(fault.Wrap(fault.Internal, err, "encoding the answer")))
	}
	return append(b, '\n')
}
