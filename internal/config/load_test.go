package config

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ohfp/ohfp/internal/fault"
	"github.com/ohfp/ohfp/internal/lsf"
)

const minimalConfig = `{"AWS_REGION": "us-east-1"}`

// write puts files (name -> content) into dir.
func write(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// loadDir writes files into a fresh conf folder and loads it.
func loadDir(t testing.TB, files map[string]string, env map[string]string) (*Config, string, error) {
	t.Helper()
	dir := t.TempDir()
	write(t, dir, files)
	e := map[string]string{"HF_PROVIDER_CONFDIR": dir}
	for k, v := range env {
		e[k] = v
	}
	c, err := Load(envOf(e))
	return c, dir, err
}

func mustLoad(t testing.TB, files map[string]string, env map[string]string) *Config {
	t.Helper()
	c, _, err := loadDir(t, files, env)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

// configError checks err is a CONFIGURATION_ERROR with this message and
// details naming file (a base name) and field.
func configError(t testing.TB, err error, msg, file, fieldName string) {
	t.Helper()
	var fe *fault.Error
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T) is not a *fault.Error", err, err)
	}
	if fe.Code != fault.Configuration {
		t.Errorf("code %s, want %s", fe.Code, fault.Configuration)
	}
	if fe.Message != msg {
		t.Errorf("message\n got %s\nwant %s", fe.Message, msg)
	}
	if got, _ := fe.Details["file"].(string); filepath.Base(got) != file {
		t.Errorf("details file %q, want base %q", got, file)
	}
	if got, _ := fe.Details["field"].(string); got != fieldName {
		t.Errorf("details field %q, want %q", got, fieldName)
	}
}

func TestLoadExamples(t *testing.T) {
	ibm, err := Load(envOf(map[string]string{"HF_PROVIDER_CONFDIR": "../../examples/ibm", "HF_PROVIDER_WORKDIR": "/var/ohfp"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := ibm.TemplateIDs(); !slices.Equal(got, []string{"OnDemand-Minimal-Template-VM", "Spot-Template-VM", "OnDemand-Full-Template-VM"}) {
		t.Errorf("ibm templates %v", got)
	}
	if ibm.AWS.Region != "us-east-1" || ibm.AWS.PendingTimeout != 180*time.Second || ibm.AWS.DescribeInterval != 500*time.Millisecond {
		t.Errorf("ibm aws settings %+v", ibm.AWS)
	}
	if len(ibm.Ignored) != 0 {
		t.Errorf("ibm example has ignored names %v", ibm.Ignored)
	}
	full, _ := ibm.Template("OnDemand-Full-Template-VM")
	if full.UserDataScript != filepath.Join(ibm.ConfDir, "user_data.sh") {
		t.Errorf("userDataScript %q not anchored in %s", full.UserDataScript, ibm.ConfDir)
	}
	if _, err := os.Stat(full.UserDataScript); err != nil {
		t.Errorf("example script: %v", err)
	}

	seeds, err := Load(envOf(map[string]string{"HF_CONFIG_PATH": "../../examples/yaml/config.yml", "HF_PROVIDER_WORKDIR": t.TempDir()}))
	if err != nil {
		t.Fatal(err)
	}
	if got := seeds.TemplateIDs(); !slices.Equal(got, []string{"OnDemand-Minimal-Template-VM", "Spot-Template-VM", "Fleet-Template-VM"}) {
		t.Errorf("yaml templates %v", got)
	}
	fleet, _ := seeds.Template("Fleet-Template-VM")
	if fleet.ProviderAPI != APIEC2Fleet || fleet.FleetType != FleetInstant || fleet.VMTypes["m5.xlarge"] != 2 {
		t.Errorf("fleet template %+v", fleet)
	}
	if seeds.Timeout != 300*time.Second || seeds.Storage.DynamoDB.TablePrefix != "hostfactory" {
		t.Errorf("yaml settings: timeout %v, prefix %q", seeds.Timeout, seeds.Storage.DynamoDB.TablePrefix)
	}
	// The two example sets describe the same first two templates.
	for _, id := range []string{"OnDemand-Minimal-Template-VM", "Spot-Template-VM"} {
		a, _ := ibm.Template(id)
		b, _ := seeds.Template(id)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s differs:\n ibm  %+v\n yaml %+v", id, a, b)
		}
	}
}

func TestBothFormatsGiveTheSameModel(t *testing.T) {
	ibm := mustLoad(t, map[string]string{
		"awsprov_config.json": `{
			"AWS_REGION": "eu-west-1", "AWS_PROFILE": "hpc", "AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
			"AWS_PROXY_HOST": "proxy.internal", "AWS_PROXY_PORT": "3128",
			"AWS_CONNECTION_TIMEOUT_MS": 5000, "AWS_REQUEST_RETRY_ATTEMPTS": 7,
			"AWS_INSTANCE_PENDING_TIMEOUT_SEC": 240, "AWS_DESCRIBE_REQUEST_RETRY_ATTEMPTS": 2,
			"AWS_DESCRIBE_REQUEST_INTERVAL": 250, "AWS_SPOT_TERMINATE_ON_RECLAIM": true,
			"INSTANCE_CREATION_TIMEOUT": 15, "AWS_KEY_FILE": "keys/hf.pem", "AWS_CREDENTIAL_FILE": "/etc/aws/creds",
			"LogLevel": "TRACE", "OHFP_STORAGE": "dynamodb", "OHFP_DYNAMODB_TABLE_PREFIX": "hf-prod",
			"OHFP_DYNAMODB_REGION": "eu-west-2", "OHFP_DYNAMODB_ENDPOINT_URL": "http://127.0.0.1:8000",
			"OHFP_STATE_RETENTION_DAYS": 7, "OHFP_LOG_FILE": "/var/log/ohfp.log", "OHFP_LOG_MAX_SIZE_MB": 20,
			"OHFP_LOG_BACKUP_COUNT": 3, "OHFP_LOG_CONSOLE": "true", "OHFP_SQLITE_PATH": "state.db",
			"OHFP_METRICS_ENABLED": true, "OHFP_METRICS_ENDPOINT": "http://127.0.0.1:9100/metrics",
			"OHFP_TIMEOUT_SEC": 45}`,
		"awsprov_templates.json": `{"templates": [
			{"templateId": "spot-fleet", "maxNumber": "20", "priceType": "spot", "providerApi": "spotfleet",
			 "imageId": "resolve:ssm:/aws/service/ami", "vmTypes": {"c5.large": 1, "c5.xlarge": "2"},
			 "subnetId": "subnet-1, subnet-2", "securityGroupIds": "sg-1", "fleetRole": "arn:aws:iam::1:role/fleet",
			 "instanceTags": "a=1;b=2", "attributes": {"ncpus": ["Numeric", "2"], "gpu": ["Boolean", "true"]},
			 "spotPrice": 0.1, "allocationStrategy": "capacity-optimized", "poolsCount": 2,
			 "spotFleetRequestExpiry": 60, "ebsOptimized": "yes"}]}`,
	}, nil)
	seeds := mustLoad(t, map[string]string{
		"config.yml": `
provider:
  type: aws
  aws:
    region: eu-west-1
    profile: hpc
    endpoint_url: http://127.0.0.1:4566
    proxy_host: proxy.internal
    proxy_port: 3128
    connection_timeout_ms: 5000
    max_retries: 7
    instance_pending_timeout_sec: 240
    describe_request_retry_attempts: 2
    describe_request_interval: 250
    spot_terminate_on_reclaim: true
    instance_creation_timeout: 15
    key_file: keys/hf.pem
    credential_file: /etc/aws/creds
storage:
  type: dynamodb
  sqlite: {path: state.db}
  dynamodb: {table_prefix: hf-prod, region: eu-west-2, endpoint_url: "http://127.0.0.1:8000"}
  retention_days: 7
logging: {level: trace, file_path: /var/log/ohfp.log, max_size: 20MB, backup_count: 3, console_enabled: true}
monitoring: {enabled: true, metrics_endpoint: "http://127.0.0.1:9100/metrics"}
hostfactory: {timeout: 45}
templates:
  - template_id: spot-fleet
    max_number: 20
    price_type: spot
    provider_api: SpotFleet
    image_id: resolve:ssm:/aws/service/ami
    vm_types: {c5.large: 1, c5.xlarge: 2}
    fleet_role: arn:aws:iam::1:role/fleet
    instance_tags: {a: 1, b: 2}
    attributes:
      ncpus: [Numeric, 2]
      gpu: [Boolean, true]
      subnet_ids: [subnet-1, subnet-2]
      security_group_ids: [sg-1]
    spot_price: "0.1"
    allocation_strategy: capacityOptimized
    pools_count: 2
    spot_fleet_request_expiry: 60
    ebs_optimized: true
`,
	}, nil)
	for _, c := range []*Config{ibm, seeds} {
		c.ConfDir, c.WorkDir, c.LogDir, c.ConfigFile, c.TemplatesFile = "", "", "", "", ""
		c.Storage.Path = filepath.Base(c.Storage.Path)
		c.AWS.KeyFile = filepath.Base(c.AWS.KeyFile)
		c.AccessFile = filepath.Base(c.AccessFile)
	}
	if !reflect.DeepEqual(ibm, seeds) {
		t.Errorf("models differ:\n ibm  %+v\n yaml %+v", *ibm, *seeds)
	}
	want := Template{
		ID: "spot-fleet", MaxNumber: 20, PriceType: PriceSpot, ProviderAPI: APISpotFleet, FleetType: FleetRequest,
		ImageID: "resolve:ssm:/aws/service/ami", VMTypes: map[string]int{"c5.large": 1, "c5.xlarge": 2},
		SubnetIDs: []string{"subnet-1", "subnet-2"}, SecurityGroupIDs: []string{"sg-1"},
		FleetRole: "arn:aws:iam::1:role/fleet", InstanceTags: []Tag{{"a", "1"}, {"b", "2"}},
		Attributes:   map[string]Attribute{"ncpus": {"Numeric", "2"}, "gpu": {"Boolean", "1"}},
		MaxSpotPrice: "0.1", AllocationStrategy: "capacityOptimized", PoolsCount: 2,
		SpotFleetRequestExpiry: 60, EBSOptimized: true,
	}
	if !reflect.DeepEqual(ibm.Templates, []Template{want}) {
		t.Errorf("template\n got %+v\nwant %+v", ibm.Templates, want)
	}
	if ibm.Logging.Level != "debug" || ibm.Logging.MaxSize != 20<<20 || ibm.Timeout != 45*time.Second ||
		ibm.AWS.ConnectionTimeout != 5*time.Second || ibm.Storage.Retention != 7*24*time.Hour || !ibm.Logging.Console {
		t.Errorf("settings %+v", *ibm)
	}
}

func TestLocate(t *testing.T) {
	root := t.TempDir()
	write(t, root, map[string]string{
		"conf/providers/awsinst/awsinstprov_config.json": minimalConfig,
		"explicit/my.yml":                   "provider: {aws: {region: us-west-2}}",
		"plain/awsprov_config.json":         minimalConfig,
		"named/awsinstprov_config.json":     `{"AWS_REGION": "eu-central-1"}`,
		"named/awsprov_config.json":         minimalConfig,
		"seeds/config.yaml":                 "provider: {aws: {region: ap-south-1}}",
		"seeds/awsprov_templates.json":      `{"templates": []}`,
		"seeds/awsinstprov_templates.json":  `{"templates": [{"templateId": "x", "maxNumber": 1, "imageId": "ami-00000000000000001", "vmType": "t3.micro"}]}`,
		"work/providers/awsinst/.keep":      "",
		"cwd/awsprov_config.json":           minimalConfig,
		"cwd/awsprov_templates.json":        `{"templates": []}`,
		"explicit/awsprov_templates.json":   `{"templates": [{"templateId": "y", "maxNumber": 1, "imageId": "ami-00000000000000001", "vmType": "t3.micro"}]}`,
		"conf/providers/aws/config.yml":     "provider: {aws: {region: us-east-2}}",
		"conf/providers/awsinst/extra.json": "{}",
	})
	p := func(rel string) string { return filepath.Join(root, rel) }
	tests := []struct {
		name                      string
		env                       map[string]string
		conf, work, logs, cfgFile string
		region                    string
		templates                 []string
	}{
		{"HF_CONFDIR layout", map[string]string{"HF_PROVIDER_NAME": "awsinst", "HF_CONFDIR": p("conf"), "HF_WORKDIR": p("work"), "HF_LOGDIR": p("log")},
			p("conf/providers/awsinst"), p("work/providers/awsinst"), p("log"), p("conf/providers/awsinst/awsinstprov_config.json"), "us-east-1", nil},
		{"provider dirs win", map[string]string{"HF_PROVIDER_NAME": "awsinst", "HF_CONFDIR": p("nowhere"), "HF_PROVIDER_CONFDIR": p("plain"),
			"HF_WORKDIR": p("nowhere"), "HF_PROVIDER_WORKDIR": p("w2"), "HF_LOGDIR": p("nowhere"), "HF_PROVIDER_LOGDIR": p("l2")},
			p("plain"), p("w2"), p("l2"), p("plain/awsprov_config.json"), "us-east-1", nil},
		{"instance file before aws file", map[string]string{"HF_PROVIDER_NAME": "awsinst", "HF_PROVIDER_CONFDIR": p("named")},
			p("named"), p("named"), p("named"), p("named/awsinstprov_config.json"), "eu-central-1", nil},
		{"HF_PROVIDER alias", map[string]string{"HF_PROVIDER": "awsinst", "HF_PROVIDER_CONFDIR": p("named")},
			p("named"), p("named"), p("named"), p("named/awsinstprov_config.json"), "eu-central-1", nil},
		{"PROVIDER_NAME alias", map[string]string{"PROVIDER_NAME": "awsinst", "HF_PROVIDER_CONFDIR": p("named")},
			p("named"), p("named"), p("named"), p("named/awsinstprov_config.json"), "eu-central-1", nil},
		{"default name aws", map[string]string{"HF_PROVIDER_CONFDIR": p("named")},
			p("named"), p("named"), p("named"), p("named/awsprov_config.json"), "us-east-1", nil},
		{"seeds name and instance templates", map[string]string{"HF_PROVIDER_NAME": "awsinst", "HF_PROVIDER_CONFDIR": p("seeds")},
			p("seeds"), p("seeds"), p("seeds"), p("seeds/config.yaml"), "ap-south-1", []string{"x"}},
		{"explicit path sets conf folder", map[string]string{"HF_CONFIG_PATH": p("explicit/my.yml")},
			p("explicit"), p("explicit"), p("explicit"), p("explicit/my.yml"), "us-west-2", []string{"y"}},
		{"CONFIG_PATH alias with conf folder", map[string]string{"CONFIG_PATH": p("explicit/my.yml"), "HF_PROVIDER_CONFDIR": p("cwd")},
			p("cwd"), p("cwd"), p("cwd"), p("explicit/my.yml"), "us-west-2", nil},
		{"HF_CONFIG_PATH before CONFIG_PATH", map[string]string{"HF_CONFIG_PATH": p("explicit/my.yml"), "CONFIG_PATH": p("plain/awsprov_config.json")},
			p("explicit"), p("explicit"), p("explicit"), p("explicit/my.yml"), "us-west-2", []string{"y"}},
		{"HF_CONFDIR with default name finds config.yml", map[string]string{"HF_CONFDIR": p("conf")},
			p("conf/providers/aws"), p("conf/providers/aws"), p("conf/providers/aws"), p("conf/providers/aws/config.yml"), "us-east-2", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(envOf(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			got := []string{c.ConfDir, c.WorkDir, c.LogDir, c.ConfigFile, c.AWS.Region}
			want := []string{tt.conf, tt.work, tt.logs, tt.cfgFile, tt.region}
			if !slices.Equal(got, want) {
				t.Errorf("conf, work, log, file, region\n got %q\nwant %q", got, want)
			}
			if ids := c.TemplateIDs(); !slices.Equal(ids, tt.templates) && len(ids)+len(tt.templates) > 0 {
				t.Errorf("templates %v, want %v", ids, tt.templates)
			}
			if c.Storage.Path != filepath.Join(tt.work, "ohfp.db") || c.Logging.FilePath != filepath.Join(tt.logs, "ohfp.log") {
				t.Errorf("default paths %s, %s", c.Storage.Path, c.Logging.FilePath)
			}
		})
	}

	t.Run("current folder", func(t *testing.T) {
		t.Chdir(p("cwd"))
		c, err := Load(envOf(nil))
		if err != nil {
			t.Fatal(err)
		}
		if c.ConfDir != p("cwd") || c.ConfigFile != p("cwd/awsprov_config.json") || c.ProviderName != "aws" {
			t.Errorf("conf %s, file %s, name %s", c.ConfDir, c.ConfigFile, c.ProviderName)
		}
	})
}

func TestMissingFiles(t *testing.T) {
	dir := t.TempDir()
	_, err := Load(envOf(map[string]string{"HF_PROVIDER_NAME": "awsinst", "HF_PROVIDER_CONFDIR": dir}))
	tried := []string{"awsinstprov_config.json", "awsprov_config.json", "config.yml", "config.yaml"}
	for i := range tried {
		tried[i] = filepath.Join(dir, tried[i])
	}
	configError(t, err, "no configuration file: tried "+strings.Join(tried, ", ")+" (set HF_PROVIDER_CONFDIR or HF_CONFIG_PATH)", "awsinstprov_config.json", "")
	if got := fault.DetailsOf(err)["tried"]; !reflect.DeepEqual(got, tried) {
		t.Errorf("details tried %v", got)
	}

	_, err = Load(envOf(map[string]string{"HF_CONFIG_PATH": filepath.Join(dir, "gone.yml")}))
	configError(t, err, "no configuration file: tried "+filepath.Join(dir, "gone.yml")+" (set HF_PROVIDER_CONFDIR or HF_CONFIG_PATH)", "gone.yml", "")

	write(t, dir, map[string]string{"awsprov_config.json/x": ""}) // a folder where the file should be
	_, err = Load(envOf(map[string]string{"HF_PROVIDER_CONFDIR": dir}))
	var fe *fault.Error
	if !errors.As(err, &fe) || fe.Code != fault.Configuration || !strings.HasPrefix(fe.Message, "awsprov_config.json: cannot read: ") {
		t.Errorf("unreadable config: %v", err)
	}
}

func TestNoTemplatesIsValid(t *testing.T) {
	c := mustLoad(t, map[string]string{"awsprov_config.json": minimalConfig}, nil)
	if c.Templates != nil || c.TemplatesFile != "" {
		t.Errorf("templates %v from %q", c.Templates, c.TemplatesFile)
	}
	c = mustLoad(t, map[string]string{"awsprov_config.json": minimalConfig, "awsprov_templates.json": `{"templates": []}`}, nil)
	if len(c.Templates) != 0 || filepath.Base(c.TemplatesFile) != "awsprov_templates.json" {
		t.Errorf("templates %v from %q", c.Templates, c.TemplatesFile)
	}
}

func TestDefaults(t *testing.T) {
	c := mustLoad(t, map[string]string{"awsprov_config.json": minimalConfig}, nil)
	want := defaults()
	want.AWS.Region = "us-east-1"
	want.Storage.DynamoDB.Region = "us-east-1"
	want.ProviderName = "aws"
	want.ConfDir, want.WorkDir, want.LogDir, want.ConfigFile = c.ConfDir, c.ConfDir, c.ConfDir, filepath.Join(c.ConfDir, "awsprov_config.json")
	want.Storage.Path = filepath.Join(c.ConfDir, "ohfp.db")
	want.Storage.Guessed = true // no work folder given
	want.Storage.Defaulted = true
	want.Logging.FilePath = filepath.Join(c.ConfDir, "ohfp.log")
	want.AccessFile = filepath.Join(c.ConfDir, "access.json")
	if !reflect.DeepEqual(*c, want) {
		t.Errorf("\n got %+v\nwant %+v", *c, want)
	}
	if c.AWS.ConnectionTimeout != 10*time.Second || c.AWS.RetryAttempts != 3 || c.AWS.PendingTimeout != 180*time.Second ||
		c.AWS.CreationTimeout != 10*time.Minute || c.AWS.SpotTerminateOnReclaim || c.Storage.Type != "sqlite" || c.Logging.Level != "info" {
		t.Errorf("documented defaults changed: %+v", *c)
	}
}

func TestEnvironment(t *testing.T) {
	files := map[string]string{"awsprov_config.json": `{"AWS_REGION": "us-east-1", "LogLevel": "ERROR", "OHFP_TIMEOUT_SEC": 30}`}
	c := mustLoad(t, files, map[string]string{"HF_LOG_LEVEL": "debug", "LOG_LEVEL": "warn", "HF_TIMEOUT": "2.5", "AWS_REGION": "eu-west-1"})
	if c.Logging.Level != "debug" || c.Timeout != 2500*time.Millisecond || c.AWS.Region != "us-east-1" {
		t.Errorf("HF_* over file, file region over env: level %s, timeout %v, region %s", c.Logging.Level, c.Timeout, c.AWS.Region)
	}
	c = mustLoad(t, files, map[string]string{"LOG_LEVEL": "WARNING"})
	if c.Logging.Level != "warn" || c.Timeout != 30*time.Second {
		t.Errorf("LOG_LEVEL alias: level %s, timeout %v", c.Logging.Level, c.Timeout)
	}
	c = mustLoad(t, map[string]string{"awsprov_config.json": `{}`}, map[string]string{"AWS_REGION": "ap-northeast-1"})
	if c.AWS.Region != "ap-northeast-1" || c.Storage.DynamoDB.Region != "ap-northeast-1" {
		t.Errorf("region from env: %s, dynamodb %s", c.AWS.Region, c.Storage.DynamoDB.Region)
	}

	tests := []struct {
		env          map[string]string
		msg, field   string
		inConfigFile bool
	}{
		{map[string]string{"HF_TIMEOUT": "soon"}, `environment: HF_TIMEOUT: must be a number of seconds, 0 for none, got "soon"`, "HF_TIMEOUT", false},
		{map[string]string{"HF_TIMEOUT": "-1"}, `environment: HF_TIMEOUT: must be a number of seconds, 0 for none, got "-1"`, "HF_TIMEOUT", false},
		{map[string]string{"LOG_LEVEL": "loud"}, `environment: LOG_LEVEL: must be one of TRACE, DEBUG, INFO, WARN, ERROR, got "loud"`, "LOG_LEVEL", false},
		{map[string]string{"AWS_REGION": "us-east-1a"}, `environment: AWS_REGION: must be an AWS region such as us-east-1, got "us-east-1a"`, "AWS_REGION", false},
		{map[string]string{"HF_PROVIDER_NAME": "../etc"}, `environment: HF_PROVIDER_NAME: must be a plain name, got "../etc"`, "HF_PROVIDER_NAME", false},
		{nil, "awsprov_config.json: AWS_REGION: is required (or set AWS_REGION in the environment)", "AWS_REGION", true},
	}
	for _, tt := range tests {
		_, _, err := loadDir(t, map[string]string{"awsprov_config.json": `{}`}, tt.env)
		file := "environment"
		if tt.inConfigFile {
			file = "awsprov_config.json"
		}
		configError(t, err, tt.msg, file, tt.field)
	}
	_, _, err := loadDir(t, map[string]string{"config.yml": "storage: {type: sqlite}"}, nil)
	configError(t, err, "config.yml: provider.aws.region: is required (or set AWS_REGION in the environment)", "config.yml", "provider.aws.region")
}

func TestSettingErrors(t *testing.T) {
	tests := []struct {
		json, msg, field string
	}{
		{`{"AWS_REGION": "us-east-1", "AWS_REQUEST_RETRY_ATTEMPTS": 11}`, `must be an integer from 0 to 10, got 11`, "AWS_REQUEST_RETRY_ATTEMPTS"},
		{`{"AWS_REGION": "us-east-1", "AWS_REQUEST_RETRY_ATTEMPTS": "three"}`, `must be an integer from 0 to 10, got "three"`, "AWS_REQUEST_RETRY_ATTEMPTS"},
		{`{"AWS_REGION": "us-east-1", "AWS_INSTANCE_PENDING_TIMEOUT_SEC": 0}`, `must be a positive number of seconds, got 0`, "AWS_INSTANCE_PENDING_TIMEOUT_SEC"},
		{`{"AWS_REGION": "us-east-1", "AWS_CONNECTION_TIMEOUT_MS": -1.5}`, `must be a positive number of milliseconds, got -1.5`, "AWS_CONNECTION_TIMEOUT_MS"},
		{`{"AWS_REGION": "us-east-1", "AWS_DESCRIBE_REQUEST_INTERVAL": -5}`, `must be a number of milliseconds, got -5`, "AWS_DESCRIBE_REQUEST_INTERVAL"},
		{`{"AWS_REGION": "us-east-1", "INSTANCE_CREATION_TIMEOUT": "ten"}`, `must be a positive number of minutes, got "ten"`, "INSTANCE_CREATION_TIMEOUT"},
		{`{"AWS_REGION": "us-east-1", "OHFP_STATE_RETENTION_DAYS": 0}`, `must be a positive number of days, got 0`, "OHFP_STATE_RETENTION_DAYS"},
		{`{"AWS_REGION": "us-east-1", "AWS_SPOT_TERMINATE_ON_RECLAIM": "maybe"}`, `must be true or false, got "maybe"`, "AWS_SPOT_TERMINATE_ON_RECLAIM"},
		{`{"AWS_REGION": "us-east-1", "AWS_PROXY_PORT": 70000}`, `must be an integer from 1 to 65535, got 70000`, "AWS_PROXY_PORT"},
		{`{"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": "localhost:4566"}`, `must be an http:// or https:// URL, got "localhost:4566"`, "AWS_ENDPOINT_URL"},
		{`{"AWS_REGION": "US East"}`, `must be an AWS region such as us-east-1, got "US East"`, "AWS_REGION"},
		{`{"AWS_REGION": true}`, `must be an AWS region such as us-east-1, got true`, "AWS_REGION"},
		{`{"AWS_REGION": "us-east-1", "AWS_PROFILE": ["a"]}`, `must be a string, got ["a"]`, "AWS_PROFILE"},
		{`{"AWS_REGION": "us-east-1", "LogLevel": "VERBOSE"}`, `must be one of TRACE, DEBUG, INFO, WARN, ERROR, got "VERBOSE"`, "LogLevel"},
		{`{"AWS_REGION": "us-east-1", "OHFP_STORAGE": "postgres"}`, `must be one of sqlite, dynamodb, got "postgres"`, "OHFP_STORAGE"},
		{`{"AWS_REGION": "us-east-1", "OHFP_DYNAMODB_TABLE_PREFIX": "hf prod"}`, `must hold only A-Z, a-z, 0-9, _, - and ., got "hf prod"`, "OHFP_DYNAMODB_TABLE_PREFIX"},
		{`{"AWS_REGION": "us-east-1", "OHFP_LOG_MAX_SIZE_MB": "lots"}`, `must be a positive size in MB or with a unit such as "100MB", got "lots"`, "OHFP_LOG_MAX_SIZE_MB"},
		{`{"AWS_REGION": "us-east-1", "OHFP_LOG_BACKUP_COUNT": -1}`, `must be an integer from 0 to 1000, got -1`, "OHFP_LOG_BACKUP_COUNT"},
		{`{"AWS_REGION": "us-east-1", "OHFP_TIMEOUT_SEC": "NaN"}`, `must be a number of seconds, 0 for none, got "NaN"`, "OHFP_TIMEOUT_SEC"},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			_, _, err := loadDir(t, map[string]string{"awsprov_config.json": tt.json}, nil)
			configError(t, err, "awsprov_config.json: "+tt.field+": "+tt.msg, "awsprov_config.json", tt.field)
		})
	}
}

func TestFileErrors(t *testing.T) {
	tests := []struct {
		files     map[string]string
		msg, file string
	}{
		{map[string]string{"awsprov_config.json": "{\n  \"AWS_REGION\": \"us-east-1\",\n}"},
			"awsprov_config.json: invalid JSON at line 3, column 1: invalid character '}' looking for beginning of object key string", "awsprov_config.json"},
		{map[string]string{"awsprov_config.json": `{"AWS_REGION": "us-east-1"`},
			"awsprov_config.json: invalid JSON at line 1, column 26: unexpected end of JSON input", "awsprov_config.json"},
		{map[string]string{"config.yml": "[1, 2]"}, "config.yml: must hold a JSON object", "config.yml"},
		{map[string]string{"config.yml": "provider:\n  aws: {region: us-east-1\n"},
			"config.yml: invalid YAML: yaml: line 1: did not find expected ',' or '}'", "config.yml"},
		{map[string]string{"config.yml": "provider: {aws: {region: us-east-1, max_retries: .inf}}"},
			"config.yml: invalid YAML: line 1: .inf is not a finite number", "config.yml"},
		{map[string]string{"config.yml": "a: &a [*a]"}, "config.yml: invalid YAML: nested too deep", "config.yml"},
		{map[string]string{"awsprov_config.json": minimalConfig, "awsprov_templates.json": `[]`},
			"awsprov_templates.json: must hold a JSON object", "awsprov_templates.json"},
		{map[string]string{"awsprov_config.json": minimalConfig, "awsprov_templates.json": ``},
			"awsprov_templates.json: invalid JSON at line 1, column 1: unexpected end of JSON input", "awsprov_templates.json"},
	}
	for _, tt := range tests {
		_, _, err := loadDir(t, tt.files, nil)
		configError(t, err, tt.msg, tt.file, "")
	}
}

func TestYAMLAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		b.WriteString("a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + string(rune('0'+i-1)))
		}
		b.WriteString("]\n")
	}
	_, _, err := loadDir(t, map[string]string{"config.yml": b.String()}, nil)
	configError(t, err, "config.yml: invalid YAML: too many nodes (aliases expand too far)", "config.yml", "")
}

func TestIgnored(t *testing.T) {
	c := mustLoad(t, map[string]string{
		"awsprov_config.json": `{"AWS_REGION": "us-east-1", "AWS_FUTURE_KNOB": 1, "AWS_KEY_FILE": "", "AWS_PROXY_HOST": null}`,
		"awsprov_templates.json": `{"version": 2, "templates": [
			{"templateId": "a", "maxNumber": 1, "imageId": "ami-00000000000000001", "vmType": "t3.micro", "spotFleetTags": "x", "keyName": ""}]}`,
	}, nil)
	want := []string{"awsprov_config.json: AWS_FUTURE_KNOB", "awsprov_templates.json: version", "awsprov_templates.json: templates[0].spotFleetTags"}
	if !slices.Equal(c.Ignored, want) {
		t.Errorf("ignored\n got %q\nwant %q", c.Ignored, want)
	}

	c = mustLoad(t, map[string]string{
		"config.yml": `
provider: {type: aws, aws: {region: us-east-1, tcp_keepalive: true}}
storage: {dynamodb: {backup_enabled: true}}
caching: {enabled: true, template_cache_ttl: 300}
hostfactory: {legacy_mode: true, timeout: 60}
templates:
  - template_id: a
    max_number: 1
    attributes: {vm_type: t3.micro, image_id: ami-00000000000000001, environment: production}
`,
		"awsprov_templates.json": `{"templates": []}`,
	}, nil)
	want = []string{"config.yml: provider.aws.tcp_keepalive", "config.yml: templates (awsprov_templates.json is used)"}
	if !slices.Equal(c.Ignored, want) {
		t.Errorf("ignored\n got %q\nwant %q", c.Ignored, want)
	}
	if c.Caching.Off || c.Caching.FactTTL != 300*time.Second || !c.CamelCase() {
		t.Errorf("caching %+v, camelCase %v", c.Caching, c.CamelCase())
	}
	if c.Caching.Off || c.Caching.FactTTL != 300*time.Second || !c.CamelCase() {
		t.Errorf("caching %+v, camelCase %v", c.Caching, c.CamelCase())
	}
	if len(c.Templates) != 0 || filepath.Base(c.TemplatesFile) != "awsprov_templates.json" {
		t.Errorf("the templates file must win: %v from %s", c.TemplateIDs(), c.TemplatesFile)
	}

	c = mustLoad(t, map[string]string{"config.yml": `
provider: {aws: {region: us-east-1}}
templates:
  - template_id: a
    max_number: 1
    attributes: {vm_type: t3.micro, image_id: ami-00000000000000001, environment: production}
`}, nil)
	if want := []string{"config.yml: templates[0].attributes.environment"}; !slices.Equal(c.Ignored, want) {
		t.Errorf("ignored %q, want %q", c.Ignored, want)
	}
}

func TestSeedsLayoutInJSON(t *testing.T) {
	c := mustLoad(t, nil, map[string]string{"HF_CONFIG_PATH": writeTemp(t, "config.json",
		`{"provider": {"aws": {"region": "us-west-1"}}, "templates": [{"template_id": "a", "max_number": 2, "attributes": {"vm_type": "t3.micro", "image_id": "ami-00000000000000001"}}]}`)})
	if c.AWS.Region != "us-west-1" || len(c.Templates) != 1 || c.Templates[0].VMType != "t3.micro" {
		t.Errorf("seeds layout in JSON: %+v", *c)
	}
	c = mustLoad(t, nil, map[string]string{"HF_CONFIG_PATH": writeTemp(t, "flat.yaml", "AWS_REGION: us-west-1\nAWS_REQUEST_RETRY_ATTEMPTS: '5'\n")})
	if c.AWS.Region != "us-west-1" || c.AWS.RetryAttempts != 5 {
		t.Errorf("IBM keys in YAML: %+v", c.AWS)
	}
}

// TestFlattenedYAML: YAML whose nesting is lost (the OHFP integration
// guide's text rendering) is refused, naming the empty section and its
// keys found at the top level, rather than read as something else. An
// empty section beside unrelated keys is not flattened.
func TestFlattenedYAML(t *testing.T) {
	cases := []struct {
		yaml, field, keys string // field "": loads
	}{
		{"provider:\ntype: aws\naws:\nregion: us-east-1\nprofile: default\n", "provider", "type, aws"},
		{"provider:\n  aws: {region: us-east-1}\nlogging:\nlevel: DEBUG\nconsole_enabled: true\n", "logging", "level, console_enabled"},
		{"provider:\n  aws: {region: us-east-1}\ncaching:\nenabled: true\ntemplate_cache_ttl: 300\n", "caching", "enabled, template_cache_ttl"},
		{"provider:\n  aws: {region: us-east-1}\ntemplates:\n- template_id: a\nmax_number: 1\nattributes:\nvm_type: t3.micro\n", "templates", "max_number, attributes, vm_type"},
		{"provider:\n  aws: {region: us-east-1}\nlogging:\nextra: 1\n", "", ""},
		{"provider:\n  aws: {region: us-east-1}\nlogging:\n  level: DEBUG\n", "", ""},
	}
	for _, c := range cases {
		_, err := Load(envOf(map[string]string{"HF_CONFIG_PATH": writeTemp(t, "config.yml", c.yaml), "HF_PROVIDER_WORKDIR": t.TempDir()}))
		var fe *fault.Error
		switch {
		case c.field == "" && err != nil:
			t.Errorf("%q: %v", c.yaml, err)
		case c.field != "" && (!errors.As(err, &fe) || fe.Details["field"] != c.field || !strings.Contains(fe.Message, c.keys)):
			t.Errorf("%q: %v, want %s refused with %s", c.yaml, err, c.field, c.keys)
		}
	}
}

func writeTemp(t *testing.T, name, content string) string {
	dir := t.TempDir()
	write(t, dir, map[string]string{name: content})
	return filepath.Join(dir, name)
}

func TestLogSizes(t *testing.T) {
	for in, want := range map[string]int64{`100`: 100 << 20, `"100MB"`: 100 << 20, `"512kb"`: 512 << 10, `"1 GiB"`: 1 << 30, `"1.5M"`: 3 << 19, `"4096B"`: 4096} {
		c := mustLoad(t, map[string]string{"awsprov_config.json": `{"AWS_REGION": "us-east-1", "OHFP_LOG_MAX_SIZE_MB": ` + in + `}`}, nil)
		if c.Logging.MaxSize != want {
			t.Errorf("%s: %d bytes, want %d", in, c.Logging.MaxSize, want)
		}
	}
}

func TestYAMLCache(t *testing.T) {
	conf, work := t.TempDir(), t.TempDir()
	write(t, conf, map[string]string{"config.yml": "provider: {aws: {region: us-east-1}}\n"})
	env := envOf(map[string]string{"HF_PROVIDER_CONFDIR": conf, "HF_PROVIDER_WORKDIR": work})
	if _, err := Load(env); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(work, yamlCacheName+".aws")
	raw, err := os.ReadFile(cache)
	if err != nil {
		t.Fatal(err)
	}
	key, body, _ := strings.Cut(string(raw), "\n")
	if body != `{"provider":{"aws":{"region":"us-east-1"}}}` {
		t.Fatalf("cached %q", body)
	}

	// While the YAML is unchanged the cache is what is read...
	write(t, work, map[string]string{yamlCacheName + ".aws": key + "\n" + `{"provider":{"aws":{"region":"eu-west-3"}}}`})
	if c, err := Load(env); err != nil || c.AWS.Region != "eu-west-3" {
		t.Fatalf("cache not used: %v", err)
	}
	// ...unless it is damaged,
	write(t, work, map[string]string{yamlCacheName + ".aws": key + "\n" + `{"provider":`})
	if c, err := Load(env); err != nil || c.AWS.Region != "us-east-1" {
		t.Fatalf("damaged cache used: %v", err)
	}
	// and an edit of the YAML is seen at once.
	write(t, conf, map[string]string{"config.yml": "provider: {aws: {region: ap-east-1}}\n"})
	if c, err := Load(env); err != nil || c.AWS.Region != "ap-east-1" {
		t.Fatalf("stale cache used: %v", err)
	}
	if entries, _ := os.ReadDir(work); len(entries) != 1 {
		t.Errorf("work folder holds %d entries, want only the cache", len(entries))
	}

	// Caching off keeps no cache, and reads none.
	write(t, conf, map[string]string{"config.yml": "provider: {aws: {region: ap-east-1}}\ncaching: {enabled: false}\n"})
	if c, err := Load(env); err != nil || !c.Caching.Off {
		t.Fatalf("caching off: %+v %v", c.Caching, err)
	}
	if _, err := os.Stat(cache); err == nil {
		t.Error("caching off: the cache is kept")
	}
	// A config_cache_ttl renews a cache older than it, and leaves a younger one.
	write(t, conf, map[string]string{"config.yml": "provider: {aws: {region: ap-east-1}}\ncaching: {config_cache_ttl: 600}\n"})
	if _, err := Load(env); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		age     time.Duration
		renewed bool
	}{{time.Minute, false}, {11 * time.Minute, true}} {
		old := time.Now().Add(-c.age)
		if err := os.Chtimes(cache, old, old); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(env); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(cache)
		if err != nil || fi.ModTime().After(old.Add(time.Second)) != c.renewed {
			t.Errorf("cache %v old: renewed %v, want %v (%v)", c.age, fi.ModTime().After(old), c.renewed, err)
		}
	}

	// A work folder that cannot be written only means no cache.
	env = envOf(map[string]string{"HF_PROVIDER_CONFDIR": conf, "HF_PROVIDER_WORKDIR": filepath.Join(work, "missing")})
	if c, err := Load(env); err != nil || c.AWS.Region != "ap-east-1" {
		t.Fatalf("without a cache: %v", err)
	}
}

// TestLocateLSF runs Load with only the environment LSF's ebrokerd sets,
// as IBM's plugins read it: the JSON files in $PRO_CONF_DIR/conf, state
// under $PRO_DATA_DIR, logs in $PRO_LSF_LOGDIR.
func TestLocateLSF(t *testing.T) {
	root := t.TempDir()
	write(t, root, map[string]string{
		"lsf/conf/resource_connector/aws/conf/awsprov_config.json":    minimalConfig,
		"lsf/conf/resource_connector/aws/conf/awsprov_templates.json": `{"templates": [{"templateId": "lsf-1", "maxNumber": 2, "imageId": "ami-0123456789abcdef0", "vmType": "t3.micro"}, {"templateId": "own", "maxNumber": 1, "imageId": "ami-0123456789abcdef0", "vmType": "t3.micro", "userDataScript": "mine.sh"}]}`,
		"lsf/conf/resource_connector/awsb/conf/awsbprov_config.json":  `{"AWS_REGION": "eu-west-1", "OHFP_SCHEDULER": "symphony"}`,
		"lsf/10.1/resource_connector/aws/scripts/user_data.sh":        "#!/bin/sh\n%EXPORT_USER_DATA%\n",
		"lsf/conf/resource_connector/aws/conf/mine.sh":                "#!/bin/sh\n",
		"hf/awsprov_config.json":                                      minimalConfig,
	})
	p := func(rel string) string { return filepath.Join(root, rel) }
	host, _ := os.Hostname()
	lsfEnv := func(name string, extra map[string]string) map[string]string {
		e := map[string]string{
			"PROVIDER_NAME":  name,
			"PRO_CONF_DIR":   p("lsf/conf/resource_connector/" + name),
			"PRO_DATA_DIR":   p("lsf/work/cluster1/resource_connector"),
			"PRO_LSF_LOGDIR": p("lsf/log"),
			"PRO_LSF_TOP":    p("lsf"),
			"SCRIPT_OPTIONS": "-Xmx512m -DclusterName=cluster1",
		}
		maps.Copy(e, extra)
		return e
	}
	tests := []struct {
		name                string
		env                 map[string]string
		conf, work, logFile string
		scheduler           Scheduler
		cluster             string
		userData            []string // of each template, in order
	}{
		{"LSF environment", lsfEnv("aws", map[string]string{"OHFP_SCRIPT_DIR": p("lsf/10.1/resource_connector/aws/scripts")}),
			p("lsf/conf/resource_connector/aws/conf"), p("lsf/work/cluster1/resource_connector/aws"), p("lsf/log/aws-ohfp.log." + host),
			SchedulerLSF, "cluster1", []string{p("lsf/10.1/resource_connector/aws/scripts/user_data.sh"), p("lsf/conf/resource_connector/aws/conf/mine.sh")}},
		{"no user_data.sh in the scripts folder", lsfEnv("aws", map[string]string{"OHFP_SCRIPT_DIR": p("hf")}),
			p("lsf/conf/resource_connector/aws/conf"), p("lsf/work/cluster1/resource_connector/aws"), p("lsf/log/aws-ohfp.log." + host),
			SchedulerLSF, "cluster1", []string{"", p("lsf/conf/resource_connector/aws/conf/mine.sh")}},
		{"PRO_LSF_TOP alone", map[string]string{"PRO_LSF_TOP": p("lsf")},
			p("lsf/conf/resource_connector/aws/conf"), p("lsf/conf/resource_connector/aws/conf"), p("lsf/conf/resource_connector/aws/conf/aws-ohfp.log." + host),
			SchedulerLSF, "", []string{"", p("lsf/conf/resource_connector/aws/conf/mine.sh")}},
		{"the file says symphony", lsfEnv("awsb", map[string]string{"OHFP_SCRIPT_DIR": p("lsf/10.1/resource_connector/aws/scripts")}),
			p("lsf/conf/resource_connector/awsb/conf"), p("lsf/work/cluster1/resource_connector/awsb"), p("lsf/log/ohfp.log"),
			SchedulerSymphony, "cluster1", nil},
		{"HostFactory's variables win", lsfEnv("aws", map[string]string{"HF_PROVIDER_CONFDIR": p("hf"), "HF_PROVIDER_WORKDIR": p("hfw"), "HF_PROVIDER_LOGDIR": p("hfl")}),
			p("hf"), p("hfw"), p("hfl/aws-ohfp.log." + host), SchedulerLSF, "cluster1", nil},
		{"Symphony", map[string]string{"HF_PROVIDER_CONFDIR": p("hf"), "OHFP_SCRIPT_DIR": p("lsf/10.1/resource_connector/aws/scripts")},
			p("hf"), p("hf"), p("hf/ohfp.log"), SchedulerSymphony, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(envOf(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			got := []string{c.ConfDir, c.WorkDir, c.Logging.FilePath, string(c.Scheduler), c.ClusterName}
			want := []string{tt.conf, tt.work, tt.logFile, string(tt.scheduler), tt.cluster}
			if !slices.Equal(got, want) {
				t.Errorf("conf, work, log file, scheduler, cluster\n got %q\nwant %q", got, want)
			}
			if c.Storage.Path != filepath.Join(tt.work, "ohfp.db") {
				t.Errorf("store %s", c.Storage.Path)
			}
			var scripts []string
			for _, tp := range c.Templates {
				scripts = append(scripts, tp.UserDataScript)
			}
			if tt.userData != nil && !slices.Equal(scripts, tt.userData) {
				t.Errorf("userDataScript\n got %q\nwant %q", scripts, tt.userData)
			}
		})
	}
}

func TestClusterName(t *testing.T) {
	for opts, want := range map[string]string{
		"":                                    "",
		"-DclusterName=c1":                    "c1",
		"-Xmx1g -DclusterName=lsf_prod -Dx=y": "lsf_prod",
		"clusterName=bare":                    "bare",
		"-Dother=1":                           "",
	} {
		if got := lsf.ClusterName(opts); got != want {
			t.Errorf("ClusterName(%q) = %q, want %q", opts, got, want)
		}
	}
}

// The SQLite path is a guess only when neither the environment names a
// work folder nor the config an absolute path; ohfp then opens no store.
func TestStorePathGuessed(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		env     map[string]string
		config  string
		guessed bool
	}{
		{map[string]string{}, minimalConfig, true},
		{map[string]string{"HF_PROVIDER_WORKDIR": dir}, minimalConfig, false},
		{map[string]string{"HF_WORKDIR": dir}, minimalConfig, false},
		{map[string]string{}, `{"AWS_REGION": "us-east-1", "OHFP_SQLITE_PATH": "state/ohfp.db"}`, true},
		{map[string]string{}, `{"AWS_REGION": "us-east-1", "OHFP_SQLITE_PATH": "/var/lib/ohfp/awsinst.db"}`, false},
	} {
		got := mustLoad(t, map[string]string{"awsprov_config.json": c.config}, c.env)
		if got.Storage.Guessed != c.guessed {
			t.Errorf("env %v config %s: guessed %v", c.env, c.config, got.Storage.Guessed)
		}
	}
}

// TestCredentialScriptSetting: the script is anchored in the conf folder,
// its cache lives in the work folder, and it wins over a credentials file,
// which is reported as not used.
func TestCredentialScriptSetting(t *testing.T) {
	c := mustLoad(t, map[string]string{"awsprov_config.json": `{"AWS_REGION": "us-east-1", "AWS_CREDENTIAL_SCRIPT": "fed.sh", "AWS_CREDENTIAL_RENEW_MARGIN": 600, "AWS_CREDENTIAL_FILE": "credentials"}`}, nil)
	if c.AWS.CredentialScript != filepath.Join(c.ConfDir, "fed.sh") || c.AWS.CredentialCache != filepath.Join(c.WorkDir, "ohfp-credentials") ||
		c.AWS.CredentialRenewMargin != 10*time.Minute {
		t.Errorf("script %s, cache %s, margin %v", c.AWS.CredentialScript, c.AWS.CredentialCache, c.AWS.CredentialRenewMargin)
	}
	if !slices.Contains(c.Ignored, "awsprov_config.json: AWS_CREDENTIAL_FILE (AWS_CREDENTIAL_SCRIPT is used)") {
		t.Errorf("ignored %q", c.Ignored)
	}
}
