package iampolicy_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/iampolicy"
)

// load reads a provider instance written to a temporary conf folder through
// config.Load, as `ohfp iam-policy` does.
func load(t *testing.T, cfg map[string]any, templates ...map[string]any) *config.Config {
	t.Helper()
	dir := t.TempDir()
	for name, v := range map[string]any{"awsinstprov_config.json": cfg, "awsinstprov_templates.json": map[string]any{"templates": templates}} {
		b, _ := json.Marshal(v)
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{"HF_PROVIDER_NAME": "awsinst", "HF_PROVIDER_CONFDIR": dir}
	c, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// policyJSON renders the policy to JSON and reads it back as plain maps, so
// the test checks the document IAM receives.
func policyJSON(t *testing.T, c *config.Config) map[string]statement {
	t.Helper()
	b, err := iampolicy.For(c).JSON()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Version   string
		Statement []statement
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if doc.Version != "2012-10-17" {
		t.Errorf("Version %q", doc.Version)
	}
	out := map[string]statement{}
	for _, s := range doc.Statement {
		if s.Effect != "Allow" || len(s.Action) == 0 || len(s.Resource) == 0 {
			t.Errorf("statement %s incomplete: %+v", s.Sid, s)
		}
		if !slices.IsSorted(s.Action) || !slices.IsSorted(s.Resource) {
			t.Errorf("statement %s not sorted: %+v", s.Sid, s)
		}
		if _, dup := out[s.Sid]; dup {
			t.Errorf("Sid %s twice", s.Sid)
		}
		out[s.Sid] = s
	}
	return out
}

type statement struct {
	Sid       string
	Effect    string
	Action    []string
	Resource  []string
	Condition map[string]map[string][]string
}

func allActions(doc map[string]statement) []string {
	var all []string
	for _, s := range doc {
		all = append(all, s.Action...)
	}
	slices.Sort(all)
	return slices.Compact(all)
}

func TestRunInstancesOnlyVersusAllAPIs(t *testing.T) {
	basic := map[string]any{"templateId": "basic", "maxNumber": 5, "imageId": "ami-0123456789abcdef0", "vmType": "t3.micro",
		"subnetId": "subnet-0aaa", "securityGroupIds": []string{"sg-0bbb"}, "keyName": "hf-key"}
	runOnly := load(t, map[string]any{"AWS_REGION": "eu-west-1"}, basic)
	all := load(t, map[string]any{"AWS_REGION": "eu-west-1", "OHFP_STORAGE": "dynamodb", "OHFP_DYNAMODB_TABLE_PREFIX": "hf"},
		basic,
		map[string]any{"templateId": "fleet", "maxNumber": 50, "providerApi": "EC2Fleet", "fleetType": "instant", "priceType": "heterogeneous",
			"imageId": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64", "vmTypes": map[string]int{"m5.large": 1},
			"subnetId": "subnet-0ccc", "securityGroupIds": []string{"sg-0bbb"}, "instanceProfile": "arn:aws:iam::111122223333:instance-profile/hf-compute"},
		map[string]any{"templateId": "spotfleet", "maxNumber": 50, "providerApi": "SpotFleet", "priceType": "spot", "subnetId": "subnet-0aaa",
			"securityGroupIds": []string{"sg-0bbb"}, "imageId": "ami-0123456789abcdef1", "vmTypes": map[string]int{"c5.large": 1},
			"fleetRole": "arn:aws:iam::111122223333:role/aws-ec2-spot-fleet-tagging-role"},
		map[string]any{"templateId": "asg", "maxNumber": 50, "providerApi": "ASG", "launchTemplateId": "lt-0abc", "instanceProfile": "hf-asg",
			"subnetId": "subnet-0aaa", "securityGroupIds": []string{"sg-0bbb"}},
	)

	small, big := policyJSON(t, runOnly), policyJSON(t, all)

	smallWant := []string{"ec2:CreateTags", "ec2:DescribeImages", "ec2:DescribeInstanceTypes", "ec2:DescribeInstances",
		"ec2:DescribeKeyPairs", "ec2:DescribeLaunchTemplates", "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:RunInstances", "ec2:TerminateInstances", "sts:GetCallerIdentity"}
	if got := allActions(small); !slices.Equal(got, smallWant) {
		t.Errorf("RunInstances-only actions:\n got %v\nwant %v", got, smallWant)
	}
	for _, sid := range []string{"PassInstanceRoles", "PassFleetRole", "ServiceLinkedRoles", "ResolveImages", "StateTables", "EC2Fleet", "SpotFleet", "AutoScaling", "LaunchTemplates"} {
		if _, ok := small[sid]; ok {
			t.Errorf("RunInstances-only policy has %s", sid)
		}
		if _, ok := big[sid]; !ok {
			t.Errorf("all-APIs policy lacks %s", sid)
		}
	}
	if _, ok := big["Unscoped"]; ok {
		t.Errorf("an action has no resource rule: %v", big["Unscoped"].Action)
	}
	wantLaunch := []string{"arn:aws:ec2:eu-west-1:*:instance/*", "arn:aws:ec2:eu-west-1:*:key-pair/hf-key", "arn:aws:ec2:eu-west-1:*:network-interface/*",
		"arn:aws:ec2:eu-west-1:*:security-group/sg-0bbb", "arn:aws:ec2:eu-west-1:*:subnet/subnet-0aaa", "arn:aws:ec2:eu-west-1:*:volume/*",
		"arn:aws:ec2:eu-west-1::image/ami-0123456789abcdef0"}
	if got := small["Launch"].Resource; !slices.Equal(got, wantLaunch) {
		t.Errorf("Launch resources:\n got %v\nwant %v", got, wantLaunch)
	}
	if got := small["TagAtCreation"].Condition["StringEquals"]["ec2:CreateAction"]; !slices.Equal(got, []string{"RunInstances"}) {
		t.Errorf("RunInstances-only CreateAction %v", got)
	}
	if got := small["TerminateOwn"].Condition["StringEquals"]["aws:ResourceTag/ohfp:provider"]; !slices.Equal(got, []string{"awsinst"}) {
		t.Errorf("TerminateOwn condition %v", got)
	}
	// Tagging after creation (the claim of instances from before
	// installation ids) adds the installation id alone, to this provider
	// name's instances that have none: TerminateOwn's condition stays
	// unforgeable, and no installation can take another's instance.
	if slices.Contains(small["Describe"].Action, "ec2:CreateTags") {
		t.Errorf("ec2:CreateTags granted on every resource")
	}
	claim := small["ClaimUntagged"]
	if !slices.Equal(claim.Resource, []string{"arn:aws:ec2:eu-west-1:*:instance/*"}) ||
		!slices.Equal(claim.Condition["StringEquals"]["aws:ResourceTag/ohfp:provider"], []string{"awsinst"}) ||
		!slices.Equal(claim.Condition["ForAllValues:StringEquals"]["aws:TagKeys"], []string{"ohfp:installation-id"}) ||
		!slices.Equal(claim.Condition["Null"]["aws:ResourceTag/ohfp:installation-id"], []string{"true"}) {
		t.Errorf("ClaimUntagged %+v", claim)
	}

	// Issue 9: CreateFleet is authorized on fleet and instance, and on the
	// same resources as RunInstances; DescribeFleetHistory is called.
	if got := big["Launch"].Action; !slices.Equal(got, []string{"ec2:CreateFleet", "ec2:RunInstances"}) {
		t.Errorf("Launch actions %v", got)
	}
	for _, arn := range []string{"arn:aws:ec2:eu-west-1:*:fleet/*", "arn:aws:ec2:eu-west-1:*:instance/*", "arn:aws:ec2:eu-west-1:*:launch-template/*",
		"arn:aws:ec2:eu-west-1:*:subnet/subnet-0ccc", "arn:aws:ec2:eu-west-1::image/*", "arn:aws:ec2:eu-west-1:*:spot-instances-request/*"} {
		if !slices.Contains(big["Launch"].Resource, arn) {
			t.Errorf("all-APIs Launch lacks %s: %v", arn, big["Launch"].Resource)
		}
	}
	for _, a := range []string{"ec2:CreateFleet", "ec2:DeleteFleets", "ec2:ModifyFleet", "ec2:DescribeFleets", "ec2:DescribeFleetHistory", "ec2:DescribeFleetInstances",
		"ec2:RequestSpotFleet", "ec2:CancelSpotFleetRequests", "ec2:DescribeSpotFleetRequests", "ec2:CreateLaunchTemplate", "ec2:DeleteLaunchTemplate",
		"ec2:DescribeSpotInstanceRequests", "autoscaling:CreateAutoScalingGroup", "autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeScalingActivities",
		"autoscaling:DetachInstances", "ec2:DescribeSpotFleetRequestHistory", "ec2:DescribeLaunchTemplates",
		"iam:PassRole", "iam:CreateServiceLinkedRole", "ssm:GetParameter", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem",
		"dynamodb:CreateTable", "dynamodb:DescribeTable"} {
		if !slices.Contains(allActions(big), a) {
			t.Errorf("all-APIs policy lacks %s", a)
		}
	}
	if got := big["EC2Fleet"].Resource; !slices.Equal(got, []string{"arn:aws:ec2:eu-west-1:*:fleet/*"}) {
		t.Errorf("EC2Fleet resources %v", got)
	}
	if got := big["TagAtCreation"].Condition["StringEquals"]["ec2:CreateAction"]; !slices.Equal(got, []string{"CreateFleet", "CreateLaunchTemplate", "RequestSpotFleet", "RunInstances"}) {
		t.Errorf("all-APIs CreateAction %v", got)
	}
	checks := []struct {
		sid, key string
		resource []string
		cond     []string
	}{
		{"PassInstanceRoles", "iam:PassedToService", []string{"arn:aws:iam::*:role/hf-asg", "arn:aws:iam::111122223333:role/hf-compute"}, []string{"ec2.amazonaws.com"}},
		{"PassFleetRole", "iam:PassedToService", []string{"arn:aws:iam::111122223333:role/aws-ec2-spot-fleet-tagging-role"}, []string{"spotfleet.amazonaws.com"}},
		{"ServiceLinkedRoles", "iam:AWSServiceName", []string{"arn:aws:iam::*:role/aws-service-role/*"},
			[]string{"autoscaling.amazonaws.com", "ec2fleet.amazonaws.com", "spot.amazonaws.com", "spotfleet.amazonaws.com"}},
		{"ResolveImages", "", []string{"arn:aws:ssm:eu-west-1:*:parameter/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"}, nil},
		{"AutoScaling", "", []string{"arn:aws:autoscaling:eu-west-1:*:autoScalingGroup:*:autoScalingGroupName/ohfp-*"}, nil},
		{"StateTables", "", []string{"arn:aws:dynamodb:eu-west-1:*:table/hf-*", "arn:aws:dynamodb:eu-west-1:*:table/hf-*/index/*"}, nil},
	}
	for _, c := range checks {
		s := big[c.sid]
		if !slices.Equal(s.Resource, c.resource) {
			t.Errorf("%s resources:\n got %v\nwant %v", c.sid, s.Resource, c.resource)
		}
		if c.key != "" && !slices.Equal(s.Condition["StringEquals"][c.key], c.cond) {
			t.Errorf("%s condition %s: got %v want %v", c.sid, c.key, s.Condition["StringEquals"][c.key], c.cond)
		}
	}
}

// TestTemplateWithoutSubnet: a template that leaves the subnet and
// security groups to the default VPC may launch in any of them, even when
// other templates name theirs (issue 9, item 17).
func TestTemplateWithoutSubnet(t *testing.T) {
	c := load(t, map[string]any{"AWS_REGION": "us-east-1"},
		map[string]any{"templateId": "named", "maxNumber": 5, "imageId": "ami-00000000000000001", "vmType": "t3.micro", "subnetId": "subnet-1", "securityGroupIds": []string{"sg-1"}},
		map[string]any{"templateId": "default-vpc", "maxNumber": 5, "imageId": "ami-00000000000000001", "vmType": "t3.micro"})
	launch := policyJSON(t, c)["Launch"].Resource
	for _, arn := range []string{"arn:aws:ec2:us-east-1:*:subnet/*", "arn:aws:ec2:us-east-1:*:security-group/*"} {
		if !slices.Contains(launch, arn) {
			t.Errorf("Launch lacks %s: %v", arn, launch)
		}
	}
}

func TestDeterministic(t *testing.T) {
	c := load(t, map[string]any{"AWS_REGION": "us-east-1"},
		map[string]any{"templateId": "a", "maxNumber": 5, "imageId": "ami-00000000000000001", "vmType": "t3.micro", "subnetId": "subnet-3,subnet-1,subnet-2",
			"securityGroupIds": []string{"sg-2", "sg-1"}})
	first, _ := iampolicy.For(c).JSON()
	for range 20 {
		again, _ := iampolicy.For(c).JSON()
		if string(again) != string(first) {
			t.Fatalf("output changed between runs:\n%s\n%s", first, again)
		}
	}
}
