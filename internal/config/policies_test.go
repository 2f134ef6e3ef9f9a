package config

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ohfp/ohfp/internal/fault"
	"github.com/ohfp/ohfp/internal/policy"
)

// lsfSample has the keys and values of example_policy_config.json as IBM
// ships it with the LSF resource connector (IBMSpectrumComputing/
// cloud-provider-plugins, policy/): numbers as strings, a script path, a
// provider named aws and a template named Template-VM-1.
const lsfSample = `{
  "UserDefinedScriptPath": "/usr/share/lsf/policy.py",
  "Policies": [
    {"Name": "Policy1",
     "Consumer": {"rcAccount": ["all"], "templateName": ["all"], "provider": ["all"]},
     "MaxNumber": "100", "StepValue": "5:10"},
    {"Name": "Policy2",
     "Consumer": {"rcAccount": ["default", "project1"], "templateName": ["Template-VM-1"], "provider": ["aws"]},
     "MaxNumber": "50", "StepValue": "5:20"}
  ]
}`

const sampleTemplates = `{"templates": [
  {"templateId": "Template-VM-1", "maxNumber": 10, "imageId": "ami-12345678", "vmType": "t3.micro"},
  {"templateId": "Other", "maxNumber": 10, "imageId": "ami-12345678", "vmType": "t3.micro"}]}`

func TestLSFSampleLoadsAsPoliciesJSON(t *testing.T) {
	c := mustLoad(t, map[string]string{
		"awsprov_config.json":    minimalConfig,
		"awsprov_templates.json": sampleTemplates,
		"policies.json":          lsfSample,
	}, nil)
	if len(c.Policies) != 2 || !strings.HasSuffix(c.PoliciesFile, "policies.json") {
		t.Fatalf("policies %+v from %s", c.Policies, c.PoliciesFile)
	}
	p1, p2 := c.Policies[0], c.Policies[1]
	if p1.MaxNumber != 100 || p1.Step != (policy.Step{Count: 5, Every: 10 * time.Minute}) || p1.MaxVCPUs != -1 {
		t.Errorf("Policy1 = %+v", p1)
	}
	if p2.MaxNumber != 50 || p2.Step.Every != 20*time.Minute || !slices.Equal(p2.Consumer.Match[policy.DimAccount], []string{"default", "project1"}) {
		t.Errorf("Policy2 = %+v", p2)
	}
	if !slices.ContainsFunc(c.Ignored, func(s string) bool { return strings.Contains(s, "UserDefinedScriptPath") }) {
		t.Errorf("ignored = %v, want UserDefinedScriptPath reported", c.Ignored)
	}
	// Policy2 names provider aws: for another provider's templates its
	// template list is none of ohfp's business.
	c = mustLoad(t, map[string]string{
		"awsinstprov_config.json": minimalConfig,
		"policies.json":           lsfSample,
	}, map[string]string{"HF_PROVIDER_NAME": "awsinst"})
	if len(c.Policies) != 2 {
		t.Fatalf("policies %+v", c.Policies)
	}
}

func TestPoliciesUnderLSFOnlyWhenConfigured(t *testing.T) {
	files := map[string]string{
		"awsprov_config.json":    minimalConfig,
		"awsprov_templates.json": sampleTemplates,
		"policies.json":          lsfSample,
	}
	c := mustLoad(t, files, map[string]string{"PRO_LSF_LOGDIR": t.TempDir()})
	if !c.LSF() || len(c.Policies) != 0 {
		t.Fatalf("under LSF: lsf=%v policies=%d", c.LSF(), len(c.Policies))
	}
	if !slices.ContainsFunc(c.Ignored, func(s string) bool { return strings.HasPrefix(s, "policies.json: not applied under LSF") }) {
		t.Errorf("ignored = %v", c.Ignored)
	}
	files["awsprov_config.json"] = `{"AWS_REGION": "us-east-1", "OHFP_POLICIES_FILE": "policies.json"}`
	c = mustLoad(t, files, map[string]string{"PRO_LSF_LOGDIR": t.TempDir()})
	if len(c.Policies) != 2 {
		t.Fatalf("under LSF with OHFP_POLICIES_FILE: %d policies", len(c.Policies))
	}
}

func TestPoliciesInYAML(t *testing.T) {
	c := mustLoad(t, map[string]string{
		"config.yml": `provider:
  aws:
    region: us-east-1
templates:
  - template_id: gpu
    max_number: 10
    image_id: ami-12345678
    vm_type: t3.micro
policies:
  - Name: gpu-per-team
    Consumer:
      templateName: ["gpu*"]
      user: [alice]
    MaxNumber: 4
    MaxVCPUs: 16
    StepValue: "2:5"
`,
	}, nil)
	if len(c.Policies) != 1 {
		t.Fatalf("policies %+v", c.Policies)
	}
	p := c.Policies[0]
	if p.MaxNumber != 4 || p.MaxVCPUs != 16 || p.Step.Count != 2 || p.Step.Every != 5*time.Minute {
		t.Errorf("policy = %+v", p)
	}
	if !p.Applies(policy.Caller{Template: "gpu", User: "alice", Provider: "aws"}) || p.Applies(policy.Caller{Template: "gpu", User: "bob"}) {
		t.Errorf("matching is wrong for %+v", p.Consumer)
	}
}

func TestPolicyErrors(t *testing.T) {
	for _, c := range []struct {
		name, policies, msg, field string
	}{
		{"unknown key", `{"Policies": [{"Name": "P", "MaxNumbr": 3}]}`, `Policies[0].MaxNumbr (policy "P"): unknown key`, "Policies[0].MaxNumbr"},
		{"unknown consumer key", `{"Policies": [{"Name": "P", "Consumer": {"account": ["a"]}}]}`, `Policies[0].Consumer.account (policy "P"): unknown key`, "Policies[0].Consumer.account"},
		{"bad step", `{"Policies": [{"Name": "P", "StepValue": "5"}]}`, `Policies[0].StepValue (policy "P"): must be <instances>:<minutes>`, "Policies[0].StepValue"},
		{"zero minutes", `{"Policies": [{"Name": "P", "StepValue": "5:0"}]}`, `must be <instances>:<minutes>`, "Policies[0].StepValue"},
		{"negative max", `{"Policies": [{"Name": "P", "MaxNumber": -2}]}`, `Policies[0].MaxNumber (policy "P"): must be a whole number`, "Policies[0].MaxNumber"},
		{"pattern matches nothing", `{"Policies": [{"Name": "P", "Consumer": {"templateName": ["gpu-*"]}}]}`, `Consumer.templateName (policy "P"): "gpu-*" matches no template`, "Consumer.templateName"},
		{"no name", `{"Policies": [{"MaxNumber": 3}]}`, `Policies[0].Name: is required`, "Policies[0].Name"},
		{"twice", `{"Policies": [{"Name": "P"}, {"Name": "P"}]}`, `names a policy already defined`, "Policies[1].Name"},
		{"unknown top key", `{"Policies": [], "Rules": []}`, `Rules: unknown key`, "Rules"},
		{"per all", `{"Policies": [{"Name": "P", "Consumer": {"perRcAccount": ["all"]}}]}`, `cannot be "all"`, "Policies[0].Consumer.perRcAccount"},
		// A key given twice would have the last one silently win: a
		// MaxNumber of 3 read as 300, a consumer widened or narrowed.
		{"limit twice", `{"Policies": [{"Name": "P", "MaxNumber": 3, "MaxNumber": 300}]}`, `Policies[0].MaxNumber (policy "P"): is given twice`, "Policies[0].MaxNumber"},
		{"consumer key twice", `{"Policies": [{"Name": "P", "Consumer": {"templateName": ["Other"], "templateName": ["all"]}, "MaxNumber": 1}]}`, `Policies[0].Consumer.templateName (policy "P"): is given twice`, "Policies[0].Consumer.templateName"},
		{"name twice", `{"Policies": [{"Name": "P", "Name": "Q", "MaxNumber": 1}]}`, `Policies[0].Name: is given twice`, "Policies[0].Name"},
		{"policies twice", `{"Policies": [{"Name": "P", "MaxNumber": 1}], "Policies": []}`, `Policies: is given twice`, "Policies"},
		// Minutes whose duration overflows would make a window that ends
		// before it starts.
		{"step overflow", `{"Policies": [{"Name": "P", "StepValue": "1:999999999999"}]}`, `Policies[0].StepValue (policy "P"): must be`, "Policies[0].StepValue"},
		{"fraction", `{"Policies": [{"Name": "P", "MaxNumber": "2.5"}]}`, `Policies[0].MaxNumber (policy "P"): `, "Policies[0].MaxNumber"},
		{"empty max", `{"Policies": [{"Name": "P", "MaxNumber": ""}]}`, `Policies[0].MaxNumber (policy "P"): has no value`, "Policies[0].MaxNumber"},
		{"null step", `{"Policies": [{"Name": "P", "StepValue": null}]}`, `Policies[0].StepValue (policy "P"): has no value`, "Policies[0].StepValue"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := loadDir(t, map[string]string{
				"awsprov_config.json":    minimalConfig,
				"awsprov_templates.json": sampleTemplates,
				"policies.json":          c.policies,
			}, nil)
			var fe *fault.Error
			if !errors.As(err, &fe) || fe.Code != fault.Configuration {
				t.Fatalf("err = %v, want a CONFIGURATION_ERROR", err)
			}
			if !strings.HasPrefix(fe.Message, "policies.json: ") || !strings.Contains(fe.Message, c.msg) {
				t.Errorf("message %q, want it to name policies.json and say %q", fe.Message, c.msg)
			}
			if got, _ := fe.Details["file"].(string); filepath.Base(got) != "policies.json" {
				t.Errorf("details file %q", got)
			}
			if got, _ := fe.Details["field"].(string); got != c.field {
				t.Errorf("details field %q, want %q", got, c.field)
			}
		})
	}
}

func TestAccessFileNamedMustExist(t *testing.T) {
	c := mustLoad(t, map[string]string{"awsprov_config.json": minimalConfig}, nil)
	if filepath.Base(c.AccessFile) != "access.json" {
		t.Errorf("default access file %s", c.AccessFile)
	}
	_, _, err := loadDir(t, map[string]string{"awsprov_config.json": `{"AWS_REGION": "us-east-1", "OHFP_ACCESS_FILE": "acess.json"}`}, nil)
	var fe *fault.Error
	if !errors.As(err, &fe) || fe.Details["field"] != "OHFP_ACCESS_FILE" {
		t.Errorf("a misspelt access file: %v; a typo must not turn access control off", err)
	}
}
