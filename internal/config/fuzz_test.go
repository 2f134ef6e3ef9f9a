package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ohfp/ohfp/internal/fault"
)

// checkOutcome holds Load to its promise: a usable model, or a
// CONFIGURATION_ERROR.
func checkOutcome(t *testing.T, c *Config, err error) {
	if err != nil {
		var fe *fault.Error
		if !errors.As(err, &fe) || fe.Code != fault.Configuration {
			t.Fatalf("error is not a CONFIGURATION_ERROR: %#v", err)
		}
		return
	}
	for _, tp := range c.Templates {
		if tp.ID == "" || tp.MaxNumber == 0 || tp.ProviderAPI == "" || tp.PriceType == "" {
			t.Fatalf("template accepted half-filled: %+v", tp)
		}
	}
	// Templates are stored with each request; they must read back as they were.
	raw, err := json.Marshal(c.Templates)
	if err != nil {
		t.Fatalf("templates do not marshal: %v", err)
	}
	var back []Template
	if err := json.Unmarshal(raw, &back); err != nil || !reflect.DeepEqual(back, c.Templates) && len(c.Templates) > 0 {
		t.Fatalf("templates do not round-trip (%v):\n%+v\n%+v", err, c.Templates, back)
	}
}

func FuzzLoadTemplatesJSON(f *testing.F) {
	f.Add([]byte(`{"templates": []}`))
	f.Add([]byte(`{"templates": [` + base(`"attributes": {"ncpus": ["Numeric", "2"]}, "instanceTags": {"a": "b"}`) + `]}`))
	f.Add([]byte(`{"templates": [{"templateId": "s", "maxNumber": "-1", "priceType": "heterogeneous", "imageId": "/aws/x",
		"vmTypes": {"m5.large": "1"}, "subnetId": "subnet-1,subnet-2", "spotPrice": "0.2", "percentOnDemand": "50"}]}`))
	f.Add([]byte(`{"templates": [{"templateId": "a\u00e9\"", "maxNumber": 1e2}], "x": [[{}]]}`))
	f.Add([]byte(`{"templates": [` + base(`"subnetId": ",", "securityGroupIds": [" "], "instanceTags": ";"`) + `]}`))
	dir := f.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "awsprov_config.json"), []byte(minimalConfig), 0o644); err != nil {
		f.Fatal(err)
	}
	env := envOf(map[string]string{"HF_PROVIDER_CONFDIR": dir})
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, "awsprov_templates.json"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := Load(env)
		checkOutcome(t, c, err)
	})
}

func FuzzLoadYAML(f *testing.F) {
	example, err := os.ReadFile("../../examples/yaml/config.yml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	f.Add([]byte("provider: {aws: {region: us-east-1}}\nlogging: {max_size: 1GB}\n"))
	f.Add([]byte("a: &x {b: *x}\n"))
	f.Add([]byte("provider:\n  aws:\n    region: us-east-1\ntemplates:\n  - template_id: t\n    max_number: 1\n    attributes: {vm_type: t3.micro, image_id: ami-00000000000000001, x: [String, y]}\n"))
	f.Add([]byte("{\"AWS_REGION\": \"us-east-1\"}"))
	dir := f.TempDir()
	path := filepath.Join(dir, "config.yml")
	env := envOf(map[string]string{"HF_CONFIG_PATH": path})
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := Load(env)
		checkOutcome(t, c, err)
	})
}

// templatesFile makes an IBM templates file of n templates of mixed shapes.
func templatesFile(n int) string {
	ts := make([]string, n)
	for i := range ts {
		switch i % 3 {
		case 0:
			ts[i] = fmt.Sprintf(`{"templateId": "od-%d", "maxNumber": 10, "imageId": "ami-0abcdef1234567890", "vmType": "t3.micro",
				"subnetId": "subnet-0a1b2c3d4e5f60001", "securityGroupIds": ["sg-0a1b2c3d4e5f60001"]}`, i)
		case 1:
			ts[i] = fmt.Sprintf(`{"templateId": "spot-%d", "maxNumber": "50", "priceType": "spot", "maxSpotPrice": "0.05",
				"attributes": {"type": ["String", "X86_64"], "ncpus": ["Numeric", "2"], "ncores": ["Numeric", "1"], "nram": ["Numeric", "8192"]},
				"imageId": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64", "vmType": "m5.large",
				"subnetId": "subnet-0a1b2c3d4e5f60001,subnet-0a1b2c3d4e5f60002", "securityGroupIds": ["sg-0a1b2c3d4e5f60001"],
				"keyName": "hf-compute", "instanceTags": "Project=symphony;CostCenter=hpc-42"}`, i)
		default:
			ts[i] = fmt.Sprintf(`{"templateId": "fleet-%d", "maxNumber": -1, "priority": 5, "priceType": "heterogeneous",
				"percentOnDemand": 20, "allocationStrategy": "priceCapacityOptimized", "imageId": "ami-0abcdef1234567890",
				"vmTypes": {"m5.large": 1, "m5.xlarge": 2, "m6i.large": 1}, "subnetId": ["subnet-0a1b2c3d4e5f60001"],
				"securityGroupIds": ["sg-0a1b2c3d4e5f60001"], "instanceTags": {"Project": "symphony", "Owner": "grid"},
				"rootDeviceVolumeSize": 100, "volumeType": "gp3", "iops": 3000, "ebsOptimized": true}`, i)
		}
	}
	return `{"templates": [` + strings.Join(ts, ",\n") + `]}`
}

// BenchmarkLoad1000Templates measures what every HostFactory script call
// pays: loading an instance with 1,000 templates.
func BenchmarkLoad1000Templates(b *testing.B) {
	dir := b.TempDir()
	write(b, dir, map[string]string{"awsprov_config.json": minimalConfig, "awsprov_templates.json": templatesFile(1000)})
	env := envOf(map[string]string{"HF_PROVIDER_CONFDIR": dir})
	for b.Loop() {
		c, err := Load(env)
		if err != nil || len(c.Templates) != 1000 {
			b.Fatal(err)
		}
	}
}

// FuzzValidJSON holds validJSON to json.Valid, plus its UTF-8 rule.
func FuzzValidJSON(f *testing.F) {
	for _, s := range []string{`{}`, `[1, -0.5e+3, "a\u00e9\n", true, false, null, {"k": []}]`, `{"a":}`, `01`, `"\x"`,
		"\"\xff\"", `1.`, `-`, `[1,]`, ` "x" `, `"\ud800"`, `{"a" 1}`, `tru`, `1e`, `[` + strings.Repeat("[", 20)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ok, _ := validJSON(data)
		want := json.Valid(data) && utf8.Valid(data)
		if ok != want {
			t.Fatalf("validJSON(%q) = %v, json.Valid and UTF-8 say %v", data, ok, want)
		}
	})
}
