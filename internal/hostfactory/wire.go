package hostfactory

import (
	"context"
	"fmt"
	"time"
)

// The answers as HostFactory reads them. Decoding rejects unknown fields, so
// the tests notice any field the contract does not name.

// Templates is getAvailableTemplates' answer.
type Templates struct {
	Message   string     `json:"message"`
	Templates []Template `json:"templates"`
}

// Template is one template of the answer.
type Template struct {
	TemplateID      string               `json:"templateId"`
	MaxNumber       int                  `json:"maxNumber"`
	AvailableNumber *int                 `json:"availableNumber"`
	Attributes      map[string][2]string `json:"attributes"`
	PriceType       string               `json:"priceType"`
	VMType          string               `json:"vmType"`
	VMTypes         map[string]int       `json:"vmTypes"`
	ImageID         string               `json:"imageId"`
	ProviderAPI     string               `json:"providerApi"`
	Priority        int                  `json:"priority"`
	// Echoed under LSF only.
	InstanceTags string `json:"instanceTags"`
	UserData     string `json:"userData"`
}

// RequestID is the answer of requestMachines and requestReturnMachines.
type RequestID struct {
	Message   string `json:"message"`
	RequestID string `json:"requestId"`
}

// Status is getRequestStatus' answer; Error is set when the cloud could
// not be asked and the requests are as last seen.
type Status struct {
	Message  string     `json:"message"`
	Requests []Request  `json:"requests"`
	Error    *ErrorBody `json:"error"`
}

// Request is one request of a status answer.
type Request struct {
	RequestID string    `json:"requestId"`
	Status    string    `json:"status"`
	Message   string    `json:"message"`
	Machines  []Machine `json:"machines"`
}

// Machine is one machine of a status answer.
type Machine struct {
	MachineID        string `json:"machineId"`
	Name             string `json:"name"`
	Result           string `json:"result"`
	Status           string `json:"status"`
	PrivateIPAddress string `json:"privateIpAddress"`
	PublicIPAddress  string `json:"publicIpAddress"`
	LaunchTime       int64  `json:"launchtime"`
	Message          string `json:"message"`
	InstanceType     string `json:"instanceType"`
	PriceType        string `json:"priceType"`
	// What LSF reads too, answered only under LSF.
	RCAccount     string  `json:"rcAccount"`
	NCores        int     `json:"ncores"`
	NThreads      int     `json:"nthreads"`
	PublicDNSName *string `json:"publicDnsName"`
	LifeCycleType string  `json:"lifeCycleType"`
}

// Host is a host as HostFactory names it in its inputs.
type HostRef struct {
	Name      string `json:"name"`
	MachineID string `json:"machineId,omitempty"`
}

// Reclaims is getReturnRequests' answer; Error is set when the cloud
// could not be asked (and no host is reported).
type Reclaims struct {
	Status   string     `json:"status"`
	Message  string     `json:"message"`
	Requests []Reclaim  `json:"requests"`
	Error    *ErrorBody `json:"error"`
}

// Reclaim is one host the cloud takes back.
type Reclaim struct {
	Machine     string `json:"machine"`
	MachineID   string `json:"machineId"`
	GracePeriod int    `json:"gracePeriod"`
}

// Error is the answer of a failed operation.
type Error struct {
	Message string    `json:"message"`
	Error   ErrorBody `json:"error"`
}

// ErrorBody is the structured error of an answer.
type ErrorBody struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details"`
}

// Templates calls getAvailableTemplates.
func (h *Host) Templates(ctx context.Context) (Templates, error) {
	var out Templates
	return out, h.callJSON(ctx, "getAvailableTemplates", map[string]any{}, &out)
}

// RequestMachines calls requestMachines.
func (h *Host) RequestMachines(ctx context.Context, templateID string, count int) (string, error) {
	var out RequestID
	in := map[string]any{"template": map[string]any{"templateId": templateID, "machineCount": count}, "rc_account": "default", "userData": map[string]any{}}
	err := h.callJSON(ctx, "requestMachines", in, &out)
	return out.RequestID, err
}

// Status calls getRequestStatus.
func (h *Host) Status(ctx context.Context, ids ...string) (Status, error) {
	reqs := make([]map[string]string, len(ids))
	for i, id := range ids {
		reqs[i] = map[string]string{"requestId": id}
	}
	var out Status
	return out, h.callJSON(ctx, "getRequestStatus", map[string]any{"requests": reqs}, &out)
}

// Wait polls a request until it is no longer running.
func (h *Host) Wait(ctx context.Context, id string, every time.Duration) (Request, error) {
	for {
		st, err := h.Status(ctx, id)
		if err != nil {
			return Request{}, err
		}
		if len(st.Requests) != 1 {
			return Request{}, fmt.Errorf("status of %s answered %d requests", id, len(st.Requests))
		}
		if r := st.Requests[0]; r.Status != "running" {
			return r, nil
		}
		select {
		case <-ctx.Done():
			return Request{}, fmt.Errorf("waiting for %s: %w", id, ctx.Err())
		case <-time.After(every):
		}
	}
}

// ReturnMachines calls requestReturnMachines.
func (h *Host) ReturnMachines(ctx context.Context, hosts []HostRef) (string, error) {
	var out RequestID
	err := h.callJSON(ctx, "requestReturnMachines", map[string]any{"machines": hosts}, &out)
	return out.RequestID, err
}

// ReturnRequests calls getReturnRequests.
func (h *Host) ReturnRequests(ctx context.Context, hosts []HostRef) (Reclaims, error) {
	var out Reclaims
	return out, h.callJSON(ctx, "getReturnRequests", map[string]any{"machines": hosts}, &out)
}

// Hosts turns the machines of a status answer into host references.
func Hosts(ms []Machine) []HostRef {
	out := make([]HostRef, len(ms))
	for i, m := range ms {
		out[i] = HostRef{Name: m.Name, MachineID: m.MachineID}
	}
	return out
}
