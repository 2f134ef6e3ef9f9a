package server

import (
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ohfp/ohfp/internal/hf"
)

// The log lines the server counts, by their msg; docs/serve.md describes
// the attributes each must carry.
const (
	msgOperation  = "operation"
	msgAWSCall    = "aws call"
	msgReclaim    = "reclaim"
	msgReconciled = "reconciled"
)

// logLine is the part of a JSON log line the server reads.
type logLine struct {
	Time       time.Time `json:"timestamp"` // logging.TimeKey
	Msg        string    `json:"msg"`
	Operation  string    `json:"operation"`
	Status     string    `json:"status"`
	RequestID  string    `json:"request_id"`
	TemplateID string    `json:"template_id"`
	Error      string    `json:"error"`
	API        string    `json:"api"`
	Code       string    `json:"code"`
	InstanceID string    `json:"instance_id"`
	Name       string    `json:"name"`
	Grace      *int      `json:"grace_period"`
	Action     string    `json:"action"`
}

// recentEvents is how many errors and reclaims the dashboard is shown.
const recentEvents = 20

// Event is an error or a reclaim read from the log, for the dashboard.
type Event struct {
	Time       time.Time `json:"time"`
	Operation  string    `json:"operation,omitempty"`
	Status     string    `json:"status,omitempty"`
	RequestID  string    `json:"requestId,omitempty"`
	TemplateID string    `json:"templateId,omitempty"`
	MachineID  string    `json:"machineId,omitempty"`
	Name       string    `json:"name,omitempty"`
	Grace      *int      `json:"gracePeriod,omitempty"`
	Message    string    `json:"message,omitempty"`
}

// events turns log lines into the log-derived metrics and keeps the recent
// errors and reclaims. Operations are counted apart from the log
// (metrics.File), whatever its level.
type events struct {
	awsCalls   *prometheus.CounterVec
	reclaims   prometheus.Counter
	reconciled *prometheus.CounterVec

	mu                    sync.Mutex
	errors, reclaimEvents []Event // oldest first, at most recentEvents
}

func newEvents(reg prometheus.Registerer) *events {
	e := &events{
		awsCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ohfp_aws_calls_total",
			Help: "AWS API calls, by API and error code (ok for success).",
		}, []string{"api", "code"}),
		reclaims: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ohfp_reclaims_total",
			Help: "Hosts reported to HostFactory as reclaimed by the cloud.",
		}),
		reconciled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ohfp_reconciled_instances_total",
			Help: "Instances found in the cloud without a usable record and reconciled, by action (adopted, terminated, claimed).",
		}, []string{"action"}),
	}
	reg.MustRegister(e.awsCalls, e.reclaims, e.reconciled)
	return e
}

// line counts one log line; lines that are not ohfp's JSON are skipped.
func (e *events) line(b []byte) {
	var l logLine
	if json.Unmarshal(b, &l) != nil {
		return
	}
	switch l.Msg {
	case msgOperation:
		// Only known operations become labels: a mistyped operation name
		// must not grow a new series.
		op := l.Operation
		if !slices.Contains(hf.Operations, op) {
			op = "other"
		}
		if l.Status != "success" {
			e.keep(&e.errors, Event{Time: l.Time, Operation: op, Status: l.Status,
				RequestID: l.RequestID, TemplateID: l.TemplateID, Message: l.Error})
		}
	case msgAWSCall:
		code := l.Code
		if code == "" {
			code = "ok"
		}
		e.awsCalls.WithLabelValues(l.API, code).Inc()
	case msgReclaim:
		e.reclaims.Inc()
		e.keep(&e.reclaimEvents, Event{Time: l.Time, RequestID: l.RequestID, MachineID: l.InstanceID, Name: l.Name, Grace: l.Grace})
	case msgReconciled:
		e.reconciled.WithLabelValues(l.Action).Inc()
	}
}

func (e *events) keep(list *[]Event, ev Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(*list) == recentEvents {
		*list = (*list)[1:]
	}
	*list = append(*list, ev)
}

// recent returns the kept errors and reclaims, newest first.
func (e *events) recent() (errs, reclaims []Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	errs, reclaims = append([]Event{}, e.errors...), append([]Event{}, e.reclaimEvents...)
	slices.Reverse(errs)
	slices.Reverse(reclaims)
	return errs, reclaims
}
