package e2e

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ohfp/ohfp/internal/sandbox"
)

// auditEvent is an event as `ohfp events list -o json` prints it.
type auditEvent struct {
	Time      time.Time `json:"time"`
	RequestID string    `json:"request_id"`
	MachineID string    `json:"machine_id"`
	Action    string    `json:"action"`
	Actor     string    `json:"actor"`
	Detail    string    `json:"detail"`
}

// events runs `ohfp events list` with args and returns its events, oldest
// first.
func (e *env) events(args ...string) []auditEvent {
	e.t.Helper()
	stdout, stderr, exit := run(e.t, e.with(), append([]string{"events", "list", "--limit", "0", "-o", "json"}, args...)...)
	if exit != 0 {
		e.t.Fatalf("events list %v: exit %d: %s", args, exit, stderr)
	}
	var es []auditEvent
	if err := json.Unmarshal([]byte(stdout), &es); err != nil {
		e.t.Fatalf("events list %v: %v:\n%s", args, err, stdout)
	}
	slices.Reverse(es)
	return es
}

// checkTrail fails unless es are the actions want, in order, each asked for
// by the operation named beside it.
func checkTrail(t *testing.T, what string, es []auditEvent, want ...[2]string) {
	t.Helper()
	if len(es) != len(want) {
		t.Fatalf("%s: %d events, want %d: %+v", what, len(es), len(want), es)
	}
	for i, w := range want {
		if e := es[i]; e.Action != w[0] || !strings.HasPrefix(e.Actor, w[1]+" by ") || !strings.Contains(e.Actor, " pid ") ||
			e.Time.IsZero() || (i > 0 && e.Time.Before(es[i-1].Time)) {
			t.Errorf("%s: event %d = %+v, want %s by %s, in time order", what, i, e, w[0], w[1])
		}
	}
}

func TestAuditTrailOfACycle(t *testing.T) {
	e := newEnv(t, sandbox.Options{PendingDelay: 100 * time.Millisecond}, []map[string]any{template("T", 5, nil)}, nil)
	reqID := e.request("T", 2)
	req := e.wait(reqID)
	if req.Status != "complete" {
		t.Fatalf("request ended %s: %+v", req.Status, req)
	}
	retID := mustReturn(t, e, req.Machines)
	if ret := e.wait(retID); ret.Status != "complete" {
		t.Fatalf("return ended %s: %+v", ret.Status, ret)
	}

	trail := e.events("--request", reqID)
	checkTrail(t, "create request", trail,
		[2]string{"request.stored", "requestMachines"},
		[2]string{"request.placed", "requestMachines"},
		[2]string{"request.finished", "getRequestStatus"},
		[2]string{"machines.returned", "requestReturnMachines"},
		// Its last machine gone, its placement goes when the return completes.
		[2]string{"placement.retired", "getRequestStatus"},
	)
	if d := trail[3].Detail; !strings.Contains(d, retID) || !strings.Contains(d, req.Machines[0].MachineID) {
		t.Errorf("returned detail %q names neither the return %s nor machine %s", d, retID, req.Machines[0].MachineID)
	}
	if d := trail[2].Detail; d != "complete" {
		t.Errorf("finished detail %q, want complete", d)
	}
	checkTrail(t, "return request", e.events("--request", retID),
		[2]string{"machines.returned", "requestReturnMachines"},
		[2]string{"request.finished", "getRequestStatus"},
	)

	// Polls that change nothing write nothing.
	all := e.events()
	if _, err := e.hf.Status(e.ctx(), reqID, retID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.hf.Templates(e.ctx()); err != nil {
		t.Fatal(err)
	}
	if after := len(e.events()); after != len(all) {
		t.Errorf("polls of finished requests added %d events", after-len(all))
	}
	if len(all) != len(trail)+2 {
		t.Errorf("%d events in all, want the %d of the two requests", len(all), len(trail)+2)
	}
	if got := e.events("--since", "1h"); len(got) != len(all) {
		t.Errorf("events of the last hour: %d, want %d", len(got), len(all))
	}
	if got := e.events("--limit", "1"); len(got) != 1 || got[0] != all[len(all)-1] {
		t.Errorf("newest event = %+v, want %+v", got, all[len(all)-1])
	}
}
