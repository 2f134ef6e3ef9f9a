package aws

import (
	"encoding/base64"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/fault"
	"github.com/ohfp/ohfp/internal/sandbox"
)

func TestLaunchOnDemandTagsInstancesAndVolumes(t *testing.T) {
	e := newTestEnv(t)
	spec := baseSpec("req-ondemand", 3)
	spec.Template.InstanceTags = []config.Tag{{Key: "team", Value: "hpc"}}
	spec.Template.InstanceProfile = "hf-node"
	spec.Template.UserData = "CLUSTER=blue"

	pl := e.mustLaunch(t, spec)

	if len(pl.Instances) != 3 || !strings.HasPrefix(pl.Ref, "r-") {
		t.Fatalf("placement = %d instances, ref %q; want 3 and a reservation", len(pl.Instances), pl.Ref)
	}
	for _, in := range pl.Instances {
		if !strings.HasPrefix(in.Name, "ip-") || in.PrivateIP == "" || in.InstanceType != "t3.micro" ||
			in.Spot || in.Zone != "us-east-1a" || in.LaunchTime.IsZero() || in.State == "" {
			t.Errorf("instance %+v is not a launched on-demand t3.micro in us-east-1a", in)
		}
		if in.Tags[cloud.TagRequestID] != "req-ondemand" {
			t.Errorf("instance %s tags = %v", in.ID, in.Tags)
		}
	}
	wantTags := map[string]string{
		cloud.TagRequestID: "req-ondemand", cloud.TagTemplateID: "basic", cloud.TagProvider: "awsinst",
		cloud.TagInstallation: "inst-1", "team": "hpc", "Name": "awsinst-basic",
	}
	launched := e.sb.InstancesWithTag(cloud.TagRequestID, "req-ondemand")
	if !slices.Equal(sandboxIDs(launched), ids(pl.Instances)) {
		t.Fatalf("sandbox has %v, placement says %v", sandboxIDs(launched), ids(pl.Instances))
	}
	for _, in := range launched {
		if !maps.Equal(in.Tags, wantTags) || in.ClientToken != "tok-req-ondemand" ||
			in.SubnetID != sandbox.DefaultSubnetIDs[0] || in.KeyName != sandbox.DefaultKeyName {
			t.Errorf("sandbox instance %+v", in)
		}
	}

	forms := e.rec.runForms()
	if len(forms) != 1 {
		t.Fatalf("%d RunInstances calls, want 1", len(forms))
	}
	f := forms[0]
	wantForm(t, f, map[string]string{
		"TagSpecification.1.ResourceType": "instance",
		"TagSpecification.2.ResourceType": "volume",
		"TagSpecification.2.Tag.1.Key":    cloud.TagRequestID,
		"TagSpecification.2.Tag.1.Value":  "req-ondemand",
		"TagSpecification.2.Tag.4.Value":  "inst-1",
		"TagSpecification.2.Tag.5.Value":  "hpc",
		"IamInstanceProfile.Name":         "hf-node",
		"MinCount":                        "1",
		"MaxCount":                        "3",
	})
	script, _ := base64.StdEncoding.DecodeString(f.Get("UserData"))
	if string(script) != "#!/bin/bash\nexport CLUSTER='blue'\n" {
		t.Errorf("user data = %q", script)
	}
}

func TestLaunchSpot(t *testing.T) {
	e := newTestEnv(t)
	spec := baseSpec("req-spot", 2)
	spec.Template.PriceType = config.PriceSpot
	spec.Template.MaxSpotPrice = "0.05"

	pl := e.mustLaunch(t, spec)

	if len(pl.Instances) != 2 {
		t.Fatalf("%d instances, want 2", len(pl.Instances))
	}
	for _, in := range pl.Instances {
		if !in.Spot || !strings.HasPrefix(in.SpotRequestID, "sir-") {
			t.Errorf("instance %s: spot %v, request %q", in.ID, in.Spot, in.SpotRequestID)
		}
	}
	wantForm(t, e.rec.runForms()[0], map[string]string{
		"InstanceMarketOptions.MarketType":                               "spot",
		"InstanceMarketOptions.SpotOptions.SpotInstanceType":             "one-time",
		"InstanceMarketOptions.SpotOptions.InstanceInterruptionBehavior": "terminate",
		"InstanceMarketOptions.SpotOptions.MaxPrice":                     "0.05",
	})
}

// TestLaunchEFA: an interfaceType template launches with network
// interfaces, one per network card as IBM's LSF plugin lays them out, the
// subnet and security groups inside them (EC2 refuses them beside).
func TestLaunchEFA(t *testing.T) {
	e := newTestEnv(t)
	spec := baseSpec("req-efa", 1)
	spec.Template.InterfaceType, spec.Template.EFACount = "efa", 2

	pl := e.mustLaunch(t, spec)

	f := e.rec.runForms()[0]
	wantForm(t, f, map[string]string{
		"NetworkInterface.1.InterfaceType":       "efa",
		"NetworkInterface.1.NetworkCardIndex":    "0",
		"NetworkInterface.1.DeviceIndex":         "0",
		"NetworkInterface.1.SubnetId":            sandbox.DefaultSubnetIDs[0],
		"NetworkInterface.1.SecurityGroupId.1":   sandbox.DefaultSecurityGroupID,
		"NetworkInterface.1.DeleteOnTermination": "true",
		"NetworkInterface.2.InterfaceType":       "efa",
		"NetworkInterface.2.NetworkCardIndex":    "1",
		"NetworkInterface.2.DeviceIndex":         "1",
	})
	if f.Has("SubnetId") || f.Has("SecurityGroupId.1") {
		t.Errorf("subnet or security groups beside the network interfaces: %v", f)
	}
	got := e.sb.InstancesWithTag(cloud.TagRequestID, "req-efa")
	if len(got) != 1 || got[0].ID != pl.Instances[0].ID || !slices.Equal(got[0].Interfaces, []string{"efa", "efa"}) || got[0].SubnetID != sandbox.DefaultSubnetIDs[0] {
		t.Errorf("sandbox instances %+v", got)
	}
}

func TestLaunchReplayReturnsTheSameInstances(t *testing.T) {
	e := newTestEnv(t)
	spec := baseSpec("req-replay", 4)
	spec.Template.SubnetIDs = sandbox.DefaultSubnetIDs[:2]
	// Two come from the first subnet, the rest from the second: the replay
	// must reproduce both attempts.
	if err := e.sb.SetCapacity("t3.micro", "us-east-1a", 2); err != nil {
		t.Fatal(err)
	}
	first := e.mustLaunch(t, spec)
	again := e.mustLaunch(t, spec)

	if len(first.Instances) != 4 || !slices.Equal(ids(first.Instances), ids(again.Instances)) || first.Ref != again.Ref {
		t.Errorf("replay gave %v (%s), first launch %v (%s)", ids(again.Instances), again.Ref, ids(first.Instances), first.Ref)
	}
	if n := len(e.sb.Instances()); n != 4 {
		t.Errorf("sandbox holds %d instances, want 4", n)
	}
	e.wantCalls(t, "ec2:RunInstances", 4, "two per launch")
}

func TestLaunchPartialCapacity(t *testing.T) {
	e := newTestEnv(t)
	if err := e.sb.SetCapacity("t3.micro", "", 2); err != nil {
		t.Fatal(err)
	}
	pl, err := e.launch(t, baseSpec("req-partial", 5))
	if err != nil {
		t.Fatalf("a partial launch failed: %v", err)
	}
	if len(pl.Instances) != 2 {
		t.Errorf("%d instances, want the 2 there was room for", len(pl.Instances))
	}
}

func TestLaunchFallsBackToTheNextSubnet(t *testing.T) {
	e := newTestEnv(t)
	if err := e.sb.SetCapacity("t3.micro", "us-east-1a", 0); err != nil {
		t.Fatal(err)
	}
	spec := baseSpec("req-fallback", 3)
	spec.Template.SubnetIDs = sandbox.DefaultSubnetIDs

	pl := e.mustLaunch(t, spec)

	if len(pl.Instances) != 3 {
		t.Fatalf("%d instances, want 3", len(pl.Instances))
	}
	for _, in := range pl.Instances {
		if in.Zone != "us-east-1b" {
			t.Errorf("instance %s in %s, want us-east-1b", in.ID, in.Zone)
		}
	}
	forms := e.rec.runForms()
	if len(forms) != 2 || forms[0].Get("ClientToken") != "tok-req-fallback" || forms[1].Get("ClientToken") != "tok-req-fallback-1" {
		t.Errorf("want 2 calls with tokens tok-req-fallback, tok-req-fallback-1; got %d", len(forms))
	}
}

func TestLaunchFallsBackToTheNextType(t *testing.T) {
	e := newTestEnv(t)
	if err := e.sb.SetCapacity("t3.micro", "", 0); err != nil {
		t.Fatal(err)
	}
	spec := baseSpec("req-types", 2)
	spec.Template.VMType = ""
	spec.Template.VMTypes = map[string]int{"t3.micro": 1, "t3.small": 1}
	spec.Template.VMTypesPriority = map[string]int{"t3.micro": 1, "t3.small": 2}

	pl := e.mustLaunch(t, spec)

	if len(pl.Instances) != 2 || pl.Instances[0].InstanceType != "t3.small" {
		t.Errorf("placement %+v, want 2 t3.small", pl.Instances)
	}
}

func TestLaunchWithoutCapacityFails(t *testing.T) {
	e := newTestEnv(t)
	if err := e.sb.SetCapacity("t3.micro", "", 0); err != nil {
		t.Fatal(err)
	}
	spec := baseSpec("req-none", 2)
	spec.Template.SubnetIDs = sandbox.DefaultSubnetIDs

	_, err := e.launch(t, spec)

	if fault.CodeOf(err) != fault.ProvisioningFailed {
		t.Fatalf("err = %v, want %s", err, fault.ProvisioningFailed)
	}
	if msg := err.Error(); !strings.Contains(msg, "InsufficientInstanceCapacity") || !strings.Contains(msg, "sufficient t3.micro capacity") {
		t.Errorf("message %q lacks the AWS code and text", msg)
	}
	e.wantCalls(t, "ec2:RunInstances", 3, "one per subnet")
}

func TestLaunchErrorCodes(t *testing.T) {
	tests := []struct {
		name  string
		fault string
		want  fault.Code
		calls int64 // RunInstances calls over two subnets
		text  string
	}{
		{"quota", "InstanceLimitExceeded", fault.QuotaExceeded, 2, "instance limit"},
		{"spot capacity", "UnfulfillableCapacity", fault.ProvisioningFailed, 2, "spare capacity"},
		{"denied", "UnauthorizedOperation", fault.Cloud, 1, "IAM policy"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t)
			e.fault(t, sandbox.Fault{Action: "ec2:RunInstances", Code: tc.fault})
			spec := baseSpec("req-err", 1)
			spec.Template.SubnetIDs = sandbox.DefaultSubnetIDs[:2]

			_, err := e.launch(t, spec)

			if fault.CodeOf(err) != tc.want || !strings.Contains(err.Error(), tc.fault) || !strings.Contains(err.Error(), tc.text) {
				t.Errorf("err = %v, want %s with %s and %q", err, tc.want, tc.fault, tc.text)
			}
			e.wantCalls(t, "ec2:RunInstances", tc.calls, "capacity and quota errors try the next subnet")
		})
	}
}

func TestLaunchBadSubnetIsNotRetriedElsewhere(t *testing.T) {
	e := newTestEnv(t)
	spec := baseSpec("req-badsubnet", 1)
	spec.Template.SubnetIDs = []string{"subnet-0doesnotexist", sandbox.DefaultSubnetIDs[0]}

	_, err := e.launch(t, spec)

	if fault.CodeOf(err) != fault.Cloud || !strings.Contains(err.Error(), "InvalidSubnetID.NotFound") {
		t.Errorf("err = %v, want a %s naming InvalidSubnetID.NotFound", err, fault.Cloud)
	}
	if n := len(e.sb.Instances()); n != 0 {
		t.Errorf("%d instances launched after a configuration error", n)
	}
}

func TestLaunchResolvesSSMImagePaths(t *testing.T) {
	e := newTestEnv(t)
	for i, image := range []string{
		"/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64",
		"resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64",
	} {
		spec := baseSpec("req-ssm-"+string(rune('a'+i)), 1)
		spec.Template.ImageID = image
		spec.Template.VMType = "t4g.micro"
		pl := e.mustLaunch(t, spec)
		if got := e.sb.InstancesWithTag(cloud.TagRequestID, spec.RequestID)[0].ImageID; got != sandbox.DefaultArmImageID {
			t.Errorf("%s launched %s, want %s", image, got, sandbox.DefaultArmImageID)
		}
		if len(pl.Instances) != 1 {
			t.Errorf("%d instances", len(pl.Instances))
		}
	}
	e.wantCalls(t, "ssm:GetParameter", 1, "the store caches the answer")

	spec := baseSpec("req-ssm-missing", 1)
	spec.Template.ImageID = "/ohfp/no/such/image"
	_, err := e.launch(t, spec)
	if fault.CodeOf(err) != fault.Cloud || !strings.Contains(err.Error(), "ParameterNotFound") {
		t.Errorf("err = %v, want %s naming ParameterNotFound", err, fault.Cloud)
	}
}

func TestLaunchSizesTheRootVolume(t *testing.T) {
	e := newTestEnv(t)
	spec := baseSpec("req-root", 1)
	spec.Template.RootDeviceVolumeSize = 50
	spec.Template.VolumeType = "gp3"
	spec.Template.IOPS = 4000
	e.mustLaunch(t, spec)
	spec.RequestID, spec.ClientToken = "req-root-2", "tok-root-2"
	e.mustLaunch(t, spec)

	for _, f := range e.rec.runForms() {
		wantForm(t, f, map[string]string{
			"BlockDeviceMapping.1.DeviceName":              "/dev/xvda",
			"BlockDeviceMapping.1.Ebs.VolumeSize":          "50",
			"BlockDeviceMapping.1.Ebs.VolumeType":          "gp3",
			"BlockDeviceMapping.1.Ebs.Iops":                "4000",
			"BlockDeviceMapping.1.Ebs.DeleteOnTermination": "true",
		})
	}
	e.wantCalls(t, "ec2:DescribeImages", 1, "the store caches the root device")
}

func TestLaunchWithLaunchTemplate(t *testing.T) {
	e := newTestEnv(t)
	if err := e.sb.RegisterLaunchTemplate(sandbox.LaunchTemplate{
		ID: "lt-0123456789abcdef0", ImageID: sandbox.DefaultImageID, InstanceType: "m5.large",
	}); err != nil {
		t.Fatal(err)
	}
	spec := baseSpec("req-lt", 1)
	spec.Template.ImageID, spec.Template.VMType = "", ""
	spec.Template.LaunchTemplateID, spec.Template.LaunchTemplateVersion = "lt-0123456789abcdef0", "$Latest"

	pl := e.mustLaunch(t, spec)

	if len(pl.Instances) != 1 || pl.Instances[0].InstanceType != "m5.large" {
		t.Fatalf("placement %+v, want one m5.large from the launch template", pl.Instances)
	}
	if got := e.sb.Instances()[0].LaunchTemplateID; got != "lt-0123456789abcdef0" {
		t.Errorf("launch template %q", got)
	}
}

func TestLaunchRejectsWhatRunInstancesCannotDo(t *testing.T) {
	e := newTestEnv(t)
	for name, edit := range map[string]func(*cloud.LaunchSpec){
		"unknown api":   func(s *cloud.LaunchSpec) { s.Template.ProviderAPI = "Batch" },
		"heterogeneous": func(s *cloud.LaunchSpec) { s.Template.PriceType = config.PriceHeterogeneous },
		"no type":       func(s *cloud.LaunchSpec) { s.Template.VMType = "" },
		"no image":      func(s *cloud.LaunchSpec) { s.Template.ImageID = "" },
	} {
		spec := baseSpec("req-reject", 1)
		edit(&spec)
		if _, err := e.launch(t, spec); fault.CodeOf(err) != fault.Configuration {
			t.Errorf("%s: err = %v, want %s", name, err, fault.Configuration)
		}
	}
	e.wantCalls(t, "ec2:RunInstances", 0, "the templates are invalid")
}

func TestQuotaOfTheAccount(t *testing.T) {
	e := newTestEnv(t)
	if err := e.sb.SetQuotas(sandbox.Quotas{OnDemandVCPUs: 4}); err != nil {
		t.Fatal(err)
	}
	// t3.micro has 2 vCPUs: 4 take two of the three asked.
	pl := e.mustLaunch(t, baseSpec("req-q1", 3))
	if len(pl.Instances) != 2 {
		t.Fatalf("%d instances, want the 2 the quota allows", len(pl.Instances))
	}
	_, err := e.launch(t, baseSpec("req-q2", 1))
	if fault.CodeOf(err) != fault.QuotaExceeded || !strings.Contains(err.Error(), "VcpuLimitExceeded") {
		t.Errorf("err = %v, want %s naming VcpuLimitExceeded", err, fault.QuotaExceeded)
	}

	if err := e.sb.SetQuotas(sandbox.Quotas{SpotVCPUs: 1}); err != nil {
		t.Fatal(err)
	}
	spec := apiSpec("req-q3", 2, config.APIEC2Fleet, config.FleetInstant)
	spec.Template.PriceType = config.PriceSpot
	_, err = e.launch(t, spec)
	if fault.CodeOf(err) != fault.QuotaExceeded || !strings.Contains(err.Error(), "MaxSpotInstanceCountExceeded") {
		t.Errorf("spot fleet: err = %v, want %s naming MaxSpotInstanceCountExceeded", err, fault.QuotaExceeded)
	}
}
