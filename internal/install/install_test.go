package install_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/install"
)

// loadInstance reads the written instance the way the scripts will.
func loadInstance(t *testing.T, res *install.Result, name string) *config.Config {
	t.Helper()
	env := map[string]string{"HF_PROVIDER_NAME": name, "HF_PROVIDER_CONFDIR": res.ConfDir, "HF_PROVIDER_WORKDIR": res.WorkDir, "HF_PROVIDER_LOGDIR": res.LogDir}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestInitWritesARunnableInstance(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(t.TempDir(), "fake-ohfp")
	if err := os.WriteFile(bin, []byte("binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	res, err := install.Init(install.Options{Name: "awsinst", Region: "eu-west-1", Dir: dir, Binary: bin, EndpointURL: "http://127.0.0.1:9"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := loadInstance(t, res, "awsinst")
	if cfg.AWS.Region != "eu-west-1" || cfg.AWS.EndpointURL != "http://127.0.0.1:9" || len(cfg.Templates) != 1 || len(cfg.Ignored) != 0 {
		t.Errorf("config read back: region %q endpoint %q templates %d ignored %v", cfg.AWS.Region, cfg.AWS.EndpointURL, len(cfg.Templates), cfg.Ignored)
	}
	if tpl := cfg.Templates[0]; tpl.ImageID != install.StarterImage || tpl.VMType == "" {
		t.Errorf("starter template %+v", tpl)
	}
	for _, op := range []string{"getAvailableTemplates", "requestMachines", "getRequestStatus", "requestReturnMachines", "getReturnRequests"} {
		st, err := os.Stat(filepath.Join(res.ScriptDir, op+".sh"))
		if err != nil || st.Mode().Perm()&0o111 == 0 {
			t.Errorf("script %s: %v %v", op, st, err)
		}
	}
	// The scripts are the repository's own, the one they share included.
	_, here, _, _ := runtime.Caller(0)
	for _, name := range []string{"requestMachines.sh", "invoke_provider.sh"} {
		want, _ := os.ReadFile(filepath.Join(filepath.Dir(here), "..", "..", "scripts", name))
		if got, _ := os.ReadFile(filepath.Join(res.ScriptDir, name)); len(want) == 0 || string(got) != string(want) {
			t.Errorf("%s differs from scripts/%s:\n%s\nwant\n%s", name, name, got, want)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(res.ScriptDir, "ohfp")); string(got) != "binary" {
		t.Errorf("binary copy holds %q", got)
	}

	var providers struct {
		Version   int
		Providers []map[string]any
	}
	var plugins struct {
		Version         int
		ProviderPlugins []map[string]any `json:"providerplugins"`
	}
	if err := json.Unmarshal(res.HostProviders, &providers); err != nil || providers.Version != 2 || len(providers.Providers) != 1 {
		t.Fatalf("hostProviders entry %s: %v", res.HostProviders, err)
	}
	p := providers.Providers[0]
	if p["name"] != "awsinst" || p["plugin"] != install.PluginName("awsinst") || p["enabled"] != 1.0 || p["confPath"] != res.ConfDir+"/" || p["workPath"] != res.WorkDir+"/" || p["logPath"] != res.LogDir+"/" {
		t.Errorf("hostProviders entry %v", p)
	}
	if err := json.Unmarshal(res.HostProviderPlugins, &plugins); err != nil || plugins.Version != 2 || len(plugins.ProviderPlugins) != 1 ||
		plugins.ProviderPlugins[0]["name"] != install.PluginName("awsinst") || plugins.ProviderPlugins[0]["scriptPath"] != res.ScriptDir+"/" {
		t.Errorf("hostProviderPlugins entry %s: %v", res.HostProviderPlugins, err)
	}
}

// TestInitKeepsExistingFiles: a second init keeps what the administrator
// edited, applies --region and --endpoint-url to the existing config, and
// replaces everything only with --force.
func TestInitKeepsExistingFiles(t *testing.T) {
	dir := t.TempDir()
	opts := install.Options{Name: "awsinst", Region: "us-east-1", Dir: dir}
	first, err := install.Init(opts)
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "conf", "awsinstprov_config.json")
	tplPath := filepath.Join(dir, "conf", "awsinstprov_templates.json")
	must(t, os.WriteFile(cfgPath, []byte(`{"AWS_REGION": "us-west-2", "LogLevel": "DEBUG"}`), 0o600))
	must(t, os.Chmod(cfgPath, 0o600))
	must(t, os.WriteFile(tplPath, []byte(`{"templates": []}`), 0o644))

	opts.EndpointURL = "http://127.0.0.1:8787"
	res, err := install.Init(opts)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	raw, _ := os.ReadFile(cfgPath)
	must(t, json.Unmarshal(raw, &cfg))
	if cfg["AWS_REGION"] != "us-east-1" || cfg["AWS_ENDPOINT_URL"] != "http://127.0.0.1:8787" || cfg["LogLevel"] != "DEBUG" {
		t.Errorf("pointed config holds %v", cfg)
	}
	if st, _ := os.Stat(cfgPath); st.Mode().Perm() != 0o600 {
		t.Errorf("pointed config has mode %v, want the 0600 it had", st.Mode().Perm())
	}
	if !slices.Equal(res.Updated, []string{cfgPath}) || !slices.Contains(res.Kept, tplPath) || len(res.Written) != 0 {
		t.Errorf("updated %v, kept %v, written %v", res.Updated, res.Kept, res.Written)
	}
	if b, _ := os.ReadFile(tplPath); string(b) != `{"templates": []}` {
		t.Errorf("second init replaced the templates: %s", b)
	}

	opts.Force = true
	again, err := install.Init(opts)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(cfgPath); strings.Contains(string(b), "DEBUG") {
		t.Fatal("--force did not overwrite")
	}
	// The installation id stays: the running instances carry it.
	if first.InstallationID == "" || again.InstallationID != first.InstallationID {
		t.Fatalf("installation id %q became %q", first.InstallationID, again.InstallationID)
	}
}

// TestInitInstancesDoNotClash: two instances on one host (the HA guide's
// awseast and awswest) get plugin entries of their own.
func TestInitInstancesDoNotClash(t *testing.T) {
	root := t.TempDir()
	var names, paths []string
	for _, name := range []string{"awseast", "awswest"} {
		res, err := install.Init(install.Options{Name: name, Region: "us-east-1", Dir: filepath.Join(root, name)})
		if err != nil {
			t.Fatal(err)
		}
		var plugins struct {
			ProviderPlugins []map[string]any `json:"providerplugins"`
		}
		must(t, json.Unmarshal(res.HostProviderPlugins, &plugins))
		names = append(names, plugins.ProviderPlugins[0]["name"].(string))
		paths = append(paths, plugins.ProviderPlugins[0]["scriptPath"].(string))
	}
	if names[0] == names[1] || paths[0] == paths[1] {
		t.Errorf("plugin entries clash: names %v, script paths %v", names, paths)
	}
}

// TestInitOwner gives the folder to --owner.
func TestInitOwner(t *testing.T) {
	want, name := os.Getuid(), strconv.Itoa(os.Getuid())
	if want == 0 {
		u, err := user.Lookup("nobody")
		if err != nil {
			t.Fatal(err)
		}
		want, _ = strconv.Atoi(u.Uid)
		name = "nobody"
	}
	dir := t.TempDir()
	res, err := install.Init(install.Options{Name: "awsinst", Region: "us-east-1", Dir: dir, Owner: name})
	if err != nil {
		t.Fatal(err)
	}
	if res.Chown != "" {
		t.Errorf("with --owner, init still asks for %q", res.Chown)
	}
	for _, p := range append([]string{res.WorkDir, res.LogDir}, res.Written...) {
		st, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		if uid := int(st.Sys().(*syscall.Stat_t).Uid); uid != want {
			t.Errorf("%s is owned by %d, want %d", p, uid, want)
		}
	}
	if _, err := install.Init(install.Options{Name: "x", Region: "us-east-1", Dir: t.TempDir(), Owner: "no-such-user-ohfp"}); err == nil {
		t.Error("an unknown --owner was accepted")
	}
}

func TestInitFromIBM(t *testing.T) {
	ibm := t.TempDir()
	_, here, _, _ := runtime.Caller(0)
	examples := filepath.Join(filepath.Dir(here), "..", "..", "examples", "ibm")
	var settings map[string]any
	raw, _ := os.ReadFile(filepath.Join(examples, "awsprov_config.json"))
	if err := json.Unmarshal(raw, &settings); err != nil {
		t.Fatal(err)
	}
	settings["ACCEPT_PROPAGATED_LOG_SETTING"] = true
	settings["AWS_KEY_FILE"] = "hf-key.pem"
	b, _ := json.Marshal(settings)
	must(t, os.WriteFile(filepath.Join(ibm, "awsprov_config.json"), b, 0o644))
	for _, f := range []string{"awsprov_templates.json", "user_data.sh"} {
		b, err := os.ReadFile(filepath.Join(examples, f))
		must(t, err)
		must(t, os.WriteFile(filepath.Join(ibm, f), b, 0o644))
	}

	res, err := install.Init(install.Options{Name: "awsinst", FromIBM: ibm, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	cfg := loadInstance(t, res, "awsinst")
	if cfg.AWS.Region != "us-east-1" || len(cfg.Templates) != 3 {
		t.Errorf("converted instance: region %q, %d templates", cfg.AWS.Region, len(cfg.Templates))
	}
	full, _ := cfg.Template("OnDemand-Full-Template-VM")
	if full.UserDataScript != filepath.Join(res.ConfDir, "user_data.sh") {
		t.Errorf("userDataScript %q", full.UserDataScript)
	}
	if _, err := os.Stat(full.UserDataScript); err != nil {
		t.Errorf("user data script not copied: %v", err)
	}
	want := []string{"awsprov_config.json: ACCEPT_PROPAGATED_LOG_SETTING", "awsprov_config.json: AWS_KEY_FILE (ohfp signs with the credentials only)"}
	if !slices.Equal(res.NotHonoured, want) {
		t.Errorf("not honoured:\n got %q\nwant %q", res.NotHonoured, want)
	}
}

func TestInitFromIBMRefusesABrokenFolder(t *testing.T) {
	ibm := t.TempDir()
	must(t, os.WriteFile(filepath.Join(ibm, "awsprov_config.json"), []byte(`{"AWS_REGION": "us-east-1", "AWS_REQUEST_RETRY_ATTEMPTS": 99}`), 0o644))
	dir := t.TempDir()
	_, err := install.Init(install.Options{Name: "awsinst", FromIBM: ibm, Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "AWS_REQUEST_RETRY_ATTEMPTS") {
		t.Fatalf("want the bad setting named, got %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a refused init wrote %v", entries)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// lsfEnv loads an instance with only the environment LSF's ebrokerd sets.
func lsfEnv(t *testing.T, dir, name string) *config.Config {
	t.Helper()
	env := map[string]string{"PROVIDER_NAME": name, "PRO_CONF_DIR": dir, "PRO_DATA_DIR": t.TempDir(), "PRO_LSF_LOGDIR": t.TempDir(),
		"OHFP_SCRIPT_DIR": filepath.Join(dir, "scripts")}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestInitLSF lays out an LSF provider: conf/ with IBM's LSF file names,
// scripts/ with user_data.sh, no work or log folder, and the entry of
// LSF's hostProviders.json; LSF's environment finds all of it.
func TestInitLSF(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ohfp")
	res, err := install.Init(install.Options{Name: "aws", Region: "us-east-1", Dir: dir, LSF: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"conf/awsprov_config.json", "conf/awsprov_templates.json", "scripts/user_data.sh", "scripts/requestMachines.sh"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	for _, d := range []string{"work", "log"} {
		if _, err := os.Stat(filepath.Join(dir, d)); err == nil {
			t.Errorf("%s/ written: LSF gives that folder", d)
		}
	}
	want := `{"providers":[{"name":"aws","type":"awsProv","confPath":"` + dir + `","scriptPath":"` + dir + `"}]}`
	var got bytes.Buffer
	if err := json.Compact(&got, res.HostProviders); err != nil || got.String() != want || res.HostProviderPlugins != nil {
		t.Errorf("hostProviders.json entry %s (plugins %s), want %s", res.HostProviders, res.HostProviderPlugins, want)
	}
	cfg := lsfEnv(t, dir, "aws")
	if !cfg.LSF() || len(cfg.Templates) != 1 || cfg.Templates[0].UserDataScript != filepath.Join(dir, "scripts", "user_data.sh") ||
		cfg.Templates[0].Attributes["awshost"] != (config.Attribute{Kind: "Boolean", Value: "1"}) {
		t.Errorf("as LSF reads it: scheduler %s, templates %+v", cfg.Scheduler, cfg.Templates)
	}
	if os.Geteuid() == 0 && !strings.HasPrefix(res.Chown, "chown -R <lsf-admin>: ") {
		t.Errorf("run as root, init asks for %q; want the LSF administrator", res.Chown)
	}
}

// TestInitLSFFromIBM carries over an IBM LSF AWS plugin folder, given as
// the provider's confPath (holding conf/): the files keep IBM's LSF names,
// the config says LSF, and the templates read as under LSF.
func TestInitLSFFromIBM(t *testing.T) {
	ibm := filepath.Join(t.TempDir(), "aws")
	must(t, os.MkdirAll(filepath.Join(ibm, "conf"), 0o755))
	must(t, os.WriteFile(filepath.Join(ibm, "conf", "awsprov_config.json"), []byte(`{"LogLevel": "INFO", "AWS_REGION": "us-west-2", "AWS_KEY_FILE": "/home/aws/key.pem"}`), 0o644))
	must(t, os.WriteFile(filepath.Join(ibm, "conf", "awsprov_templates.json"), []byte(`{"templates": [
		{"templateId": "Template-VM-1", "maxNumber": 2, "attributes": {"type": ["String", "X86_64"], "ncpus": ["Numeric", "1"], "mem": ["Numeric", "1024"], "awshost": ["Boolean", "1"]},
		 "imageId": "ami-0123456789abcdef0", "subnetId": "subnet-0123456789abcdef0", "vmType": "t3.micro,t3.small", "spotPrice": 0.1, "instanceTags": "group=project1", "userData": "zone=us_west_2a"},
		{"templateId": "Template-Fleet", "maxNumber": 2, "imageId": "ami-0123456789abcdef0", "vmType": "t3.micro", "ec2FleetConfig": "fleet.json"}]}`), 0o644))
	dir := t.TempDir()
	res, err := install.Init(install.Options{Name: "aws", FromIBM: ibm, Dir: dir, LSF: true})
	if err != nil {
		t.Fatal(err)
	}
	cfg := lsfEnv(t, dir, "aws")
	if cfg.AWS.Region != "us-west-2" || len(cfg.Templates) != 1 {
		t.Fatalf("region %s, templates %v, rejected %v", cfg.AWS.Region, cfg.TemplateIDs(), cfg.Rejected)
	}
	if tp := cfg.Templates[0]; tp.PriceType != config.PriceSpot || len(tp.VMTypes) != 2 {
		t.Errorf("template read as under LSF: %+v", tp)
	}
	// A template ohfp refuses under LSF is named with its reason.
	if !slices.Contains(res.NotHonoured, "awsprov_config.json: AWS_KEY_FILE (ohfp signs with the credentials only)") ||
		!slices.ContainsFunc(res.NotHonoured, func(s string) bool {
			return strings.HasPrefix(s, "template Template-Fleet left out: awsprov_templates.json: templates[1].ec2FleetConfig: not supported under LSF")
		}) {
		t.Errorf("not honoured: %q", res.NotHonoured)
	}
}

// TestInitFromIBMFolderHoldingConf: a Symphony provider folder that keeps
// its JSON files in conf/ is taken as LSF's is.
func TestInitFromIBMFolderHoldingConf(t *testing.T) {
	ibm := filepath.Join(t.TempDir(), "awsinst")
	must(t, os.MkdirAll(filepath.Join(ibm, "conf"), 0o755))
	_, here, _, _ := runtime.Caller(0)
	examples := filepath.Join(filepath.Dir(here), "..", "..", "examples", "ibm")
	for _, f := range []string{"awsprov_config.json", "awsprov_templates.json", "user_data.sh"} {
		b, err := os.ReadFile(filepath.Join(examples, f))
		must(t, err)
		must(t, os.WriteFile(filepath.Join(ibm, "conf", f), b, 0o644))
	}
	res, err := install.Init(install.Options{Name: "awsinst", FromIBM: ibm, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if cfg := loadInstance(t, res, "awsinst"); len(cfg.Templates) != 3 {
		t.Errorf("converted instance: %d templates", len(cfg.Templates))
	}
}
