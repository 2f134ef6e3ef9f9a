package config

import (
	"slices"
	"strings"
	"testing"
)

// TestIBMKeysUnderLSF: a key of IBM's LSF plugins that ohfp does not read
// fails, under LSF, the config file or the one template that gives it,
// with the reason, when ignoring it would change cost or placement; the
// others are reported, as is every such key under Symphony. A key nobody
// knows is refused under LSF, as IBM's plugins refuse it.
func TestIBMKeysUnderLSF(t *testing.T) {
	const good = `{"templateId": "good", "maxNumber": 2, "imageId": "ami-0123456789abcdef0", "vmType": "t3.micro"}`
	tmpl := func(extra string) string {
		return `{"templates": [` + good + `, {"templateId": "t", "maxNumber": 2, "imageId": "ami-0123456789abcdef0", "vmType": "t3.micro", ` + extra + `}]}`
	}
	for _, tc := range []struct {
		name     string
		lsf      bool
		config   string // extra config key
		template string // extra template key
		fails    string // the config error's field
		rejected string // the template error's field
		reason   string // in the error
		ignored  string // else reported
	}{
		{name: "AWS_TAG_InstanceID true", lsf: true, config: `"AWS_TAG_InstanceID": true`, fails: "AWS_TAG_InstanceID", reason: "does not tag instances and volumes with their own id"},
		{name: "AWS_TAG_InstanceID false", lsf: true, config: `"AWS_TAG_InstanceID": false`, ignored: "awsprov_config.json: AWS_TAG_InstanceID"},
		{name: "AWS_TAG_InstanceID under Symphony", config: `"AWS_TAG_InstanceID": true`, ignored: "awsprov_config.json: AWS_TAG_InstanceID"},
		{name: "unknown config key", lsf: true, config: `"AWS_FUTURE_KNOB": 1`, fails: "AWS_FUTURE_KNOB", reason: "unknown key"},
		{name: "unknown config key under Symphony", config: `"AWS_FUTURE_KNOB": 1`, ignored: "awsprov_config.json: AWS_FUTURE_KNOB"},
		{name: "ec2FleetConfig", lsf: true, template: `"ec2FleetConfig": "fleet.json"`, rejected: "templates[1].ec2FleetConfig", reason: "write the fleet as template fields"},
		{name: "onDemandTargetCapacityRatio", lsf: true, template: `"onDemandTargetCapacityRatio": 0.5`, rejected: "templates[1].onDemandTargetCapacityRatio", reason: "percentOnDemand"},
		{name: "durationInHours", lsf: true, template: `"durationInHours": 2`, rejected: "templates[1].durationInHours", reason: "Spot blocks"},
		{name: "unknown template key", lsf: true, template: `"spotprice": 0.05`, rejected: "templates[1].spotprice", reason: "unknown key"},
		{name: "ec2FleetConfig under Symphony", template: `"ec2FleetConfig": "fleet.json"`, ignored: "awsprov_templates.json: templates[1].ec2FleetConfig"},
		{name: "host tenancy", lsf: true, template: `"tenancy": "host"`, rejected: "templates[1].tenancy", reason: "not supported under LSF"},
		{name: "ttl", lsf: true, template: `"ttl": 60`, ignored: "awsprov_templates.json: templates[1].ttl"},
		{name: "gpuextend", lsf: true, template: `"gpuextend": "ngpus=1"`, ignored: "awsprov_templates.json: templates[1].gpuextend"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf := `{"AWS_REGION": "us-east-1"`
			if tc.config != "" {
				conf += ", " + tc.config
			}
			if tc.lsf {
				// Last, so that a key before it is judged as under LSF.
				conf += `, "OHFP_SCHEDULER": "lsf"`
			}
			extra := tc.template
			if extra == "" {
				extra = `"priority": 1`
			}
			c, _, err := loadDir(t, map[string]string{"awsprov_config.json": conf + "}", "awsprov_templates.json": tmpl(extra)}, nil)
			if tc.fails != "" {
				configError(t, err, errorMessage(err), "awsprov_config.json", tc.fails)
				if !strings.Contains(errorMessage(err), tc.reason) {
					t.Errorf("the error says no reason: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if tc.rejected != "" {
				if ids := c.TemplateIDs(); !slices.Equal(ids, []string{"good"}) || len(c.Rejected) != 1 {
					t.Fatalf("templates %v, rejected %v", ids, c.Rejected)
				}
				r := c.Rejected[0].Err
				configError(t, r, r.Message, "awsprov_templates.json", tc.rejected)
				if !strings.Contains(r.Message, tc.reason) {
					t.Errorf("the error says no reason: %s", r.Message)
				}
				return
			}
			if len(c.Templates) != 2 || !slices.Contains(c.Ignored, tc.ignored) {
				t.Errorf("templates %v, rejected %v, ignored %q; want %q reported", c.TemplateIDs(), c.Rejected, c.Ignored, tc.ignored)
			}
		})
	}
}

func errorMessage(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
