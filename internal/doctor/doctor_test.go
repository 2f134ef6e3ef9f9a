package doctor_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/doctor"
	"github.com/ohfp/ohfp/internal/installation"
	"github.com/ohfp/ohfp/internal/sandbox"
)

const ssmPath = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"

// instance writes a provider instance pointed at a fresh sandbox and returns
// its environment.
func instance(t *testing.T, templates ...map[string]any) (*sandbox.Sandbox, func(string) string, string) {
	t.Helper()
	sb := sandbox.New(sandbox.Options{})
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	// The SDK reads credentials from the process environment.
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIASANDBOX")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "sandbox-secret")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	root := t.TempDir()
	conf := filepath.Join(root, "conf")
	if err := os.MkdirAll(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(conf, "awsinstprov_config.json"), map[string]any{"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": srv.URL, "AWS_REQUEST_RETRY_ATTEMPTS": 0})
	write(t, filepath.Join(conf, "awsinstprov_templates.json"), map[string]any{"templates": templates})
	env := map[string]string{"HF_PROVIDER_NAME": "awsinst", "HF_PROVIDER_CONFDIR": conf,
		"HF_PROVIDER_WORKDIR": filepath.Join(root, "work"), "HF_PROVIDER_LOGDIR": filepath.Join(root, "log")}
	return sb, func(k string) string { return env[k] }, root
}

func write(t *testing.T, path string, v any) {
	t.Helper()
	b, _ := json.Marshal(v)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func template(id string, extra map[string]any) map[string]any {
	t := map[string]any{"templateId": id, "maxNumber": 5, "imageId": sandbox.DefaultImageID, "vmType": "t3.micro",
		"subnetId": sandbox.DefaultSubnetIDs[0], "securityGroupIds": []string{sandbox.DefaultSecurityGroupID}, "keyName": sandbox.DefaultKeyName}
	for k, v := range extra {
		t[k] = v
	}
	return t
}

// find returns the check whose name starts with prefix.
func find(t *testing.T, r doctor.Report, prefix string) doctor.Check {
	t.Helper()
	for _, c := range r.Checks {
		if strings.HasPrefix(c.Name, prefix) {
			return c
		}
	}
	t.Fatalf("no check %q in\n%s", prefix, text(r))
	return doctor.Check{}
}

func text(r doctor.Report) string {
	var b strings.Builder
	_ = r.WriteText(&b)
	return b.String()
}

func TestPassesAgainstSandbox(t *testing.T) {
	_, env, _ := instance(t, template("plain", nil), template("ssm", map[string]any{"imageId": ssmPath, "priceType": "spot"}))
	r := doctor.Run(context.Background(), env)
	if !r.OK {
		t.Fatalf("doctor failed:\n%s", text(r))
	}
	for _, prefix := range []string{"config and templates load", "log folder is writable", "state store opens", "AWS credentials resolve",
		"SSM parameter " + ssmPath, "AMI " + sandbox.DefaultImageID + " exists (templates plain, ssm)", "subnet " + sandbox.DefaultSubnetIDs[0],
		"security group " + sandbox.DefaultSecurityGroupID, "key pair " + sandbox.DefaultKeyName,
		"template plain may launch", "template ssm may launch", "permission to follow instances", "permission to follow spot requests"} {
		if c := find(t, r, prefix); c.Status != doctor.Pass {
			t.Errorf("%s: %s %s", c.Name, c.Status, c.Detail)
		}
	}
}

func TestPassesWithFleetsAndGroups(t *testing.T) {
	sb, env, _ := instance(t,
		template("fleet", map[string]any{"providerApi": "EC2Fleet", "fleetType": "instant", "vmType": nil, "vmTypes": map[string]int{"t3.micro": 1, "t3.small": 2}}),
		template("spotfleet", map[string]any{"providerApi": "SpotFleet", "priceType": "spot", "fleetRole": "arn:aws:iam::123456789012:role/spot-fleet"}),
		map[string]any{"templateId": "asg", "maxNumber": 5, "providerApi": "ASG", "launchTemplateId": "lt-0doctor000000001", "subnetId": sandbox.DefaultSubnetIDs[0]},
	)
	if err := sb.RegisterLaunchTemplate(sandbox.LaunchTemplate{ID: "lt-0doctor000000001", Name: "doctor", ImageID: sandbox.DefaultImageID, InstanceType: "t3.micro"}); err != nil {
		t.Fatal(err)
	}
	r := doctor.Run(context.Background(), env)
	if !r.OK {
		t.Fatalf("doctor failed:\n%s", text(r))
	}
	for _, prefix := range []string{"launch template lt-0doctor000000001 exists (template asg)", "template asg may launch", "template fleet may launch",
		"permission to follow EC2 fleets", "permission to follow spot fleets", "permission to follow Auto Scaling groups"} {
		if c := find(t, r, prefix); c.Status != doctor.Pass {
			t.Errorf("%s: %s %s", c.Name, c.Status, c.Detail)
		}
	}
}

func TestMissingLaunchTemplateFails(t *testing.T) {
	_, env, _ := instance(t, map[string]any{"templateId": "asg", "maxNumber": 5, "providerApi": "ASG", "launchTemplateId": "lt-0missing00000001", "subnetId": sandbox.DefaultSubnetIDs[0]})
	r := doctor.Run(context.Background(), env)
	if c := find(t, r, "launch template lt-0missing00000001 exists"); r.OK || c.Status != doctor.Fail || !strings.Contains(c.Hint, "launchTemplateId of template asg") {
		t.Fatalf("missing launch template: %+v\n%s", c, text(r))
	}
}

func TestMissingSubnetFails(t *testing.T) {
	_, env, _ := instance(t, template("good", nil), template("bad", map[string]any{"subnetId": "subnet-0doesnotexist1"}))
	r := doctor.Run(context.Background(), env)
	if r.OK {
		t.Fatalf("doctor passed with a missing subnet:\n%s", text(r))
	}
	c := find(t, r, "subnet subnet-0doesnotexist1 exists (template bad)")
	if c.Status != doctor.Fail || c.Detail != "not found in us-east-1" || !strings.Contains(c.Hint, "subnetId of template bad") {
		t.Errorf("missing subnet line: %+v", c)
	}
	if c := find(t, r, "subnet "+sandbox.DefaultSubnetIDs[0]); c.Status != doctor.Pass {
		t.Errorf("existing subnet: %+v", c)
	}
	want := "FAIL  subnet subnet-0doesnotexist1 exists (template bad): not found in us-east-1 (hint: fix subnetId of template bad, or create it in us-east-1)"
	if !strings.Contains(text(r), want+"\n") {
		t.Errorf("report lacks the line %q:\n%s", want, text(r))
	}
}

func TestDeniedPermissionFails(t *testing.T) {
	sb, env, _ := instance(t, template("t1", nil))
	if err := sb.AddFault(sandbox.Fault{Action: "ec2:RunInstances", Code: "UnauthorizedOperation"}); err != nil {
		t.Fatal(err)
	}
	r := doctor.Run(context.Background(), env)
	if r.OK {
		t.Fatalf("doctor passed with RunInstances denied:\n%s", text(r))
	}
	c := find(t, r, "template t1 may launch instances")
	if c.Status != doctor.Fail || !strings.HasPrefix(c.Detail, "ec2:RunInstances denied: UnauthorizedOperation") || !strings.Contains(c.Hint, "ohfp iam-policy") {
		t.Errorf("denied line: %+v", c)
	}
	if c := find(t, r, "permission to follow instances"); c.Status != doctor.Pass {
		t.Errorf("DescribeInstances should still pass: %+v", c)
	}
}

func TestConfigErrorStops(t *testing.T) {
	_, env, root := instance(t, template("t1", nil))
	if err := os.WriteFile(filepath.Join(root, "conf", "awsinstprov_templates.json"), []byte(`{"templates": [{"templateId": "x", "maxNumber": 0}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	r := doctor.Run(context.Background(), env)
	if r.OK || len(r.Checks) != 1 || r.Checks[0].Status != doctor.Fail || !strings.Contains(r.Checks[0].Detail, "maxNumber") {
		t.Fatalf("want one failed config check naming maxNumber:\n%s", text(r))
	}
}

func TestUnwritableLogFolderFails(t *testing.T) {
	_, env, root := instance(t, template("t1", nil))
	blocker := filepath.Join(root, "log")
	if err := os.WriteFile(blocker, []byte("a file, not a folder"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := doctor.Run(context.Background(), env)
	if c := find(t, r, "log folder is writable"); c.Status != doctor.Fail || r.OK {
		t.Fatalf("log folder check: %+v\n%s", c, text(r))
	}
}

func TestTemplateBreakingARuleFailsAlone(t *testing.T) {
	_, env, _ := instance(t, template("good", nil), template("typo", map[string]any{"vmType": "c5.2xlargee"}))
	r := doctor.Run(context.Background(), env)
	bad, good := find(t, r, "template typo follows AWS's rules"), find(t, r, "template good may launch")
	if r.OK || bad.Status != doctor.Fail || !strings.Contains(bad.Detail, `templates[1].vmType`) || !strings.Contains(bad.Detail, `"c5.2xlargee"`) ||
		good.Status != doctor.Pass {
		t.Errorf("doctor with a bad template beside a good one:\n%s", text(r))
	}
}

// Instances with this provider name that another installation launched,
// or that carry no installation id, are reported; they are not this
// installation's to touch.
func TestWarnsAboutOtherInstallations(t *testing.T) {
	_, env, root := instance(t, template("t1", nil))
	if err := os.WriteFile(filepath.Join(root, "conf", installation.FileName), []byte("inst-mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var cfg struct{ AWS_ENDPOINT_URL string }
	b, _ := os.ReadFile(filepath.Join(root, "conf", "awsinstprov_config.json"))
	json.Unmarshal(b, &cfg)
	client := ec2.New(ec2.Options{Region: "us-east-1", BaseEndpoint: aws.String(cfg.AWS_ENDPOINT_URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIASANDBOX", "sandbox-secret", "")})
	launch := func(tags map[string]string) {
		var ts []types.Tag
		for k, v := range tags {
			ts = append(ts, types.Tag{Key: aws.String(k), Value: aws.String(v)})
		}
		_, err := client.RunInstances(context.Background(), &ec2.RunInstancesInput{ImageId: aws.String(sandbox.DefaultImageID),
			InstanceType: types.InstanceTypeT3Micro, MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
			TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeInstance, Tags: ts}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	launch(map[string]string{cloud.TagProvider: "awsinst", cloud.TagInstallation: "inst-mine"})
	if c := find(t, doctor.Run(context.Background(), env), "instances with this provider name"); c.Status != doctor.Pass || !strings.Contains(c.Detail, "inst-mine: 1 live") {
		t.Fatalf("own instances only: %+v", c)
	}
	launch(map[string]string{cloud.TagProvider: "awsinst", cloud.TagInstallation: "inst-theirs"})
	launch(map[string]string{cloud.TagProvider: "awsinst"})
	launch(map[string]string{cloud.TagProvider: "other-name", cloud.TagInstallation: "inst-other"})
	r := doctor.Run(context.Background(), env)
	c := find(t, r, "instances with this provider name")
	if c.Status != doctor.Warn || !strings.Contains(c.Detail, "another installation uses the provider name awsinst in this account and region (installation inst-theirs)") ||
		!strings.Contains(c.Detail, "1 live instances carry no installation id") || !strings.Contains(c.Hint, "--adopt-untagged") || strings.Contains(c.Detail, "inst-other") {
		t.Fatalf("other installations: %+v", c)
	}
	if !r.OK {
		t.Fatalf("a warning failed the report:\n%s", text(r))
	}
}

func TestListsPoliciesAndWhatEachMatches(t *testing.T) {
	_, env, root := instance(t, template("gpu-a", nil), template("gpu-b", nil), template("cpu", nil))
	write(t, filepath.Join(root, "conf", "policies.json"), map[string]any{"Policies": []any{
		map[string]any{"Name": "gpus", "Consumer": map[string]any{"templateName": []string{"gpu-*"}}, "MaxNumber": "4", "StepValue": "2:10"},
		map[string]any{"Name": "azure", "Consumer": map[string]any{"provider": []string{"azure"}, "templateName": []string{"az-1"}}, "MaxNumber": 9},
		map[string]any{"Name": "empty"},
	}})
	r := doctor.Run(context.Background(), env)
	for prefix, want := range map[string]string{
		"admission policies": "3 from " + filepath.Join(root, "conf", "policies.json"),
		"policy gpus":        "MaxNumber 4, StepValue 2:10 over templates gpu-a, gpu-b",
		"policy azure":       "for other providers, not awsinst",
		"policy empty":       "sets no limit",
	} {
		if c := find(t, r, prefix); c.Detail != want {
			t.Errorf("%s: %q, want %q", prefix, c.Detail, want)
		}
	}
}

// TestMissingImageNeverPasses: a template whose AMI is missing fails the
// AMI check, and its launch check does not pass (the sandbox, like a
// permissive dry run, would otherwise answer DryRunOperation).
func TestMissingImageNeverPasses(t *testing.T) {
	_, env, _ := instance(t, template("good", nil), template("noami", map[string]any{"imageId": "ami-0deadbeef00000001"}))
	r := doctor.Run(context.Background(), env)
	if c := find(t, r, "AMI ami-0deadbeef00000001 exists (template noami)"); r.OK || c.Status != doctor.Fail {
		t.Fatalf("missing AMI: %+v\n%s", c, text(r))
	}
	if c := find(t, r, "template noami may launch"); c.Status == doctor.Pass || !strings.Contains(c.Detail, "AMI ami-0deadbeef00000001") {
		t.Errorf("launch check of a template without its AMI: %+v", c)
	}
	if c := find(t, r, "template good may launch"); c.Status != doctor.Pass {
		t.Errorf("the good template: %+v", c)
	}
}

func TestFleetOverTwoSubnetsOfOneZoneFails(t *testing.T) {
	sb, env, _ := instance(t, template("fleet", map[string]any{"providerApi": "EC2Fleet",
		"subnetId": []string{sandbox.DefaultSubnetIDs[0], "subnet-0sandbox0000000d"}}))
	if err := sb.RegisterSubnet(sandbox.Subnet{ID: "subnet-0sandbox0000000d", Zone: "us-east-1a", CIDR: "10.1.0.0/16", VPCID: "vpc-0sandbox00000001"}); err != nil {
		t.Fatal(err)
	}
	r := doctor.Run(context.Background(), env)
	if c := find(t, r, "template fleet may launch"); r.OK || c.Status != doctor.Fail || !strings.Contains(c.Detail, "both in us-east-1a") {
		t.Errorf("doctor with a fleet over two subnets of one zone:\n%s", text(r))
	}
}

// TestSaysWhatHostFactorysServiceUserKeeps: with an access file, doctor
// names HostFactory's service user and where the name comes from, and
// warns when the five scripts would be refused: a service user no one can
// name (the config file's owner has no user name), one narrowed to a
// viewer, one whose grants leave a template out.
func TestSaysWhatHostFactorysServiceUserKeeps(t *testing.T) {
	_, env, root := instance(t, template("gpu-a", nil), template("cpu", nil))
	conf := filepath.Join(root, "conf")
	if c := find(t, doctor.Run(context.Background(), env), "access rules"); c.Status != doctor.Pass || !strings.Contains(c.Detail, "every user may do everything") {
		t.Errorf("without an access file: %+v", c)
	}
	for _, c := range []struct {
		name   string
		rules  map[string]any
		status doctor.Status
		says   string
	}{
		{"kept", map[string]any{"service_user": "egoadmin", "rules": []any{map[string]any{"group": "ops", "role": "admin"}}},
			doctor.Pass, "HostFactory's service user egoadmin (service_user) keeps every right"},
		{"viewer", map[string]any{"service_user": "egoadmin", "rules": []any{map[string]any{"user": "egoadmin", "role": "viewer"}}},
			doctor.Warn, "egoadmin (service_user) is a viewer: HostFactory's getRequestStatus, requestMachines"},
		{"grants", map[string]any{"service_user": "egoadmin", "rules": []any{map[string]any{"user": "egoadmin", "role": "operator", "templates": []string{"gpu-*"}}}},
			doctor.Warn, "may not request or return machines of template cpu"},
	} {
		t.Run(c.name, func(t *testing.T) {
			write(t, filepath.Join(conf, "access.json"), c.rules)
			got := find(t, doctor.Run(context.Background(), env), "access rules")
			if got.Status != c.status || !strings.Contains(got.Detail, c.says) {
				t.Errorf("%s: %s, want %s saying %q", got.Status, got.Detail, c.status, c.says)
			}
		})
	}
	// Without service_user, the config file's owner is the service user;
	// an owner with no user name cannot be.
	write(t, filepath.Join(conf, "access.json"), map[string]any{"rules": []any{map[string]any{"group": "ops", "role": "admin"}}})
	if err := os.Chown(filepath.Join(conf, "awsinstprov_config.json"), 54321, 54321); err != nil {
		t.Skip("cannot give the config file to another user:", err)
	}
	got := find(t, doctor.Run(context.Background(), env), "access rules")
	if got.Status != doctor.Warn || !strings.Contains(got.Detail, "HostFactory's service user cannot be known") || !strings.Contains(got.Hint, "service_user") {
		t.Errorf("unknown owner: %+v", got)
	}
}

// TestNoCredentialsAgainstSandbox: rehearsing against the sandbox without
// credentials fails with a hint saying that any will do.
func TestNoCredentialsAgainstSandbox(t *testing.T) {
	_, env, _ := instance(t, template("plain", nil))
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	r := doctor.Run(context.Background(), env)
	c := find(t, r, "AWS credentials resolve")
	if r.OK || c.Status != doctor.Fail || !strings.Contains(c.Hint, "export AWS_ACCESS_KEY_ID=") {
		t.Fatalf("no credentials against the sandbox: %+v\n%s", c, text(r))
	}
}
