package server

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/ohfp/ohfp/internal/app"
	"github.com/ohfp/ohfp/internal/fault"
	"github.com/ohfp/ohfp/internal/store"
)

// auditEventJSON is one entry of the audit trail.
type auditEventJSON struct {
	Time      time.Time `json:"time"`
	RequestID string    `json:"requestId,omitempty"`
	MachineID string    `json:"machineId,omitempty"`
	Action    string    `json:"action"`
	Actor     string    `json:"actor"`
	Detail    string    `json:"detail"`
}

// listEvents answers GET /api/v1/events?request=&since=&limit=.
func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) {
	q, err := eventQuery(r.URL.Query(), time.Now())
	if err != nil {
		writeFailure(w, err)
		return
	}
	s.withApp(w, r, func(ctx context.Context, a *app.App) (any, error) {
		es, err := a.Broker.Events(ctx, q)
		out := make([]auditEventJSON, len(es))
		for i, e := range es {
			out[i] = auditEventJSON{
				Time: e.Time, RequestID: e.RequestID, MachineID: e.InstanceID,
				Action: e.Action, Actor: e.Actor, Detail: e.Detail,
			}
		}
		return map[string]any{"events": out}, err
	})
}

// eventQuery reads request=, since= (a duration before now, such as 1h, or
// an RFC 3339 time) and limit= (default 100, 0 for all).
func eventQuery(v url.Values, now time.Time) (store.EventQuery, error) {
	q := store.EventQuery{RequestID: v.Get("request"), Limit: 100}
	if since := v.Get("since"); since != "" {
		if d, err := time.ParseDuration(since); err == nil && d >= 0 {
			q.Since = now.Add(-d)
		} else if t, err := time.Parse(time.RFC3339, since); err == nil {
			q.Since = t
		} else {
			return q, fault.New(fault.InvalidRequest, "since=%q is neither a duration such as 1h nor an RFC 3339 time", since)
		}
	}
	var err error
	q.Limit, err = limit(v, q.Limit)
	return q, err
}

// limit reads limit=, a count, or gives n when it is absent.
func limit(v url.Values, n int) (int, error) {
	l := v.Get("limit")
	if l == "" {
		return n, nil
	}
	n, err := strconv.Atoi(l)
	if err != nil || n < 0 {
		return 0, fault.New(fault.InvalidRequest, "limit=%q is not a count", l)
	}
	return n, nil
}
