package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ohfp/ohfp/internal/app"
	"github.com/ohfp/ohfp/internal/broker"
	"github.com/ohfp/ohfp/internal/fault"
	"github.com/ohfp/ohfp/internal/hf"
	"github.com/ohfp/ohfp/internal/store"
)

// requestJSON is a stored request in the listings, named as HostFactory
// names the same things.
type requestJSON struct {
	RequestID    string        `json:"requestId"`
	Kind         store.Kind    `json:"kind"`
	TemplateID   string        `json:"templateId,omitempty"`
	Status       store.State   `json:"status"`
	Message      string        `json:"message"`
	MachineCount int           `json:"machineCount,omitempty"`
	RCAccount    string        `json:"rcAccount,omitempty"`
	CreatedAt    time.Time     `json:"createdAt"`
	UpdatedAt    time.Time     `json:"updatedAt"`
	Machines     []machineJSON `json:"machines"`
}

// machineJSON is a stored machine as last seen: in getRequestStatus'
// names, and the requests it belongs to.
type machineJSON struct {
	hf.Machine
	RequestID  string `json:"requestId"`
	ReturnID   string `json:"returnId,omitempty"`
	TemplateID string `json:"templateId"`
}

func toMachineJSON(m store.Machine) machineJSON {
	return machineJSON{Machine: hf.MachineOf(m, m.Result), RequestID: m.RequestID, ReturnID: m.ReturnID, TemplateID: m.TemplateID}
}

// listRequests answers
// GET /api/v1/requests?state=&template=&kind=&limit=&pageToken=; with a
// limit, a full page carries nextPageToken.
func (s *Server) listRequests(w http.ResponseWriter, r *http.Request) {
	q, err := requestQuery(r.URL.Query())
	if err != nil {
		writeFailure(w, err)
		return
	}
	s.withApp(w, r, func(ctx context.Context, a *app.App) (any, error) {
		rs, next, err := requestsWithMachines(ctx, a, q)
		out := map[string]any{"requests": rs}
		if next != "" {
			out["nextPageToken"] = next
		}
		return out, err
	})
}

// listMachines answers GET /api/v1/machines?template=&request=&alive=.
func (s *Server) listMachines(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	q := store.MachineQuery{TemplateID: v.Get("template"), RequestIDs: values(v, "request"), AliveOnly: true}
	if a := v.Get("alive"); a != "" {
		alive, err := strconv.ParseBool(a)
		if err != nil {
			writeFailure(w, fault.New(fault.InvalidRequest, "alive=%q is not true or false", a))
			return
		}
		q.AliveOnly = alive
	}
	if !q.AliveOnly && q.TemplateID == "" && len(q.RequestIDs) == 0 {
		writeFailure(w, fault.New(fault.InvalidRequest, "alive=false needs a template or a request"))
		return
	}
	s.withApp(w, r, func(ctx context.Context, a *app.App) (any, error) {
		ms, err := a.Broker.Machines(ctx, q)
		out := make([]machineJSON, len(ms))
		for i, m := range ms {
			out[i] = toMachineJSON(m)
		}
		return map[string]any{"machines": out}, err
	})
}

// withApp opens the provider instance, answers what fn returns as JSON and
// closes it again.
func (s *Server) withApp(w http.ResponseWriter, r *http.Request, fn func(context.Context, *app.App) (any, error)) {
	a, err := s.open(r.Context())
	if err != nil {
		writeFailure(w, err)
		return
	}
	defer a.Close()
	v, err := fn(r.Context(), a)
	if err != nil {
		writeFailure(w, err)
		return
	}
	body, err := json.Marshal(v)
	if err != nil {
		writeFailure(w, fault.Wrap(fault.Internal, err, "encoding the answer"))
		return
	}
	writeJSON(w, http.StatusOK, append(body, '\n'))
}

func requestQuery(v url.Values) (store.RequestQuery, error) {
	q := store.RequestQuery{TemplateID: v.Get("template"), Kind: store.Kind(v.Get("kind")), After: v.Get("pageToken")}
	if q.Kind != "" && q.Kind != store.KindCreate && q.Kind != store.KindReturn {
		return q, fault.New(fault.InvalidRequest, "kind=%q is not create or return", q.Kind)
	}
	for _, st := range values(v, "state") {
		if !slices.Contains(store.States, store.State(st)) {
			return q, fault.New(fault.InvalidRequest, "state=%q is not a request state", st).With("states", store.States)
		}
		q.States = append(q.States, store.State(st))
	}
	var err error
	q.Limit, err = limit(v, 0)
	return q, err
}

// values reads a list parameter given repeated, comma-separated, or both.
func values(v url.Values, key string) []string {
	var out []string
	for _, s := range v[key] {
		for p := range strings.SplitSeq(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// requestsWithMachines lists the requests q selects, each with its
// machines: those a create request launched, those a return gave back;
// and the token of the next page.
func requestsWithMachines(ctx context.Context, a *app.App, q store.RequestQuery) ([]requestJSON, string, error) {
	rs, err := a.Broker.Requests(ctx, q)
	if err != nil {
		return nil, "", err
	}
	var creates, returns []string
	for _, r := range rs {
		if r.Kind == store.KindReturn {
			returns = append(returns, r.ID)
		} else {
			creates = append(creates, r.ID)
		}
	}
	byRequest := map[string][]machineJSON{}
	for _, mq := range []store.MachineQuery{{RequestIDs: creates}, {ReturnIDs: returns}} {
		ms, err := a.Broker.Machines(ctx, mq)
		if err != nil {
			return nil, "", err
		}
		for _, m := range ms {
			key := m.RequestID
			if len(mq.ReturnIDs) > 0 {
				key = m.ReturnID
			}
			byRequest[key] = append(byRequest[key], toMachineJSON(m))
		}
	}
	out := make([]requestJSON, len(rs))
	for i, r := range rs {
		ms := byRequest[r.ID]
		if ms == nil {
			ms = []machineJSON{}
		}
		out[i] = requestJSON{
			RequestID: r.ID, Kind: r.Kind, TemplateID: r.TemplateID, Status: r.State, Message: r.Message,
			MachineCount: r.MachineCount, RCAccount: r.RCAccount, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
			Machines: ms,
		}
	}
	return out, broker.NextPage(rs, q.Limit), nil
}

// overviewRequests is how many of the newest requests the dashboard shows.
const overviewRequests = 20

type templateUsage struct {
	TemplateID string `json:"templateId"`
	MaxNumber  int    `json:"maxNumber"`
	Used       int    `json:"used"`
}

// overview is everything the dashboard shows, in one answer.
func (s *Server) overview(w http.ResponseWriter, r *http.Request) {
	s.pollLog()
	s.withApp(w, r, func(ctx context.Context, a *app.App) (any, error) {
		usage, err := a.Broker.Usage(ctx)
		if err != nil {
			return nil, err
		}
		ts := make([]templateUsage, len(a.Config.Templates))
		for i, t := range a.Config.Templates {
			ts[i] = templateUsage{TemplateID: t.ID, MaxNumber: t.MaxNumber, Used: usage[t.ID]}
		}
		rs, _, err := requestsWithMachines(ctx, a, store.RequestQuery{Limit: overviewRequests})
		if err != nil {
			return nil, err
		}
		errs, reclaims := s.events.recent()
		return struct {
			Time      time.Time       `json:"time"`
			Provider  string          `json:"provider"`
			Templates []templateUsage `json:"templates"`
			Requests  []requestJSON   `json:"requests"`
			Errors    []Event         `json:"errors"`
			Reclaims  []Event         `json:"reclaims"`
		}{time.Now().UTC(), a.Config.ProviderName, ts, rs, errs, reclaims}, nil
	})
}
