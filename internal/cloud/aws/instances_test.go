package aws

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/sandbox"
)

func TestInstancesByRequestAndByID(t *testing.T) {
	e := newTestEnv(t)
	a := e.mustLaunch(t, baseSpec("req-a", 3))
	b := e.mustLaunch(t, baseSpec("req-b", 2))
	e.mustLaunch(t, baseSpec("req-c", 1))
	e.sb.ResetCalls()

	got, err := e.p.Instances(t.Context(), cloud.Query{
		RequestIDs: []string{"req-a", "req-unknown"},
		// a's first instance again, one of b's, and ids EC2 never knew.
		InstanceIDs: []string{a.Instances[0].ID, b.Instances[1].ID, "i-0000000000000dead", "i-0000000000000beef"},
	})
	if err != nil {
		t.Fatalf("Instances: %v", err)
	}

	want := append(ids(a.Instances), b.Instances[1].ID)
	if !slices.Equal(ids(got), want) {
		t.Errorf("Instances = %v, want %v", ids(got), want)
	}
	for _, in := range got {
		if in.State != "running" || in.Name == "" || in.Tags[cloud.TagTemplateID] != "basic" {
			t.Errorf("instance %+v", in)
		}
	}
	e.wantCalls(t, "ec2:DescribeInstances", 3, "the request by tag; the ids named, refused for the unknown ones, then again without them")
}

func TestInstancesOfOneBigRequest(t *testing.T) {
	e := newTestEnv(t)
	first := e.mustLaunch(t, baseSpec("req-big", 1000))
	e.sb.ResetCalls()

	got, err := e.p.Instances(t.Context(), cloud.Query{RequestIDs: []string{"req-big"}})
	if err != nil || len(got) != 1000 {
		t.Fatalf("Instances: %d, %v; want 1000", len(got), err)
	}
	e.wantCalls(t, "ec2:DescribeInstances", 1, "1,000 instances are one page")

	more := baseSpec("req-big", 250)
	more.ClientToken = "tok-req-big-more"
	second := e.mustLaunch(t, more)
	e.sb.ResetCalls()

	got, err = e.p.Instances(t.Context(), cloud.Query{RequestIDs: []string{"req-big"}})
	if err != nil {
		t.Fatalf("Instances: %v", err)
	}
	if want := append(ids(first.Instances), ids(second.Instances)...); !slices.Equal(ids(got), want) {
		t.Errorf("got %d instances, want the 1,250 launched, each once", len(got))
	}
	e.wantCalls(t, "ec2:DescribeInstances", 2, "1,250 instances are two pages")
}

func TestInstancesChunksManyValues(t *testing.T) {
	e := newTestEnv(t)
	pl := e.mustLaunch(t, baseSpec("req-7", 5))
	e.sb.ResetCalls()

	var q cloud.Query
	for i := range 250 {
		q.RequestIDs = append(q.RequestIDs, fmt.Sprintf("req-%d", i))
	}
	for i := range 450 {
		q.InstanceIDs = append(q.InstanceIDs, fmt.Sprintf("i-%017x", i))
	}
	// The launched ones twice: by request and by id, in the last chunk.
	q.InstanceIDs = append(q.InstanceIDs, ids(pl.Instances)...)

	got, err := e.p.Instances(t.Context(), q)
	if err != nil {
		t.Fatalf("Instances: %v", err)
	}
	if !slices.Equal(ids(got), ids(pl.Instances)) {
		t.Errorf("Instances = %v, want %v once each", ids(got), ids(pl.Instances))
	}
	e.wantCalls(t, "ec2:DescribeInstances", 4, "250 request ids in 2 chunks; 455 instance ids in one call, refused for the 450 unknown, then again")
}

func TestInstancesKeepsFilterValuesUnderTheLimit(t *testing.T) {
	e := newTestEnv(t)
	pl := e.mustLaunch(t, baseSpec("req-199", 2))
	e.sb.ResetCalls()

	var q cloud.Query
	for i := range 400 {
		q.RequestIDs = append(q.RequestIDs, fmt.Sprintf("req-%d", i))
	}
	got, err := e.p.Instances(t.Context(), q)
	if err != nil {
		t.Fatalf("Instances: %v", err)
	}
	if !slices.Equal(ids(got), ids(pl.Instances)) {
		t.Errorf("Instances = %v, want %v", ids(got), ids(pl.Instances))
	}
	e.wantCalls(t, "ec2:DescribeInstances", 2, "400 request ids: 200 a call")
}

// TestSettlingByID: instances known by id whose move out of pending is
// awaited are named by id, 1,000 a call, with a state filter, so that only
// those that moved are read; the others stay unanswered.
func TestSettlingByID(t *testing.T) {
	e := newTestEnvOn(t, sandbox.Options{PendingDelay: time.Minute})
	up := e.mustLaunch(t, baseSpec("req-up", 1200))
	e.sb.Advance(time.Minute)
	waiting := e.mustLaunch(t, baseSpec("req-waiting", 300))
	e.sb.ResetCalls()

	q := cloud.Query{Settling: append(ids(up.Instances), ids(waiting.Instances)...)}
	got, err := e.p.Instances(t.Context(), q)
	if err != nil {
		t.Fatalf("Instances: %v", err)
	}
	if !slices.Equal(ids(got), ids(up.Instances)) {
		t.Errorf("got %d instances, want the %d that left pending", len(got), len(up.Instances))
	}
	e.wantCalls(t, "ec2:DescribeInstances", 2, "1,500 ids, 1,000 a call, no call by tag")
}

func TestInstancesOfNothing(t *testing.T) {
	e := newTestEnv(t)
	got, err := e.p.Instances(t.Context(), cloud.Query{})
	if err != nil || len(got) != 0 {
		t.Errorf("empty query: %v, %v", got, err)
	}
	e.wantCalls(t, "ec2:DescribeInstances", 0, "nothing to ask")
}
