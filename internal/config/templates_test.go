package config

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// loadTemplates loads an IBM templates file holding the given templates.
func loadTemplates(t testing.TB, templates ...string) (*Config, error) {
	t.Helper()
	c, _, err := loadDir(t, map[string]string{
		"awsprov_config.json":    minimalConfig,
		"awsprov_templates.json": `{"templates": [` + strings.Join(templates, ",") + `]}`,
	}, nil)
	return c, err
}

// base is a valid template to which a test adds or changes one field.
func base(extra string) string {
	if extra != "" {
		extra = ", " + extra
	}
	return `{"templateId": "t", "maxNumber": 4, "imageId": "ami-0123456789abcdef0", "vmType": "t3.micro"` + extra + `}`
}

func TestTemplateErrors(t *testing.T) {
	tests := []struct {
		template, field, msg string
	}{
		{`{"maxNumber": 1, "imageId": "ami-00000000000000001", "vmType": "t3.micro"}`, "templateId", "is required"},
		{`{"templateId": "has space", "maxNumber": 1}`, "templateId", `must be 1-64 characters of A-Z, a-z, 0-9, _ and -, got "has space"`},
		{`{"templateId": "` + strings.Repeat("x", 65) + `"}`, "templateId", `must be 1-64 characters of A-Z, a-z, 0-9, _ and -, got "` + strings.Repeat("x", 59) + `...`},
		{base(`"templateId": 12`), "templateId", "is given twice"},
		{base(`"maxNumber": "ten"`), "maxNumber", `is given twice`},
		{`{"templateId": "t", "maxNumber": "ten", "imageId": "ami-00000000000000001", "vmType": "t3.micro"}`, "maxNumber", `must be -1 or a positive integer, got "ten"`},
		{`{"templateId": "t", "maxNumber": 0, "imageId": "ami-00000000000000001", "vmType": "t3.micro"}`, "maxNumber", `must be -1 or a positive integer, got 0`},
		{`{"templateId": "t", "maxNumber": -2, "imageId": "ami-00000000000000001", "vmType": "t3.micro"}`, "maxNumber", `must be -1 or a positive integer, got -2`},
		{`{"templateId": "t", "maxNumber": 2.5, "imageId": "ami-00000000000000001", "vmType": "t3.micro"}`, "maxNumber", `must be -1 or a positive integer, got 2.5`},
		{`{"templateId": "t", "imageId": "ami-00000000000000001", "vmType": "t3.micro"}`, "maxNumber", "is required (-1 for unlimited)"},
		{`{"templateId": "t", "maxNumber": 1, "vmType": "t3.micro"}`, "imageId", "is required unless launchTemplateId is given"},
		{`{"templateId": "t", "maxNumber": 1, "imageId": "ami-00000000000000001"}`, "vmType", "vmType or vmTypes is required unless launchTemplateId is given"},
		{base(`"attributes": []`), "attributes", "must be an object, got []"},
		{base(`"attributes": {"ncpus": 4}`), "attributes.ncpus", "must be a pair [kind, value], got 4"},
		{base(`"attributes": {"ncpus": ["Numeric"]}`), "attributes.ncpus", `must be a pair [kind, value], got ["Numeric"]`},
		{base(`"attributes": {"ncpus": ["Integer", "4"]}`), "attributes.ncpus", `kind must be String, Numeric or Boolean, got ["Integer", "4"]`},
		{base(`"attributes": {"ncpus": ["Numeric", "four"]}`), "attributes.ncpus", `a Numeric value must be a number, got ["Numeric", "four"]`},
		{base(`"attributes": {"gpu": ["Boolean", "2"]}`), "attributes.gpu", `a Boolean value must be 0, 1, true or false, got ["Boolean", "2"]`},
		{base(`"attributes": {"type": ["String", {}]}`), "attributes.type", `a String value must be a string, got ["String", {}]`},
		{base(`"priceType": "cheap"`), "priceType", `must be one of ondemand, spot, heterogeneous, got "cheap"`},
		{`{"templateId": "t", "maxNumber": 1, "imageId": "i-123", "vmType": "t3.micro"}`, "imageId", `must be an AMI id (ami- and 8 or 17 lowercase letters and digits), an SSM parameter path (/...) or resolve:ssm:/..., got "i-123"`},
		{`{"templateId": "t", "maxNumber": 1, "imageId": "ami-0123", "vmType": "t3.micro"}`, "imageId", `must be an AMI id (ami- and 8 or 17 lowercase letters and digits), an SSM parameter path (/...) or resolve:ssm:/..., got "ami-0123"`},
		{`{"templateId": "t", "maxNumber": 1, "imageId": "ami-0123456789ABCDEF0", "vmType": "t3.micro"}`, "imageId", `must be an AMI id (ami- and 8 or 17 lowercase letters and digits), an SSM parameter path (/...) or resolve:ssm:/..., got "ami-0123456789ABCDEF0"`},
		{`{"templateId": "t", "maxNumber": 1, "imageId": "ami-00000000000000001", "vmType": "t3 micro"}`, "vmType", `must be an EC2 instance type, such as t3.micro (this release knows the AWS SDK's list), got "t3 micro"`},
		{`{"templateId": "t", "maxNumber": 1, "imageId": "ami-00000000000000001", "vmType": "c5.2xlargee"}`, "vmType", `must be an EC2 instance type, such as t3.micro (this release knows the AWS SDK's list), got "c5.2xlargee"`},
		{base(`"vmTypes": {"m5.large": 0}`), "vmTypes", `must map instance types to integers of at least 1, got {"m5.large": 0}`},
		{base(`"vmTypes": {"m5": 1}`), "vmTypes", `"m5": must be an EC2 instance type, such as t3.micro (this release knows the AWS SDK's list), got {"m5": 1}`},
		{base(`"vmTypesPriority": {"m5.larg": 1}`), "vmTypesPriority", `"m5.larg": must be an EC2 instance type, such as t3.micro (this release knows the AWS SDK's list), got {"m5.larg": 1}`},
		{base(`"providerApi": "ASG"`), "subnetId", `is required with providerApi ASG: Auto Scaling needs at least one subnet or Availability Zone`},
		{base(`"providerApi": "ASG", "subnetId": "subnet-0a1b2c3d4e5f60001", "poolsCount": 21`), "poolsCount", `must be at most 20 with providerApi ASG (Auto Scaling's SpotInstancePools is 1-20), got 21`},
		{base(`"instanceTags": {` + manyTags(41) + `}`), "instanceTags", `at most 40 tags: EC2 takes 50 tags per resource, and ohfp adds its own; got 41`},
		{base(`"providerApi": "EC2Fleet", "fleetType": "maintain", "vmTypes": {` + manyTypes(31) + `}, "subnetId": "` + manySubnets(10) + `"`), "vmTypes", `320 instance types x subnets: a maintain fleet takes at most 300 pools`},
		{base(`"vmTypes": {}`), "vmTypes", `must be an object mapping instance types to integers, got {}`},
		{base(`"vmTypesPriority": {"m5.large": -1}`), "vmTypesPriority", `must map instance types to integers of at least 0, got {"m5.large": -1}`},
		{base(`"subnetId": "subnet-1,vpc-2"`), "subnetId", `"vpc-2" is not an id of the form subnet-..., got "subnet-1,vpc-2"`},
		{base(`"subnetId": [1, true]`), "subnetId", `must be a list of strings or a comma-separated string, got [1, true]`},
		{base(`"securityGroupIds": ["sg-1", "default"]`), "securityGroupIds", `"default" is not an id of the form sg-..., got ["sg-1", "default"]`},
		{base(`"keyName": {"a": 1}`), "keyName", `must be a string, got {"a": 1}`},
		{base(`"instanceTags": "Project=x;Owner"`), "instanceTags", `"Owner" is not key=value, got "Project=x;Owner"`},
		{base(`"instanceTags": "aws:cloudformation:stack=x"`), "instanceTags", `tag "aws:cloudformation:stack": keys starting with aws: are reserved by AWS, got "aws:cloudformation:stack=x"`},
		{base(`"instanceTags": {"AWS:x": "1"}`), "instanceTags", `tag "AWS:x": keys starting with aws: are reserved by AWS, got {"AWS:x": "1"}`},
		{base(`"instanceTags": "a=1;a=2"`), "instanceTags", `tag "a" is given twice, got "a=1;a=2"`},
		{base(`"instanceTags": "=1"`), "instanceTags", `tag keys must have 1-128 characters, got "=1"`},
		{base(`"instanceTags": {"a": [1]}`), "instanceTags", `tag "a": must be a string, got {"a": [1]}`},
		{base(`"instanceTags": 5`), "instanceTags", `"5" is not key=value, got 5`},
		{base(`"rootDeviceVolumeSize": 0`), "rootDeviceVolumeSize", `must be an integer from 1 to 65536, got 0`},
		{base(`"volumeType": "ssd"`), "volumeType", `must be one of gp2, gp3, io1, io2, standard, st1, sc1, got "ssd"`},
		{base(`"iops": "fast"`), "iops", `must be an integer from 1 to 256000, got "fast"`},
		{base(`"volumeType": "gp2", "iops": 3000`), "iops", `applies only to volumeType io1, io2 or gp3, not gp2`},
		{base(`"ebsOptimized": "sometimes"`), "ebsOptimized", `must be true or false, got "sometimes"`},
		{base(`"tenancy": "shared"`), "tenancy", `must be one of default, dedicated, host, got "shared"`},
		{base(`"launchTemplateId": "my-template"`), "launchTemplateId", `must be a launch template id (lt-...), got "my-template"`},
		{base(`"launchTemplateVersion": "latest"`), "launchTemplateVersion", `must be $Latest, $Default or a version number, got "latest"`},
		{base(`"launchTemplateVersion": 0`), "launchTemplateVersion", `must be $Latest, $Default or a version number, got 0`},
		{base(`"maxSpotPrice": "-0.1"`), "maxSpotPrice", `must be a positive price in USD per hour, got "-0.1"`},
		{base(`"spotPrice": "cheap"`), "spotPrice", `must be a price in USD per hour, 0 for on-demand, got "cheap"`},
		{base(`"maxSpotPrice": 0.1, "spotPrice": 0.2`), "spotPrice", `is given twice`},
		{base(`"allocationStrategy": "random"`), "allocationStrategy", `must be one of capacityOptimized, capacityOptimizedPrioritized, priceCapacityOptimized, diversified, lowestPrice, got "random"`},
		{base(`"allocationStrategyOnDemand": "cheapest"`), "allocationStrategyOnDemand", `must be one of lowestPrice, prioritized, got "cheapest"`},
		{base(`"percentOnDemand": 101`), "percentOnDemand", `must be an integer from 0 to 100, got 101`},
		{base(`"spotFleetRequestExpiry": -5`), "spotFleetRequestExpiry", `must be an integer from 1 to 525600, got -5`},
		{base(`"poolsCount": 0`), "poolsCount", `must be an integer from 1 to 100, got 0`},
		{base(`"priority": "high"`), "priority", `must be an integer, got "high"`},
		{base(`"providerApi": "Lambda"`), "providerApi", `must be one of RunInstances, EC2Fleet, SpotFleet, ASG, got "Lambda"`},
		{base(`"fleetType": "forever"`), "fleetType", `must be one of instant, request, maintain, got "forever"`},
		{base(`"fleetType": "request"`), "fleetType", `applies only to providerApi EC2Fleet and SpotFleet, not RunInstances`},
		{base(`"providerApi": "ASG", "fleetType": "maintain"`), "fleetType", `applies only to providerApi EC2Fleet and SpotFleet, not ASG`},
		{base(`"providerApi": "SpotFleet", "fleetType": "instant", "fleetRole": "r"`), "fleetType", `instant is not available with providerApi SpotFleet`},
		{base(`"providerApi": "SpotFleet"`), "fleetRole", `is required with providerApi SpotFleet`},
		{base(`"providerApi": "RunInstances", "priceType": "heterogeneous"`), "priceType", `heterogeneous needs providerApi EC2Fleet, SpotFleet or ASG`},
		{`"not an object"`, "", `must be an object, got "not an object"`},
	}
	for _, tt := range tests {
		t.Run(tt.field+" "+tt.msg, func(t *testing.T) {
			name := "templates[1]"
			if tt.field != "" {
				name += "." + tt.field
			}
			msg := "awsprov_templates.json: " + name + ": " + tt.msg
			// The bad template fails alone: the good one is served.
			c, err := loadTemplates(t, `{"templateId": "first", "maxNumber": -1, "imageId": "ami-00000000000000001", "vmType": "t3.micro"}`, tt.template)
			if err != nil {
				t.Fatalf("Load: %v; want the bad template left out", err)
			}
			if got := c.TemplateIDs(); !slices.Equal(got, []string{"first"}) || len(c.Rejected) != 1 {
				t.Fatalf("templates %v, %d rejected; want first served and the other rejected", got, len(c.Rejected))
			}
			configError(t, c.Rejected[0].Err, msg, "awsprov_templates.json", name)
			// Alone in its file, it fails the file.
			_, err = loadTemplates(t, tt.template)
			configError(t, err, strings.Replace(msg, "templates[1]", "templates[0]", 1), "awsprov_templates.json", strings.Replace(name, "templates[1]", "templates[0]", 1))
		})
	}
}

// manyTags are n "kN": "v" members.
func manyTags(n int) string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(`"k%d": "v"`, i)
	}
	return strings.Join(out, ", ")
}

// manyTypes are n real instance types, weight 1.
func manyTypes(n int) string {
	var out []string
	for _, fam := range []string{"m5", "m5a", "m5d", "r5", "r5a", "r5d"} {
		for _, size := range []string{"large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge"} {
			if len(out) < n {
				out = append(out, fmt.Sprintf(`"%s.%s": 1`, fam, size))
			}
		}
	}
	return strings.Join(out, ", ")
}

// manySubnets are n subnet ids, comma-separated.
func manySubnets(n int) string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("subnet-%017x", i+1)
	}
	return strings.Join(out, ",")
}

func TestTemplateListErrors(t *testing.T) {
	c, err := loadTemplates(t, base(""), base(""))
	if err != nil || len(c.Templates) != 1 || len(c.Rejected) != 1 {
		t.Fatalf("Load: %v; want the first served, the second rejected", err)
	}
	configError(t, c.Rejected[0].Err, `awsprov_templates.json: templates[1].templateId: "t" is already the id of templates[0]`, "awsprov_templates.json", "templates[1].templateId")
	if e, ok := c.Rejection("t"); !ok || e != c.Rejected[0].Err {
		t.Errorf("Rejection(t) = %v, %v", e, ok)
	}

	_, err = loadTemplates(t, `{"templateId": "t", "maxNumber": 0}`, `{"templateId": "u", "maxNumber": 1, "imageId": "ami-0123456789abcdef0", "vmType": "t3.mcro"}`)
	configError(t, err, `awsprov_templates.json: templates[0].maxNumber: must be -1 or a positive integer, got 0; `+
		`awsprov_templates.json: templates[1].vmType: must be an EC2 instance type, such as t3.micro (this release knows the AWS SDK's list), got "t3.mcro"`,
		"awsprov_templates.json", "templates[0].maxNumber")

	_, _, err = loadDir(t, map[string]string{"awsprov_config.json": minimalConfig, "awsprov_templates.json": `{"templates": {"t": {}}}`}, nil)
	configError(t, err, `awsprov_templates.json: templates: must be a list of templates, got {"t": {}}`, "awsprov_templates.json", "templates")

	_, _, err = loadDir(t, map[string]string{"config.yml": "provider: {aws: {region: us-east-1}}\ntemplates:\n  - template_id: a\n    max_number: ten\n"}, nil)
	configError(t, err, `config.yml: templates[0].max_number: must be -1 or a positive integer, got "ten"`, "config.yml", "templates[0].max_number")

	_, _, err = loadDir(t, map[string]string{"config.yml": "provider: {aws: {region: us-east-1}}\ntemplates:\n  - template_id: a\n    max_number: 1\n    vm_type: t3.micro\n    attributes: {vm_type: t3.large}\n"}, nil)
	configError(t, err, `config.yml: templates[0].attributes.vm_type: is given twice`, "config.yml", "templates[0].attributes.vm_type")

	// In the OHFP integration guide's layout a pair of a real kind is still an
	// attribute, and checked as one.
	_, _, err = loadDir(t, map[string]string{"config.yml": "provider: {aws: {region: us-east-1}}\ntemplates:\n  - template_id: a\n    max_number: 1\n    attributes: {ncpus: [Numeric, many]}\n"}, nil)
	configError(t, err, `config.yml: templates[0].attributes.ncpus: a Numeric value must be a number, got ["Numeric","many"]`, "config.yml", "templates[0].attributes.ncpus")
}

func TestTemplateDefaults(t *testing.T) {
	tests := []struct {
		template            string
		price, api, fleet   string
		launchTemplateVerse string
	}{
		{base(""), PriceOnDemand, APIRunInstances, "", ""},
		{base(`"priceType": "spot"`), PriceSpot, APIEC2Fleet, FleetInstant, ""},
		{base(`"priceType": "Spot"`), PriceSpot, APIEC2Fleet, FleetInstant, ""},
		{base(`"priceType": "spot", "providerApi": "RunInstances"`), PriceSpot, APIRunInstances, "", ""},
		{base(`"priceType": "on-demand"`), PriceOnDemand, APIRunInstances, "", ""},
		{base(`"vmTypes": {"m5.large": 1}`), PriceOnDemand, APIEC2Fleet, FleetInstant, ""},
		{base(`"priceType": "heterogeneous"`), PriceHeterogeneous, APIEC2Fleet, FleetInstant, ""},
		{base(`"providerApi": "ec2fleet", "fleetType": "Maintain"`), PriceOnDemand, APIEC2Fleet, FleetMaintain, ""},
		{base(`"providerApi": "spot_fleet", "fleetRole": "arn:aws:iam::1:role/f"`), PriceOnDemand, APISpotFleet, FleetRequest, ""},
		{base(`"providerApi": "asg", "priceType": "heterogeneous", "subnetId": "subnet-0a1b2c3d4e5f60001"`), PriceHeterogeneous, APIASG, "", ""},
		{`{"templateId": "lt", "maxNumber": 1, "launchTemplateId": "lt-0abc", "launchTemplateVersion": "$latest"}`, PriceOnDemand, APIRunInstances, "", "$Latest"},
		{`{"templateId": "lt", "maxNumber": 1, "launchTemplateId": "lt-0abc", "launchTemplateVersion": 3}`, PriceOnDemand, APIRunInstances, "", "3"},
	}
	for _, tt := range tests {
		c, err := loadTemplates(t, tt.template)
		if err != nil {
			t.Errorf("%s: %v", tt.template, err)
			continue
		}
		got := c.Templates[0]
		if got.PriceType != tt.price || got.ProviderAPI != tt.api || got.FleetType != tt.fleet || got.LaunchTemplateVersion != tt.launchTemplateVerse {
			t.Errorf("%s: price %q, api %q, fleet %q, version %q", tt.template, got.PriceType, got.ProviderAPI, got.FleetType, got.LaunchTemplateVersion)
		}
	}
}

// IBM's files give numbers as strings, lists as comma strings and so on;
// every spelling must land on the same model.
func TestTemplateSpellings(t *testing.T) {
	want := Template{
		ID: "t", MaxNumber: 4, ImageID: "ami-0123456789abcdef0", VMType: "t3.micro", PriceType: PriceOnDemand, ProviderAPI: APIRunInstances,
		SubnetIDs: []string{"subnet-a", "subnet-b"}, SecurityGroupIDs: []string{"sg-a", "sg-b"},
		InstanceTags: []Tag{{"Name", "hf node"}, {"Empty", ""}}, RootDeviceVolumeSize: 50, EBSOptimized: true,
		Attributes: map[string]Attribute{"ncpus": {"Numeric", "2"}, "gpu": {"Boolean", "0"}, "zone": {"String", "a"}},
	}
	spellings := []string{
		`"subnetId": "subnet-a,subnet-b", "securityGroupIds": "sg-a, sg-b", "instanceTags": "Name=hf node;Empty=;",
		 "rootDeviceVolumeSize": "50", "ebsOptimized": "true",
		 "attributes": {"ncpus": ["Numeric", "2"], "gpu": ["Boolean", "false"], "zone": ["String", "a"]}`,
		`"subnetIds": ["subnet-a", " subnet-b "], "securityGroupIds": ["sg-a", "sg-b"], "instanceTags": {"Name": "hf node", "Empty": ""},
		 "rootDeviceVolumeSize": 50.0, "ebsOptimized": 1,
		 "attributes": {"ncpus": ["numeric", 2], "gpu": ["boolean", false], "zone": ["string", "a"]}`,
		`"subnet_id": "subnet-a;subnet-b", "security_group_ids": ["sg-a", "sg-b"], "instance_tags": " Name = hf node ; Empty= ",
		 "root_device_volume_size": " 50 ", "ebs_optimized": "YES", "keyName": "", "placementGroupName": null,
		 "attributes": {"ncpus": ["Numeric", "2.0"], "gpu": ["Boolean", "0"], "zone": ["String", "a"]}`,
	}
	for i, sp := range spellings {
		c, err := loadTemplates(t, base(sp))
		if err != nil {
			t.Errorf("spelling %d: %v", i, err)
			continue
		}
		w := want
		if i == 2 {
			// "subnet-a;subnet-b" is one id to the comma rule; "2.0" is kept as written.
			w.SubnetIDs = []string{"subnet-a;subnet-b"}
			w.Attributes = map[string]Attribute{"ncpus": {"Numeric", "2.0"}, "gpu": {"Boolean", "0"}, "zone": {"String", "a"}}
		}
		if !reflect.DeepEqual(c.Templates[0], w) {
			t.Errorf("spelling %d\n got %+v\nwant %+v", i, c.Templates[0], w)
		}
	}
}

func TestSnakeCaseNames(t *testing.T) {
	for name, want := range map[string]string{
		"template_id": "templateId", "vm_types_on_demand": "vmTypesOnDemand", "max_number": "maxNumber",
		"iops": "iops", "spot_price": "spotPrice", "subnet_ids": "subnetId", "ebs_optimized": "ebsOptimized",
	} {
		if i, ok := templateFieldIndex[name]; !ok || templateFields[i].key != want {
			t.Errorf("%s does not name %s", name, want)
		}
	}
}

func TestTemplateUserDataAtLoad(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "elsewhere.sh")
	if err := os.WriteFile(outside, []byte("#!/bin/sh\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	big := "#!/bin/sh\n" + strings.Repeat("#", MaxUserData)
	tests := []struct {
		name, extra, field, msg string
	}{
		{"missing script", `"userDataScript": "nosuch.sh"`, "userDataScript", "cannot read it: open "},
		{"script outside the conf folder", `"userDataScript": "` + outside + `"`, "userDataScript", outside + " is outside the conf folder "},
		{"script up and out", `"userDataScript": "../x.sh"`, "userDataScript", " is outside the conf folder "},
		{"too big", `"userDataScript": "big.sh"`, "userDataScript", fmt.Sprintf("makes %d bytes of user data; EC2 takes at most 16384 (16 KB)", len(big))},
		{"bad pairs", `"userData": "1A=x"`, "userData", `"1A=x" is not a name=value pair with a shell variable name`},
		{"pairs into a non-script", `"userData": "A=1", "userDataScript": "cloud.yml"`, "userData", "userData pairs need a shell userDataScript (starting with #!)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := loadDir(t, map[string]string{
				"awsprov_config.json": minimalConfig,
				"awsprov_templates.json": `{"templates": [{"templateId": "ok", "maxNumber": 1, "imageId": "ami-0123456789abcdef0", "vmType": "t3.micro", "userDataScript": "ok.sh"},` +
					`{"templateId": "bad", "maxNumber": 1, "imageId": "ami-0123456789abcdef0", "vmType": "t3.micro", ` + tc.extra + `}]}`,
				"ok.sh":     "#!/bin/sh\n",
				"big.sh":    big,
				"cloud.yml": "#cloud-config\n",
			}, nil)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if len(c.Templates) != 1 || c.Templates[0].ID != "ok" || len(c.Rejected) != 1 {
				t.Fatalf("served %v, rejected %d: want ok served, bad rejected", c.TemplateIDs(), len(c.Rejected))
			}
			e, _ := c.Rejection("bad")
			if e == nil || e.Details["field"] != "templates[1]."+tc.field || !strings.Contains(e.Message, tc.msg) {
				t.Errorf("rejection %v (%v), want field %s and %q", e, e.Details, tc.field, tc.msg)
			}
		})
	}
}

// TestLSFTemplates reads templates as LSF writes them: spotPrice > 0 means
// spot (0 on-demand), a fleetRole sends spot to Spot Fleet, vmType may list
// several types, requestValidity is hours:minutes. Symphony reads the same
// spot price as a cap only.
func TestLSFTemplates(t *testing.T) {
	const lsfConf = `{"AWS_REGION": "us-east-1", "OHFP_SCHEDULER": "lsf"}`
	tmpl := func(extra string) string {
		return `{"templates": [{"templateId": "t", "maxNumber": 2, "imageId": "ami-0123456789abcdef0", "vmType": "t3.micro"` + extra + `}]}`
	}
	cases := []struct {
		name, conf, extra string
		price, api        string
		types             map[string]int
		priority          map[string]int
		expiry            int
	}{
		{"spotPrice means spot", lsfConf, `, "spotPrice": 0.05`, PriceSpot, APIEC2Fleet, nil, nil, 0},
		{"spotPrice 0 means on-demand", lsfConf, `, "spotPrice": 0`, PriceOnDemand, APIRunInstances, nil, nil, 0},
		{"priceType wins", lsfConf, `, "spotPrice": 0.05, "priceType": "ondemand"`, PriceOnDemand, APIRunInstances, nil, nil, 0},
		{"fleetRole sends spot to Spot Fleet", lsfConf, `, "spotPrice": 0.05, "fleetRole": "arn:aws:iam::123456789012:role/fleet", "requestValidity": "1:30"`, PriceSpot, APISpotFleet, nil, nil, 90},
		{"Symphony: spotPrice is a cap", minimalConfig, `, "spotPrice": 0.05`, PriceOnDemand, APIRunInstances, nil, nil, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := mustLoad(t, map[string]string{"awsprov_config.json": tc.conf, "awsprov_templates.json": tmpl(tc.extra)}, nil)
			if len(c.Templates) != 1 {
				t.Fatalf("rejected: %v", c.Rejected)
			}
			got := c.Templates[0]
			if got.PriceType != tc.price || got.ProviderAPI != tc.api || got.SpotFleetRequestExpiry != tc.expiry {
				t.Errorf("priceType %s, providerApi %s, expiry %d; want %s, %s, %d", got.PriceType, got.ProviderAPI, got.SpotFleetRequestExpiry, tc.price, tc.api, tc.expiry)
			}
		})
	}

	t.Run("comma-separated vmType", func(t *testing.T) {
		c := mustLoad(t, map[string]string{"awsprov_config.json": lsfConf,
			"awsprov_templates.json": `{"templates": [{"templateId": "t", "maxNumber": 2, "imageId": "ami-0123456789abcdef0", "vmType": "m5.large, m5a.large,c5.large"}]}`}, nil)
		got := c.Templates[0]
		if got.VMType != "" || !maps.Equal(got.VMTypes, map[string]int{"m5.large": 1, "m5a.large": 1, "c5.large": 1}) ||
			!maps.Equal(got.VMTypesPriority, map[string]int{"m5.large": 0, "m5a.large": 1, "c5.large": 2}) {
			t.Errorf("vmType %q, vmTypes %v, priority %v", got.VMType, got.VMTypes, got.VMTypesPriority)
		}
	})

	// A bad template fails alone; the others stay.
	t.Run("a bad list fails alone", func(t *testing.T) {
		c := mustLoad(t, map[string]string{"awsprov_config.json": lsfConf,
			"awsprov_templates.json": `{"templates": [{"templateId": "bad", "maxNumber": 2, "imageId": "ami-0123456789abcdef0", "vmType": "m5.large,m5.huge"},
				{"templateId": "good", "maxNumber": 2, "imageId": "ami-0123456789abcdef0", "vmType": "m5.large,c5.large"},
				{"templateId": "twice", "maxNumber": 2, "imageId": "ami-0123456789abcdef0", "spotPrice": 0.1, "maxSpotPrice": 0.2, "vmType": "m5.large"}]}`}, nil)
		if ids := c.TemplateIDs(); !slices.Equal(ids, []string{"good"}) || len(c.Rejected) != 2 {
			t.Errorf("templates %v, rejected %v", ids, c.Rejected)
		}
	})
}

// The template kept with a request holds no userData value.
func TestTemplateAtRest(t *testing.T) {
	tp := Template{ID: "t", UserData: "CLUSTER=blue; DB_PASSWORD=hunter2;;TOKEN=a=b", UserDataScript: "/opt/conf/boot.sh"}
	rest := tp.AtRest()
	if rest.UserData != "CLUSTER=(not stored);DB_PASSWORD=(not stored);TOKEN=(not stored)" || rest.UserDataScript != tp.UserDataScript || rest.ID != "t" {
		t.Fatalf("at rest: %+v", rest)
	}
	if tp.UserData == rest.UserData {
		t.Fatal("AtRest changed the template it was given")
	}
}
