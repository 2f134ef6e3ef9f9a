package aws

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/config"
)

func TestInstanceTypesOrder(t *testing.T) {
	tmpl := config.Template{
		VMType:          "m5.large",
		VMTypes:         map[string]int{"m5.large": 1, "c5.large": 1, "r5.large": 1, "m6i.large": 2, "a1.large": 1},
		VMTypesPriority: map[string]int{"r5.large": 2, "m6i.large": 1},
	}
	got := instanceTypes(tmpl)
	want := []string{"m5.large", "m6i.large", "r5.large", "a1.large", "c5.large"}
	if !slices.Equal(got, want) {
		t.Errorf("instanceTypes = %v, want %v", got, want)
	}
}

func TestLaunchTags(t *testing.T) {
	spec := cloud.LaunchSpec{RequestID: "req-1", ProviderName: "awsinst", InstallationID: "inst-1", Template: config.Template{
		ID: "tmpl",
		InstanceTags: []config.Tag{
			{Key: "team", Value: "hpc"},
			{Key: cloud.TagRequestID, Value: "forged"},
			{Key: cloud.TagInstallation, Value: "forged"},
		},
	}}
	got := tagMap(launchTags(spec))
	want := map[string]string{
		cloud.TagRequestID: "req-1", cloud.TagTemplateID: "tmpl", cloud.TagProvider: "awsinst",
		cloud.TagInstallation: "inst-1", "team": "hpc", "Name": "awsinst-tmpl",
	}
	if !maps.Equal(got, want) {
		t.Errorf("tags = %v, want %v", got, want)
	}

	spec.Template.InstanceTags = append(spec.Template.InstanceTags, config.Tag{Key: "Name", Value: "mine"})
	if got := tagMap(launchTags(spec))["Name"]; got != "mine" {
		t.Errorf("Name = %q, want the template's", got)
	}
}

// TestLaunchTagsRequestAttributes: the request's attributes (the OHFP
// guides' {"priority": "high"}) are tagged beside the template's
// instanceTags and win for a key both give; ohfp's own keys stay.
func TestLaunchTagsRequestAttributes(t *testing.T) {
	spec := cloud.LaunchSpec{RequestID: "req-1", ProviderName: "aws", Template: config.Template{
		ID: "tmpl", InstanceTags: []config.Tag{{Key: "environment", Value: "test"}, {Key: "team", Value: "hpc"}},
	}, Tags: []config.Tag{{Key: "priority", Value: "high"}, {Key: "environment", Value: "production"}}}
	got := tagMap(launchTags(spec))
	if got["priority"] != "high" || got["environment"] != "production" || got["team"] != "hpc" || got[cloud.TagRequestID] != "req-1" {
		t.Errorf("tags %v", got)
	}
}

// TestLaunchTagsRCAccount: LSF's rc_account is tagged RC_ACCOUNT, as
// IBM's plugin tags it, and wins over a template's tag of that name; a
// request without one keeps the template's.
func TestLaunchTagsRCAccount(t *testing.T) {
	spec := cloud.LaunchSpec{RequestID: "req-1", ProviderName: "aws", RCAccount: "proj-a", Template: config.Template{
		ID: "tmpl", InstanceTags: []config.Tag{{Key: "RC_ACCOUNT", Value: "template's"}, {Key: "team", Value: "hpc"}},
	}}
	tags := launchTags(spec)
	if got := tagMap(tags); got["RC_ACCOUNT"] != "proj-a" || got["team"] != "hpc" || len(got) != len(tags) {
		t.Errorf("tags %v", tags)
	}
	spec.RCAccount = ""
	if got := tagMap(launchTags(spec))["RC_ACCOUNT"]; got != "template's" {
		t.Errorf("RC_ACCOUNT without a request account = %q", got)
	}
}

func TestAttemptToken(t *testing.T) {
	if got := attemptToken("tok", 0); got != "tok" {
		t.Errorf("attempt 0 = %q, want the token itself", got)
	}
	if got := attemptToken("tok", 3); got != "tok-3" {
		t.Errorf("attempt 3 = %q, want tok-3", got)
	}
	if got := attemptToken("", 2); got != "" {
		t.Errorf("no base token gave %q", got)
	}
	long := strings.Repeat("x", 63)
	a, b := attemptToken(long, 1), attemptToken(long, 2)
	if len(a) != maxClientToken || a == b || a != attemptToken(long, 1) {
		t.Errorf("long tokens %q, %q: want distinct, stable, %d characters", a, b, maxClientToken)
	}
	if got := attemptToken("jeton-é", 0); !isPrintableASCII(got) || len(got) > maxClientToken {
		t.Errorf("non-ASCII token gave %q", got)
	}
}

func TestNamedIn(t *testing.T) {
	ids := []string{"i-1", "i-12", "i-3"}
	if got := namedIn("The instance IDs 'i-12, i-3' do not exist", ids); !slices.Equal(got, []string{"i-12", "i-3"}) {
		t.Errorf("namedIn = %v", got)
	}
	if got := namedIn("The instance ID 'i-1' does not exist.", ids); !slices.Equal(got, []string{"i-1"}) {
		t.Errorf("namedIn = %v", got)
	}
	types := []string{"m5.large", "foo.bar"}
	if got := namedIn("The following supplied instance types do not exist: [foo.bar]", types); !slices.Equal(got, []string{"foo.bar"}) {
		t.Errorf("namedIn = %v", got)
	}
}

func TestBuiltinTypes(t *testing.T) {
	want := map[string]cloud.TypeFacts{
		"m5.large":       {Name: "m5.large", VCPUs: 2, Cores: 1, MemoryMiB: 8192, Arch: "x86_64"},
		"c5.9xlarge":     {Name: "c5.9xlarge", VCPUs: 36, Cores: 18, MemoryMiB: 73728, Arch: "x86_64"},
		"r6i.32xlarge":   {Name: "r6i.32xlarge", VCPUs: 128, Cores: 64, MemoryMiB: 1048576, Arch: "x86_64"},
		"m7g.medium":     {Name: "m7g.medium", VCPUs: 1, Cores: 1, MemoryMiB: 4096, Arch: "arm64"},
		"t3.micro":       {Name: "t3.micro", VCPUs: 2, Cores: 1, MemoryMiB: 1024, Arch: "x86_64"},
		"t2.micro":       {Name: "t2.micro", VCPUs: 1, Cores: 1, MemoryMiB: 1024, Arch: "x86_64"},
		"hpc7g.16xlarge": {Name: "hpc7g.16xlarge", VCPUs: 64, Cores: 64, MemoryMiB: 131072, Arch: "arm64"},
	}
	for name, w := range want {
		if got := builtinTypes[name]; got != w {
			t.Errorf("builtinTypes[%s] = %+v, want %+v", name, got, w)
		}
	}
	if _, ok := builtinTypes["m5.medium"]; ok {
		t.Error("the table invents m5.medium")
	}
}
