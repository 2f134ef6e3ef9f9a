package aws

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/ohfp/ohfp/internal/config"
)

// dryRunEC2 answers each dry-run call with its verdict: DryRunOperation,
// or the refusal in denied; a call without DryRun fails the test.
type dryRunEC2 struct {
	EC2API
	t      *testing.T
	denied map[string]string // action -> error code
	calls  []string
}

func (f *dryRunEC2) answer(action string, dry *bool) error {
	f.calls = append(f.calls, action)
	if !aws.ToBool(dry) {
		f.t.Fatalf("%s without DryRun: a dry run must never launch", action)
	}
	if code := f.denied[action]; code != "" {
		return apiErr(code, "You are not authorized to perform this operation.")
	}
	return apiErr(codeDryRunOperation, "Request would have succeeded, but DryRun flag is set.")
}

func (f *dryRunEC2) RunInstances(_ context.Context, in *ec2.RunInstancesInput, _ ...func(*ec2.Options)) (*ec2.RunInstancesOutput, error) {
	return nil, f.answer("ec2:RunInstances", in.DryRun)
}

func (f *dryRunEC2) CreateLaunchTemplate(_ context.Context, in *ec2.CreateLaunchTemplateInput, _ ...func(*ec2.Options)) (*ec2.CreateLaunchTemplateOutput, error) {
	return nil, f.answer("ec2:CreateLaunchTemplate", in.DryRun)
}

func (f *dryRunEC2) CreateFleet(_ context.Context, in *ec2.CreateFleetInput, _ ...func(*ec2.Options)) (*ec2.CreateFleetOutput, error) {
	if len(in.LaunchTemplateConfigs) == 0 || in.LaunchTemplateConfigs[0].LaunchTemplateSpecification == nil {
		f.t.Errorf("CreateFleet dry run names no launch template")
	}
	return nil, f.answer("ec2:CreateFleet", in.DryRun)
}

func (f *dryRunEC2) RequestSpotFleet(_ context.Context, in *ec2.RequestSpotFleetInput, _ ...func(*ec2.Options)) (*ec2.RequestSpotFleetOutput, error) {
	return nil, f.answer("ec2:RequestSpotFleet", in.DryRun)
}

func TestDryRunLaunchAsksEachCallOfTheAPI(t *testing.T) {
	base := config.Template{ID: "t", ImageID: "ami-1", VMType: "t3.micro", SubnetIDs: []string{"subnet-1"}}
	withAPI := func(api, fleetType, lt string) config.Template {
		t := base
		t.ProviderAPI, t.FleetType, t.LaunchTemplateID = api, fleetType, lt
		return t
	}
	cases := []struct {
		name   string
		tpl    config.Template
		denied map[string]string
		want   []string // the actions asked, in order
		refuse string   // the one refused
	}{
		{"RunInstances", withAPI(config.APIRunInstances, "", ""), nil, []string{"ec2:RunInstances"}, ""},
		{"EC2Fleet", withAPI(config.APIEC2Fleet, config.FleetInstant, ""), map[string]string{"ec2:CreateFleet": codeUnauthorized},
			[]string{"ec2:RunInstances", "ec2:CreateLaunchTemplate", "ec2:CreateFleet"}, "ec2:CreateFleet"},
		{"EC2Fleet own launch template", withAPI(config.APIEC2Fleet, config.FleetInstant, "lt-1"), nil,
			[]string{"ec2:RunInstances", "ec2:CreateFleet"}, ""},
		{"SpotFleet", withAPI(config.APISpotFleet, config.FleetRequest, ""), map[string]string{"ec2:RequestSpotFleet": codeUnauthorized},
			[]string{"ec2:RunInstances", "ec2:CreateLaunchTemplate", "ec2:RequestSpotFleet"}, "ec2:RequestSpotFleet"},
		{"ASG", withAPI(config.APIASG, "", ""), map[string]string{"ec2:RunInstances": codeUnauthorized},
			[]string{"ec2:RunInstances", "ec2:CreateLaunchTemplate"}, "ec2:RunInstances"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := &dryRunEC2{t: t, denied: c.denied}
			runs, err := fakeProvider(t, f, nil).DryRunLaunch(context.Background(), c.tpl, "p")
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(f.calls, c.want) {
				t.Errorf("asked %v, want %v", f.calls, c.want)
			}
			for _, r := range runs {
				switch {
				case r.Action == c.refuse && !Denied(r.Err):
					t.Errorf("%s: %v, want the refusal", r.Action, r.Err)
				case r.Action != c.refuse && r.Err != nil:
					t.Errorf("%s: %v, want allowed", r.Action, r.Err)
				}
			}
		})
	}
}

func TestDryRunIgnoredIsNoVerdict(t *testing.T) {
	if r := dryRun("ec2:RunInstances", nil); r.Err == nil {
		t.Error("an endpoint that carried a dry run out was taken for allowed")
	}
	if r := dryRun("ec2:RunInstances", errors.New("connection refused")); r.Err == nil || Denied(r.Err) {
		t.Errorf("a network failure: %v", r.Err)
	}
}
