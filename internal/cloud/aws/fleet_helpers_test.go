package aws

import (
	"slices"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/sandbox"
)

// apiSpec asks for count machines through api (and fleet type), over
// every sandbox subnet, tagged with a template tag.
func apiSpec(requestID string, count int, api, fleetType string) cloud.LaunchSpec {
	spec := baseSpec(requestID, count)
	spec.Template.ProviderAPI = api
	spec.Template.FleetType = fleetType
	spec.Template.SubnetIDs = sandbox.DefaultSubnetIDs
	spec.Template.InstanceTags = []config.Tag{{Key: "team", Value: "hpc"}}
	if api == config.APISpotFleet {
		spec.Template.FleetRole = "arn:aws:iam::123456789012:role/aws-ec2-spot-fleet-tagging-role"
	}
	return spec
}

// twoTypes makes spec prefer t3.micro, then t3.small.
func twoTypes(spec *cloud.LaunchSpec) {
	spec.Template.VMType = ""
	spec.Template.VMTypes = map[string]int{"t3.micro": 1, "t3.small": 1}
	spec.Template.VMTypesPriority = map[string]int{"t3.micro": 1, "t3.small": 2}
}

// alive are the pending or running sandbox instances of a request.
func (e *testEnv) alive(requestID string) []sandbox.Instance {
	var out []sandbox.Instance
	for _, in := range e.sb.InstancesWithTag(cloud.TagRequestID, requestID) {
		if in.State == "pending" || in.State == "running" {
			out = append(out, in)
		}
	}
	return out
}

// settle lets the sandbox's fleets and groups launch and replace.
func (e *testEnv) settle() { e.sb.Advance(10 * time.Minute) }

// fulfilment asks about one ref.
func (e *testEnv) fulfilment(t *testing.T, ref string) cloud.Fulfilment {
	t.Helper()
	got, err := e.p.Fulfilment(t.Context(), []string{ref})
	if err != nil {
		t.Fatalf("Fulfilment(%s): %v", ref, err)
	}
	f, ok := got[ref]
	if !ok {
		t.Fatalf("Fulfilment answered %v, nothing for %s", got, ref)
	}
	return f
}

// launchTemplates names the launch templates the sandbox holds.
func (e *testEnv) launchTemplates(t *testing.T) []string {
	t.Helper()
	out, err := e.p.ec2.DescribeLaunchTemplates(t.Context(), &ec2.DescribeLaunchTemplatesInput{})
	if err != nil {
		t.Fatalf("DescribeLaunchTemplates: %v", err)
	}
	var names []string
	for _, lt := range out.LaunchTemplates {
		names = append(names, awssdk.ToString(lt.LaunchTemplateName))
	}
	return names
}

// fleet is the sandbox's view of one fleet.
func (e *testEnv) fleet(t *testing.T, id string) sandbox.Fleet {
	t.Helper()
	i := slices.IndexFunc(e.sb.Fleets(), func(f sandbox.Fleet) bool { return f.ID == id })
	if i < 0 {
		t.Fatalf("sandbox has no fleet %s", id)
	}
	return e.sb.Fleets()[i]
}

// wantTagged fails unless every instance carries the request's tags and
// the template's.
func wantTagged(t *testing.T, instances []sandbox.Instance, requestID string) {
	t.Helper()
	for _, in := range instances {
		if in.Tags[cloud.TagRequestID] != requestID || in.Tags[cloud.TagTemplateID] != "basic" ||
			in.Tags[cloud.TagProvider] != "awsinst" || in.Tags[cloud.TagInstallation] != "inst-1" || in.Tags["team"] != "hpc" {
			t.Errorf("instance %s tags = %v", in.ID, in.Tags)
		}
	}
}

// cycle releases and terminates n of a placement's instances, lets the
// sandbox replace what it would, and checks none was replaced; then
// returns the rest and retires the placement.
func (e *testEnv) cycle(t *testing.T, pl cloud.Placement, requestID string, count, n int) {
	t.Helper()
	ctx := t.Context()
	running := e.alive(requestID)
	if len(running) != count {
		t.Fatalf("%d instances alive, want %d", len(running), count)
	}
	first := sandboxIDs(running[:n])
	if err := e.p.Release(ctx, pl.Ref, first); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if err := e.p.Terminate(ctx, first); err != nil {
		t.Fatalf("Terminate: %v", err)
	}
	e.settle()
	e.settle()
	if got := len(e.alive(requestID)); got != count-n {
		t.Fatalf("%d instances alive after returning %d of %d: returned ones were replaced", got, n, count)
	}
	rest := sandboxIDs(e.alive(requestID))
	if err := e.p.Release(ctx, pl.Ref, rest); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if err := e.p.Terminate(ctx, rest); err != nil {
		t.Fatalf("Terminate: %v", err)
	}
	if err := e.p.Retire(ctx, pl.Ref); err != nil {
		t.Fatalf("Retire: %v", err)
	}
	if err := e.p.Retire(ctx, pl.Ref); err != nil {
		t.Errorf("Retire of a retired placement: %v", err)
	}
	e.settle()
	if got := len(e.alive(requestID)); got != 0 {
		t.Errorf("%d instances alive after the placement retired", got)
	}
	if lts := e.launchTemplates(t); len(lts) != 0 {
		t.Errorf("launch templates left: %v", lts)
	}
}
