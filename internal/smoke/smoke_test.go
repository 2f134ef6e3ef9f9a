package smoke

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ohfp/ohfp/internal/broker"
	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/store"
)

// fake is a cloud and broker of one request whose machine comes up on the
// first poll and goes away when returned.
type fake struct {
	tags     map[string]string // the instance's tags
	remains  []string          // what the placement keeps until polled twice after the return
	returned []string          // instance ids returned
	polls    int
	cancel   func() // called on the first poll, when set
}

const reqID, instID = "req-1", "i-1"

func (f *fake) RequestMachines(context.Context, broker.MachineRequest) (broker.Granted, error) {
	return broker.Granted{ID: reqID, Machines: 1}, nil
}

func (f *fake) Status(ctx context.Context, ids []string) ([]broker.RequestStatus, error) {
	f.polls++
	if f.cancel != nil {
		f.cancel() // Ctrl-C during the first poll
		f.cancel = nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m := store.Machine{InstanceID: instID, Name: "ip-10-0-0-1", PrivateIP: "10.0.0.1", State: cloud.Running}
	if len(f.returned) > 0 {
		m.ReturnID, m.State = "ret-1", cloud.Terminated
		if len(f.remains) > 0 && f.polls > 4 {
			f.remains = nil // retired by a poll
		}
	}
	if ids[0] == reqID {
		return []broker.RequestStatus{{ID: reqID, Status: store.StateComplete, Machines: []broker.MachineStatus{{Machine: m, Result: store.ResultSucceed}}}}, nil
	}
	return []broker.RequestStatus{{ID: ids[0], Status: store.StateComplete}}, nil
}

func (f *fake) ReturnMachines(_ context.Context, refs []store.MachineRef) (string, string, error) {
	for _, r := range refs {
		f.returned = append(f.returned, r.InstanceID)
	}
	return "ret-1", "", nil
}

func (f *fake) Request(context.Context, string) (store.Request, error) {
	return store.Request{ID: reqID, CloudRef: "fleet-1/lt-1"}, nil
}

func (f *fake) Instances(_ context.Context, q cloud.Query) ([]cloud.Instance, error) {
	state := cloud.Running
	if len(f.returned) > 0 {
		state = cloud.Terminated
	}
	return []cloud.Instance{{ID: instID, State: state, Tags: f.tags}}, nil
}

func (f *fake) Remains(context.Context, string, string) ([]string, error) { return f.remains, nil }

func TestLaunch(t *testing.T) {
	cfg := &config.Config{ProviderName: "p", Templates: []config.Template{{ID: "t", InstanceTags: []config.Tag{{Key: "team", Value: "grid"}}}}}
	good := map[string]string{cloud.TagRequestID: reqID, cloud.TagTemplateID: "t", cloud.TagProvider: "p", "team": "grid"}
	cases := []struct {
		name      string
		fake      fake
		timeout   time.Duration
		cancelled bool
		err       string // "" for success
	}{
		{"passes", fake{tags: good}, time.Minute, false, ""},
		{"fleet retired on a later poll", fake{tags: good, remains: []string{"EC2 Fleet fleet-1 (active)"}}, time.Minute, false, ""},
		{"a tag missing: returned all the same", fake{tags: map[string]string{cloud.TagRequestID: reqID}}, time.Minute, false, `tag ohfp:provider is "", want "p"`},
		{"something left", fake{tags: good, remains: []string{"Auto Scaling group ohfp-req-1"}, polls: -1000}, 0, false, "left: Auto Scaling group ohfp-req-1"},
		{"interrupted: returned", fake{tags: good}, time.Minute, true, "smoke interrupted"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			f := c.fake
			if c.cancelled {
				f.cancel = cancel
			}
			var out strings.Builder
			r := &Run{Broker: &f, Cloud: &f, Config: cfg, Out: &out, Timeout: c.timeout,
				Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }}
			err := r.Launch(ctx, "t")
			switch {
			case c.err == "" && err != nil:
				t.Fatalf("%v\n%s", err, out.String())
			case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
				t.Fatalf("error %v, want one with %q\n%s", err, c.err, out.String())
			}
			if !slices.Equal(f.returned, []string{instID}) {
				t.Errorf("returned %v, want the run's machine once\n%s", f.returned, out.String())
			}
		})
	}
}

func TestUnknownTemplate(t *testing.T) {
	r := &Run{Config: &config.Config{Templates: []config.Template{{ID: "a"}}}, Out: io.Discard}
	if err := r.Launch(context.Background(), "b"); err == nil || !strings.Contains(err.Error(), "template b not found") {
		t.Fatalf("err %v", err)
	}
}
